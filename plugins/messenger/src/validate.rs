//! Messenger's own content rules and message options. The host already enforces the manifest
//! limits (counts, media types and sizes, carousel images and buttons); these are the rules
//! only the Send API knows, each reported with a code and a JSON field path.

use switchboard_plugin_sdk::prelude::*;

/// Commonly used Send API text limit (640 in old Send API docs, 2000 in practice).
pub const MAX_TEXT_CHARS: usize = 2000;
/// A button template's text is capped lower than a plain text message.
pub const MAX_BUTTON_TEMPLATE_TEXT_CHARS: usize = 640;
pub const MAX_CAROUSEL_ELEMENTS: usize = 10;
pub const MAX_ELEMENT_TITLE_CHARS: usize = 80;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
pub const MAX_QUICK_REPLIES: usize = 13;
pub const MAX_QUICK_REPLY_TITLE_CHARS: usize = 20;
pub const MAX_PAYLOAD_CHARS: usize = 1000;

pub const MESSAGING_TYPES: &[&str] = &["RESPONSE", "UPDATE", "MESSAGE_TAG"];
/// Every tag the Send API knows; which of them a connection may use is its `allowed_tags`.
pub const KNOWN_TAGS: &[&str] = &[
    "HUMAN_AGENT",
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
];
pub const OPTION_KEYS: &[&str] = &["messaging_type", "tag"];

/// `messaging_type` and `tag` from `msg.options`, as given (upper-cased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub messaging_type: Option<String>,
    pub tag: Option<String>,
}

impl Options {
    pub fn from_message(msg: &Message) -> Self {
        let get = |key: &str| {
            msg.options
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_ascii_uppercase())
                .filter(|v| !v.is_empty())
        };
        Options {
            messaging_type: get("messaging_type"),
            tag: get("tag"),
        }
    }

    /// The type to send: as given, MESSAGE_TAG when only a tag is given, else RESPONSE.
    pub fn effective_type(&self) -> &str {
        match (&self.messaging_type, &self.tag) {
            (Some(t), _) => t,
            (None, Some(_)) => "MESSAGE_TAG",
            (None, None) => "RESPONSE",
        }
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn too_long(v: &mut Vec<Violation>, field: String, s: &str, max: usize) {
    if chars(s) > max {
        v.push(Violation::new(
            "too_long",
            &field,
            format!("{} characters; the limit is {max}", chars(s)),
        ));
    }
}

fn is_http_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")) && url.len() > 8
}

/// Every violation of `msg`; `allowed_tags` is the tag list to check `options.tag` against.
pub fn violations(msg: &Message, allowed_tags: &[String]) -> Vec<Violation> {
    let mut v = Vec::new();
    if msg.to.psid.as_deref().is_none_or(|p| p.trim().is_empty()) {
        v.push(Violation::new(
            "required",
            "to.psid",
            "a Messenger message needs the recipient's page-scoped id",
        ));
    }
    options(msg, allowed_tags, &mut v);
    content(&msg.content, &mut v);
    v
}

fn options(msg: &Message, allowed_tags: &[String], v: &mut Vec<Violation>) {
    for (key, _) in &msg.options {
        if !OPTION_KEYS.contains(&key.as_str()) {
            v.push(Violation::new(
                "unknown_option",
                &format!("options.{key}"),
                format!("Messenger options are {}", OPTION_KEYS.join(", ")),
            ));
        }
    }
    let opts = Options::from_message(msg);
    if let Some(t) = &opts.messaging_type
        && !MESSAGING_TYPES.contains(&t.as_str())
    {
        v.push(Violation::new(
            "invalid_value",
            "options.messaging_type",
            format!("{t} is not one of {}", MESSAGING_TYPES.join(", ")),
        ));
    }
    match (opts.effective_type(), &opts.tag) {
        ("MESSAGE_TAG", None) => v.push(Violation::new(
            "required",
            "options.tag",
            "messaging_type MESSAGE_TAG needs a tag",
        )),
        ("RESPONSE" | "UPDATE", Some(_)) => v.push(Violation::new(
            "invalid_combination",
            "options.tag",
            "a tag is only sent with messaging_type MESSAGE_TAG",
        )),
        _ => {}
    }
    if let Some(tag) = &opts.tag
        && !allowed_tags.iter().any(|t| t == tag)
    {
        v.push(Violation::new(
            "not_allowed",
            "options.tag",
            format!("tag {tag} is not one of {}", allowed_tags.join(", ")),
        ));
    }
}

fn content(c: &Content, v: &mut Vec<Violation>) {
    let text = c.text.as_deref().unwrap_or("");
    let has_text = !text.trim().is_empty();
    if !has_text && c.media.is_empty() && c.carousel.is_empty() {
        v.push(Violation::new(
            "required",
            "content.text",
            "a message needs text, an attachment or a carousel",
        ));
    }
    too_long(v, "content.text".into(), text, MAX_TEXT_CHARS);
    if !c.media.is_empty() && !c.carousel.is_empty() {
        v.push(Violation::new(
            "unsupported",
            "content.media",
            "a message carries either an attachment or a carousel, not both",
        ));
    }
    if c.subject.as_deref().is_some_and(|s| !s.is_empty()) {
        v.push(Violation::new(
            "unsupported",
            "content.subject",
            "Messenger messages have no subject",
        ));
    }
    if c.template.is_some() {
        v.push(Violation::new(
            "unsupported",
            "content.template",
            "Messenger has no registered templates",
        ));
    }
    for (i, m) in c.media.iter().enumerate() {
        if !is_http_url(&m.url) {
            v.push(Violation::new(
                "invalid_format",
                &format!("content.media[{i}].url"),
                "Messenger fetches attachments from an http(s) URL",
            ));
        }
    }
    if !c.buttons.is_empty() {
        if !c.media.is_empty() || !c.carousel.is_empty() || !has_text {
            v.push(Violation::new(
                "unsupported",
                "content.buttons",
                "buttons go under text only (a button template); carousel elements carry their own",
            ));
        }
        too_long(
            v,
            "content.text".into(),
            if chars(text) > MAX_TEXT_CHARS {
                ""
            } else {
                text
            },
            MAX_BUTTON_TEMPLATE_TEXT_CHARS,
        );
        buttons(&c.buttons, "content.buttons", v);
    }
    carousel(&c.carousel, v);
    quick_replies(&c.quick_replies, v);
}

fn buttons(list: &[Button], path: &str, v: &mut Vec<Violation>) {
    if list.len() > MAX_BUTTONS {
        v.push(Violation::new(
            "too_many",
            path,
            format!("{} buttons; the limit is {MAX_BUTTONS}", list.len()),
        ));
    }
    for (j, b) in list.iter().enumerate() {
        let field = format!("{path}[{j}]");
        if b.title.trim().is_empty() {
            v.push(Violation::new(
                "required",
                &format!("{field}.title"),
                "a button needs a title",
            ));
        }
        too_long(
            v,
            format!("{field}.title"),
            &b.title,
            MAX_BUTTON_TITLE_CHARS,
        );
        match (&b.url, &b.payload) {
            (Some(url), _) if !is_http_url(url) => v.push(Violation::new(
                "invalid_format",
                &format!("{field}.url"),
                "a web_url button needs an http(s) URL",
            )),
            (Some(_), _) => {}
            (None, Some(p)) if !p.is_empty() => {
                too_long(v, format!("{field}.payload"), p, MAX_PAYLOAD_CHARS)
            }
            (None, _) => v.push(Violation::new(
                "required",
                &field,
                "a button needs a url (web_url) or a payload (postback)",
            )),
        }
    }
}

fn carousel(elements: &[CarouselElement], v: &mut Vec<Violation>) {
    if elements.len() > MAX_CAROUSEL_ELEMENTS {
        v.push(Violation::new(
            "too_many",
            "content.carousel",
            format!(
                "{} elements; a generic template holds at most {MAX_CAROUSEL_ELEMENTS}",
                elements.len()
            ),
        ));
    }
    for (i, e) in elements.iter().enumerate() {
        let field = format!("content.carousel[{i}]");
        if e.title.trim().is_empty() {
            v.push(Violation::new(
                "required",
                &format!("{field}.title"),
                "an element needs a title",
            ));
        }
        too_long(
            v,
            format!("{field}.title"),
            &e.title,
            MAX_ELEMENT_TITLE_CHARS,
        );
        if let Some(s) = &e.subtitle {
            too_long(v, format!("{field}.subtitle"), s, MAX_ELEMENT_TITLE_CHARS);
        }
        if let Some(url) = &e.image_url
            && !is_http_url(url)
        {
            v.push(Violation::new(
                "invalid_format",
                &format!("{field}.image_url"),
                "image_url must be an http(s) URL",
            ));
        }
        buttons(&e.buttons, &format!("{field}.buttons"), v);
    }
}

fn quick_replies(list: &[QuickReply], v: &mut Vec<Violation>) {
    if list.len() > MAX_QUICK_REPLIES {
        v.push(Violation::new(
            "too_many",
            "content.quick_replies",
            format!(
                "{} quick replies; the limit is {MAX_QUICK_REPLIES}",
                list.len()
            ),
        ));
    }
    for (i, q) in list.iter().enumerate() {
        let field = format!("content.quick_replies[{i}]");
        if q.title.trim().is_empty() {
            v.push(Violation::new(
                "required",
                &format!("{field}.title"),
                "a quick reply needs a title",
            ));
        }
        too_long(
            v,
            format!("{field}.title"),
            &q.title,
            MAX_QUICK_REPLY_TITLE_CHARS,
        );
        if q.payload.is_empty() {
            v.push(Violation::new(
                "required",
                &format!("{field}.payload"),
                "a quick reply needs a payload",
            ));
        }
        too_long(v, format!("{field}.payload"), &q.payload, MAX_PAYLOAD_CHARS);
        if let Some(url) = &q.image_url
            && !is_http_url(url)
        {
            v.push(Violation::new(
                "invalid_format",
                &format!("{field}.image_url"),
                "image_url must be an http(s) URL",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::message;

    fn known() -> Vec<String> {
        KNOWN_TAGS.iter().map(|t| t.to_string()).collect()
    }

    fn button(title: &str) -> Button {
        Button {
            title: title.into(),
            url: None,
            payload: Some("P".into()),
        }
    }

    fn element(title: &str, buttons: usize) -> CarouselElement {
        CarouselElement {
            title: title.into(),
            subtitle: None,
            image_url: Some("https://cdn.example/x.png".into()),
            buttons: (0..buttons).map(|_| button("Buy")).collect(),
        }
    }

    fn found(v: &[Violation]) -> Vec<(String, String)> {
        v.iter()
            .map(|x| (x.code.clone(), x.field.clone()))
            .collect()
    }

    fn has(v: &[Violation], code: &str, field: &str) -> bool {
        v.iter().any(|x| x.code == code && x.field == field)
    }

    #[test]
    fn plain_text_is_valid() {
        assert!(violations(&message("hi"), &known()).is_empty());
    }

    #[test]
    fn options_each_give_their_violation() {
        let mut m = message("hi");
        m.options = vec![
            ("priority".into(), "high".into()),
            ("messaging_type".into(), "PUSH".into()),
        ];
        let v = violations(&m, &known());
        assert!(
            has(&v, "unknown_option", "options.priority"),
            "{:?}",
            found(&v)
        );
        assert!(has(&v, "invalid_value", "options.messaging_type"));

        m.options = vec![("messaging_type".into(), "MESSAGE_TAG".into())];
        assert_eq!(
            found(&violations(&m, &known())),
            [("required".into(), "options.tag".into())]
        );

        m.options = vec![
            ("messaging_type".into(), "MESSAGE_TAG".into()),
            ("tag".into(), "ACCOUNT_UPDATE".into()),
        ];
        let only_human = vec!["HUMAN_AGENT".to_string()];
        assert_eq!(
            found(&violations(&m, &only_human)),
            [("not_allowed".into(), "options.tag".into())]
        );
        assert!(violations(&m, &known()).is_empty());

        m.options = vec![
            ("messaging_type".into(), "RESPONSE".into()),
            ("tag".into(), "HUMAN_AGENT".into()),
        ];
        assert_eq!(
            found(&violations(&m, &known())),
            [("invalid_combination".into(), "options.tag".into())]
        );

        // A tag alone implies MESSAGE_TAG.
        m.options = vec![("tag".into(), "human_agent".into())];
        assert!(violations(&m, &known()).is_empty());
        assert_eq!(Options::from_message(&m).effective_type(), "MESSAGE_TAG");
    }

    #[test]
    fn missing_psid_and_empty_content() {
        let mut m = message("");
        m.to.psid = None;
        assert_eq!(
            found(&violations(&m, &known())),
            [
                ("required".into(), "to.psid".into()),
                ("required".into(), "content.text".into())
            ]
        );
    }

    #[test]
    fn carousel_rules_name_the_element() {
        let mut m = message("");
        m.content.carousel = (0..11).map(|_| element("Shoe", 1)).collect();
        m.content.carousel[2] = element("Shoe", 4);
        m.content.carousel[3] = element(&"x".repeat(81), 1);
        m.content.carousel[4].subtitle = Some("y".repeat(81));
        m.content.carousel[5].buttons[0] = Button {
            title: "a very long button title".into(),
            url: None,
            payload: Some("p".into()),
        };
        m.content.carousel[6].buttons[0] = Button {
            title: "Go".into(),
            url: None,
            payload: None,
        };
        m.content.carousel[7].buttons[0] = Button {
            title: "Go".into(),
            url: Some("ftp://x".into()),
            payload: None,
        };
        let v = violations(&m, &known());
        for (code, field) in [
            ("too_many", "content.carousel"),
            ("too_many", "content.carousel[2].buttons"),
            ("too_long", "content.carousel[3].title"),
            ("too_long", "content.carousel[4].subtitle"),
            ("too_long", "content.carousel[5].buttons[0].title"),
            ("required", "content.carousel[6].buttons[0]"),
            ("invalid_format", "content.carousel[7].buttons[0].url"),
        ] {
            assert!(has(&v, code, field), "{code} {field}: {:?}", found(&v));
        }
        assert_eq!(v.len(), 7, "{:?}", found(&v));
        m.content.carousel.truncate(2);
        m.content.carousel[0] = element(&"x".repeat(80), 3);
        assert!(violations(&m, &known()).is_empty());
    }

    #[test]
    fn quick_reply_rules() {
        let mut m = message("pick one");
        m.content.quick_replies = (0..14)
            .map(|i| QuickReply {
                title: format!("Option {i}"),
                payload: format!("P{i}"),
                image_url: None,
            })
            .collect();
        m.content.quick_replies[1].title = "x".repeat(21);
        m.content.quick_replies[2].payload = String::new();
        let v = violations(&m, &known());
        assert_eq!(
            found(&v),
            [
                ("too_many".into(), "content.quick_replies".into()),
                ("too_long".into(), "content.quick_replies[1].title".into()),
                ("required".into(), "content.quick_replies[2].payload".into()),
            ]
        );
    }

    #[test]
    fn content_combinations() {
        let mut m = message(&"x".repeat(2001));
        m.content.subject = Some("s".into());
        m.content.media.push(Media {
            kind: MediaKind::Image,
            url: "data:x".into(),
            mime_type: "image/png".into(),
            size: 1,
        });
        m.content.carousel.push(element("Shoe", 1));
        m.content.buttons.push(button("Ok"));
        let v = violations(&m, &known());
        for (code, field) in [
            ("too_long", "content.text"),
            ("unsupported", "content.media"),
            ("unsupported", "content.subject"),
            ("invalid_format", "content.media[0].url"),
            ("unsupported", "content.buttons"),
        ] {
            assert!(has(&v, code, field), "{code} {field}: {:?}", found(&v));
        }
        let mut m = message(&"x".repeat(641));
        m.content.buttons.push(button("Ok"));
        assert_eq!(
            found(&violations(&m, &known())),
            [("too_long".into(), "content.text".into())]
        );
    }
}
