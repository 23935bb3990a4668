//! Content checks every channel shares, driven by the plugin's manifest.
//!
//! A plugin declares what its channel carries (`content-limits`: text and subject sizes,
//! attachment types by kind and extension with a size cap each, carousel and button counts,
//! whether carousel elements need images and buttons). The host enforces those declarations
//! here, the same way for every channel, before the plugin's own `validate` looks at the
//! channel-specific rest. Every violation has a code and a JSON field path.
//!
//! A message that fails here is refused with `invalid_format` before anything is stored: it
//! costs nothing, and since it was never accepted there is nothing to resend.

use crate::model::{MediaKind, NewMessage, Violation};
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
            let field = format!("content.media[{i}]");
            if m.url.trim().is_empty() {
                v.push(violation(
                    "missing_media",
                    format!("{field}.url"),
                    format!(
                        "an {} attachment needs the {} itself (a URL)",
                        kind_name(m.kind),
                        kind_name(m.kind)
                    ),
                ));
                continue;
            }
            if !is_http_url(&m.url) {
                v.push(violation(
                    "invalid_url",
                    format!("{field}.url"),
                    format!("{:?} is not an http(s) URL", m.url),
                ));
                continue;
            }
            let ext = url_extension(&m.url).unwrap_or_default();
            let rules: Vec<&wit::MediaRule> = limits
                .media_rules
                .iter()
                .filter(|r| r.kind == wit_kind(m.kind))
                .collect();
            let Some(rule) = rules.iter().find(|r| r.extensions.contains(&ext)) else {
                let accepted: Vec<&str> = rules
                    .iter()
                    .flat_map(|r| r.extensions.iter().map(String::as_str))
                    .collect();
                v.push(violation(
                    "unsupported_type",
                    format!("{field}.url"),
                    if accepted.is_empty() {
                        format!("this channel takes no {} attachments", kind_name(m.kind))
                    } else {
                        format!(
                            "{} attachments must be one of {}; got {:?}",
                            kind_name(m.kind),
                            accepted.join(", "),
                            if ext.is_empty() { "no extension" } else { &ext }
                        )
                    },
                ));
                continue;
            };
            if m.size > rule.max_bytes {
                v.push(violation(
                    "file_too_large",
                    format!("{field}.size"),
                    format!(
                        "{} bytes; {} attachments are limited to {} bytes on this channel",
                        m.size,
                        kind_name(m.kind),
                        rule.max_bytes
                    ),
                ));
            }
        }
    }

    let total: u64 = c.media.iter().map(|m| m.size).sum();
    if limits.max_media_bytes > 0 && total > limits.max_media_bytes {
        v.push(violation(
            "file_too_large",
            "content.media".into(),
            format!(
                "attachments total {total} bytes; this channel takes at most {} per message",
                limits.max_media_bytes
            ),
        ));
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
mod tests {
    use super::*;
    use crate::model::{Button, CarouselElement, Content, Media, NewMessage, Recipient};

    fn limits() -> wit::ContentLimits {
        let rule = |kind, exts: &[&str], max| wit::MediaRule {
            kind,
            extensions: exts.iter().map(|e| e.to_string()).collect(),
            max_bytes: max,
        };
        wit::ContentLimits {
            max_text_bytes: 2000,
            max_subject_bytes: 0,
            max_media: 1,
            max_media_bytes: 0,
            max_carousel_elements: 10,
            max_buttons: 3,
            max_quick_replies: 13,
            media_rules: vec![
                rule(
                    wit::MediaKind::Image,
                    &["png", "jpg", "jpeg", "gif"],
                    10 << 20,
                ),
                rule(wit::MediaKind::Video, &["mov", "m4v", "mp4"], 10 << 20),
                rule(
                    wit::MediaKind::File,
                    &["odt", "ppt", "txt", "doc", "pdf"],
                    10 << 20,
                ),
            ],
            carousel_needs_images: true,
            carousel_needs_buttons: true,
        }
    }

    fn msg(content: Content) -> NewMessage {
        NewMessage {
            channel: "messenger".into(),
            to: Recipient::default(),
            content,
            category: Default::default(),
            metadata: Default::default(),
            options: Default::default(),
            connection: None,
            policy: None,
        }
    }

    fn media(kind: MediaKind, url: &str, size: u64) -> Media {
        Media {
            kind,
            url: url.into(),
            mime_type: String::new(),
            size,
        }
    }

    fn codes(c: Content) -> Vec<(String, String)> {
        check(&limits(), &msg(c))
            .into_iter()
            .map(|v| (v.code, v.field))
            .collect()
    }

    #[test]
    fn empty_text_and_empty_content() {
        assert_eq!(
            codes(Content {
                text: Some("  ".into()),
                ..Default::default()
            }),
            vec![("empty_text".into(), "content.text".into())]
        );
        assert_eq!(
            codes(Content::default()),
            vec![("empty_content".into(), "content".into())]
        );
    }

    #[test]
    fn an_image_attachment_needs_an_image() {
        let c = Content {
            media: vec![media(MediaKind::Image, "", 10)],
            ..Default::default()
        };
        assert_eq!(
            codes(c),
            vec![("missing_media".into(), "content.media[0].url".into())]
        );
    }

    #[test]
    fn supported_types_and_sizes() {
        for (kind, url) in [
            (MediaKind::Image, "https://cdn.test/a.PNG"),
            (MediaKind::Image, "https://cdn.test/a.jpeg?x=1"),
            (MediaKind::Video, "https://cdn.test/v.m4v"),
            (MediaKind::File, "https://cdn.test/d.pdf"),
            (MediaKind::File, "https://cdn.test/d.odt"),
        ] {
            assert!(
                codes(Content {
                    media: vec![media(kind, url, 1000)],
                    ..Default::default()
                })
                .is_empty(),
                "{url}"
            );
        }
        let bad = Content {
            media: vec![media(MediaKind::Image, "https://cdn.test/a.bmp", 10)],
            ..Default::default()
        };
        assert_eq!(
            codes(bad),
            vec![("unsupported_type".into(), "content.media[0].url".into())]
        );
        let doc = Content {
            media: vec![media(MediaKind::File, "https://cdn.test/a.exe", 10)],
            ..Default::default()
        };
        assert_eq!(codes(doc)[0].0, "unsupported_type");
        let big = Content {
            media: vec![media(
                MediaKind::File,
                "https://cdn.test/a.pdf",
                (10 << 20) + 1,
            )],
            ..Default::default()
        };
        assert_eq!(
            codes(big),
            vec![("file_too_large".into(), "content.media[0].size".into())]
        );
    }

    #[test]
    fn carousels_need_images_and_buttons() {
        let el = |image: Option<&str>, buttons: usize| CarouselElement {
            title: "T".into(),
            subtitle: None,
            image_url: image.map(String::from),
            buttons: (0..buttons)
                .map(|i| Button {
                    title: format!("b{i}"),
                    url: Some("https://x.test".into()),
                    payload: None,
                })
                .collect(),
        };
        let c = Content {
            carousel: vec![
                el(Some("https://x.test/i.png"), 1),
                el(None, 1),
                el(Some("https://x.test/i.png"), 0),
            ],
            ..Default::default()
        };
        assert_eq!(
            codes(c),
            vec![
                (
                    "missing_image".into(),
                    "content.carousel[1].image_url".into()
                ),
                (
                    "missing_buttons".into(),
                    "content.carousel[2].buttons".into()
                ),
            ]
        );
        let eleven = Content {
            carousel: (0..11)
                .map(|_| el(Some("https://x.test/i.png"), 1))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            codes(eleven),
            vec![("too_many".into(), "content.carousel".into())]
        );
    }

    #[test]
    fn extensions_come_from_the_path() {
        assert_eq!(
            url_extension("https://a.test/x/y.JPG?s=1#f").as_deref(),
            Some("jpg")
        );
        assert_eq!(url_extension("https://a.test/"), None);
        assert_eq!(url_extension("https://a.test"), None);
        assert_eq!(url_extension("https://a.b.test/file"), None);
    }
}
