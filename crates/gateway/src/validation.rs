//! Content checks every channel shares, driven by the plugin's manifest.
//!
//! A plugin declares what its channel carries (`content-limits`: text and subject sizes,
//! attachment types by kind and extension with a size cap each, carousel and button counts,
//! whether carousel elements need images and buttons). The host enforces those declarations
//! here, the same way for every channel, before the plugin's own `validate` looks at the
//! channel-specific rest. Every violation has a code and a JSON field path.
//!
//! Attachments are judged twice. [`check`] looks at what the request says: a URL, and its
//! extension for the type. [`check_fetched`] looks at what the URL really serves, as
//! [`crate::media_probe`] found it: reachable, not empty, of the kind's media type, and within
//! the rule's `max_bytes` by its real length. A declared size is never trusted: intake puts
//! the real one in its place.
//!
//! A message that fails here is refused with `invalid_format` before anything is stored: it
//! costs nothing, and since it was never accepted there is nothing to resend.

use crate::media_probe::{Outcome, type_matches};
use crate::model::{Media, MediaKind, NewMessage, Violation};
use crate::runtime::bindings::wit;

fn violation(code: &str, field: String, message: String) -> Violation {
    Violation {
        code: code.into(),
        field,
        message,
    }
}

fn kind_name(k: MediaKind) -> &'static str {
    match k {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::File => "file",
    }
}

fn wit_kind(k: MediaKind) -> wit::MediaKind {
    match k {
        MediaKind::Image => wit::MediaKind::Image,
        MediaKind::Video => wit::MediaKind::Video,
        MediaKind::Audio => wit::MediaKind::Audio,
        MediaKind::File => wit::MediaKind::File,
    }
}

/// The lower-case extension of a URL's last path segment, ignoring query and fragment.
pub fn url_extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let last = path.split_once('/').map(|(_, p)| p)?.rsplit('/').next()?;
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && !url.contains(char::is_whitespace)
}

/// The manifest's rule an attachment falls under, judged by what the request says (a URL,
/// and its extension for the type), or the code and message of why it falls under none.
pub fn attachment_rule<'a>(
    limits: &'a wit::ContentLimits,
    m: &Media,
) -> Result<&'a wit::MediaRule, (&'static str, String)> {
    let kind = kind_name(m.kind);
    if m.url.trim().is_empty() {
        return Err((
            "missing_media",
            format!("an {kind} attachment needs the {kind} itself (a URL)"),
        ));
    }
    if !is_http_url(&m.url) {
        return Err(("invalid_url", format!("{:?} is not an http(s) URL", m.url)));
    }
    let ext = url_extension(&m.url).unwrap_or_default();
    let rules: Vec<&wit::MediaRule> = limits
        .media_rules
        .iter()
        .filter(|r| r.kind == wit_kind(m.kind))
        .collect();
    if let Some(rule) = rules.iter().find(|r| r.extensions.contains(&ext)) {
        return Ok(rule);
    }
    let accepted: Vec<&str> = rules
        .iter()
        .flat_map(|r| r.extensions.iter().map(String::as_str))
        .collect();
    Err((
        "unsupported_type",
        if accepted.is_empty() {
            format!("this channel takes no {kind} attachments")
        } else {
            format!(
                "{kind} attachments must be one of {}; got {:?}",
                accepted.join(", "),
                if ext.is_empty() { "no extension" } else { &ext }
            )
        },
    ))
}

/// Which attachments are worth asking their URL about: those the channel would take by
/// what the request says. None when the message has more than the channel takes.
pub fn attachments_to_fetch(limits: &wit::ContentLimits, msg: &NewMessage) -> Vec<bool> {
    let media = &msg.content.media;
    let too_many = limits.max_media > 0 && media.len() > limits.max_media as usize;
    media
        .iter()
        .map(|m| !too_many && attachment_rule(limits, m).is_ok())
        .collect()
}

/// What each attachment's URL really serves, against the channel's rules: reachable, not
/// empty, of its kind's type, within its size cap, and all of them within the message's.
/// `fetched` is aligned with `content.media` (`None`: not asked). Sizes are the real ones;
/// the declared size is only quoted back.
pub fn check_fetched(
    limits: &wit::ContentLimits,
    msg: &NewMessage,
    fetched: &[Option<Outcome>],
) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut total = 0u64;
    for (i, (m, f)) in msg.content.media.iter().zip(fetched).enumerate() {
        let field = format!("content.media[{i}].url");
        let kind = kind_name(m.kind);
        let p = match f {
            None => continue,
            Some(Err(e)) => {
                v.push(violation(e.code(), field, format!("{}: {e}", m.url)));
                continue;
            }
            Some(Ok(p)) => p,
        };
        total = total.saturating_add(p.length);
        let Ok(rule) = attachment_rule(limits, m) else {
            continue;
        };
        if p.length == 0 {
            v.push(violation(
                "media_empty",
                field,
                format!(
                    "{} serves an empty file: the {kind} would have nothing in it",
                    m.url
                ),
            ));
            continue;
        }
        match &p.content_type {
            Some(t) if type_matches(m.kind, t, &rule.extensions) => {}
            served => {
                let served = served.as_deref().unwrap_or("no Content-Type");
                let expected = match m.kind {
                    MediaKind::Image => "an image".to_string(),
                    MediaKind::Video => "a video".to_string(),
                    MediaKind::Audio => "audio".to_string(),
                    MediaKind::File => format!(
                        "a document this channel takes ({})",
                        rule.extensions.join(", ")
                    ),
                };
                let blank = match m.kind {
                    MediaKind::Image => " (the image would be blank)",
                    _ => "",
                };
                v.push(violation(
                    "media_type_mismatch",
                    field,
                    format!("{} serves {served}, not {expected}{blank}", m.url),
                ));
                continue;
            }
        }
        if p.length > rule.max_bytes {
            let declared = if m.size != p.length {
                format!(" (declared {})", m.size)
            } else {
                String::new()
            };
            v.push(violation(
                "file_too_large",
                field,
                format!(
                    "{} is {} bytes{declared}; {kind} attachments are limited to {} bytes on this channel",
                    m.url, p.length, rule.max_bytes
                ),
            ));
        }
    }
    // The total says something new only when no attachment alone was over its cap.
    let one_too_large = v.iter().any(|x| x.code == "file_too_large");
    if limits.max_media_bytes > 0 && total > limits.max_media_bytes && !one_too_large {
        v.push(violation(
            "file_too_large",
            "content.media".into(),
            format!(
                "attachments total {total} bytes; this channel takes at most {} per message",
                limits.max_media_bytes
            ),
        ));
    }
    v
}

/// Every violation of the manifest's declared limits.
pub fn check(limits: &wit::ContentLimits, msg: &NewMessage) -> Vec<Violation> {
    let mut v = Vec::new();
    let c = &msg.content;

    let has_anything = c.text.is_some()
        || !c.media.is_empty()
        || !c.carousel.is_empty()
        || c.template.is_some()
        || c.subject.is_some()
        || !c.data.is_empty()
        || !c.buttons.is_empty();
    if let Some(text) = &c.text {
        if text.trim().is_empty() {
            v.push(violation(
                "empty_text",
                "content.text".into(),
                "text is empty; leave it out or write something".into(),
            ));
        } else if limits.max_text_bytes > 0 && text.len() > limits.max_text_bytes as usize {
            v.push(violation(
                "too_long",
                "content.text".into(),
                format!(
                    "text is {} bytes; this channel takes at most {}",
                    text.len(),
                    limits.max_text_bytes
                ),
            ));
        }
    } else if !has_anything {
        v.push(violation(
            "empty_content",
            "content".into(),
            "the message has no text, subject, media, carousel, template or data".into(),
        ));
    }
    if let Some(subject) = &c.subject
        && limits.max_subject_bytes > 0
        && subject.len() > limits.max_subject_bytes as usize
    {
        v.push(violation(
            "too_long",
            "content.subject".into(),
            format!(
                "subject is {} bytes; this channel takes at most {}",
                subject.len(),
                limits.max_subject_bytes
            ),
        ));
    }

    if !c.media.is_empty() && limits.media_rules.is_empty() {
        v.push(violation(
            "unsupported",
            "content.media".into(),
            "this channel does not take attachments".into(),
        ));
    } else if limits.max_media > 0 && c.media.len() > limits.max_media as usize {
        v.push(violation(
            "too_many",
            "content.media".into(),
            format!("at most {} attachments", limits.max_media),
        ));
    }
    if !limits.media_rules.is_empty() {
        for (i, m) in c.media.iter().enumerate() {
            if let Err((code, message)) = attachment_rule(limits, m) {
                v.push(violation(code, format!("content.media[{i}].url"), message));
            }
        }
    }

    if !c.carousel.is_empty() {
        if limits.max_carousel_elements == 0 {
            v.push(violation(
                "unsupported",
                "content.carousel".into(),
                "this channel does not take carousels".into(),
            ));
        } else if c.carousel.len() > limits.max_carousel_elements as usize {
            v.push(violation(
                "too_many",
                "content.carousel".into(),
                format!("at most {} carousel elements", limits.max_carousel_elements),
            ));
        }
        for (i, e) in c.carousel.iter().enumerate() {
            let field = format!("content.carousel[{i}]");
            if e.title.trim().is_empty() {
                v.push(violation(
                    "required",
                    format!("{field}.title"),
                    "every carousel element needs a title".into(),
                ));
            }
            if limits.carousel_needs_images
                && e.image_url.as_deref().is_none_or(|u| u.trim().is_empty())
            {
                v.push(violation(
                    "missing_image",
                    format!("{field}.image_url"),
                    "every carousel element needs an image".into(),
                ));
            } else if let Some(url) = &e.image_url
                && !is_http_url(url)
            {
                v.push(violation(
                    "invalid_url",
                    format!("{field}.image_url"),
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
            if limits.carousel_needs_buttons && e.buttons.is_empty() {
                v.push(violation(
                    "missing_buttons",
                    format!("{field}.buttons"),
                    "every carousel element needs at least one button".into(),
                ));
            }
            if limits.max_buttons > 0 && e.buttons.len() > limits.max_buttons as usize {
                v.push(violation(
                    "too_many",
                    format!("{field}.buttons"),
                    format!("at most {} buttons", limits.max_buttons),
                ));
            }
        }
    }
    if !c.buttons.is_empty() && limits.max_buttons == 0 {
        v.push(violation(
            "unsupported",
            "content.buttons".into(),
            "this channel does not take buttons".into(),
        ));
    } else if limits.max_buttons > 0 && c.buttons.len() > limits.max_buttons as usize {
        v.push(violation(
            "too_many",
            "content.buttons".into(),
            format!("at most {} buttons", limits.max_buttons),
        ));
    }
    if !c.quick_replies.is_empty() && limits.max_quick_replies == 0 {
        v.push(violation(
            "unsupported",
            "content.quick_replies".into(),
            "this channel does not take quick replies".into(),
        ));
    } else if limits.max_quick_replies > 0
        && c.quick_replies.len() > limits.max_quick_replies as usize
    {
        v.push(violation(
            "too_many",
            "content.quick_replies".into(),
            format!("at most {} quick replies", limits.max_quick_replies),
        ));
    }
    v
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
