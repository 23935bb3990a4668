//! The rules a message must meet before it is worth sending as AlimTalk.

use switchboard_plugin_sdk::prelude::*;

use crate::phone::{self, PhoneError};

/// Kakao's limit on buttons under one AlimTalk message.
pub const MAX_BUTTONS: usize = 5;
/// Kakao's limit on a button's name, in characters.
pub const MAX_BUTTON_NAME_CHARS: usize = 14;
/// Kakao's limit on a rendered AlimTalk message, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// A template variable name as Kakao writes it in the template: `#{name}`.
pub fn is_variable_name(name: &str) -> bool {
    name.strip_prefix("#{")
        .and_then(|n| n.strip_suffix('}'))
        .is_some_and(|inner| !inner.trim().is_empty() && !inner.contains(['{', '}']))
}

pub fn violations(msg: &Message) -> Vec<Violation> {
    let mut v = Vec::new();
    match msg.to.phone.as_deref().filter(|p| !p.is_empty()) {
        None => v.push(Violation::new(
            "required",
            "to.phone",
            "AlimTalk needs the recipient's phone number in E.164",
        )),
        Some(p) => match phone::domestic_mobile(p) {
            Ok(_) => {}
            Err(e @ PhoneError::NotKorean) => v.push(Violation::new(
                "unsupported_country",
                "to.phone",
                e.to_string(),
            )),
            Err(e @ PhoneError::NotMobile) => {
                v.push(Violation::new("invalid_format", "to.phone", e.to_string()))
            }
        },
    }
    match &msg.content.template {
        None => v.push(Violation::new(
            "required",
            "content.template",
            "AlimTalk only sends templates registered with Kakao",
        )),
        Some(t) => {
            if t.id.trim().is_empty() {
                v.push(Violation::new(
                    "required",
                    "content.template.id",
                    "the template id must not be empty",
                ));
            }
            for (i, (name, _)) in t.variables.iter().enumerate() {
                if !is_variable_name(name) {
                    v.push(Violation::new(
                        "invalid_format",
                        &format!("content.template.variables[{i}]"),
                        format!("variable {name:?} must be written as in the template, #{{name}}"),
                    ));
                }
            }
        }
    }
    if let Some(text) = msg.content.text.as_deref() {
        let n = text.chars().count();
        if text.trim().is_empty() {
            v.push(Violation::new(
                "required",
                "content.text",
                "text, when given, is the rendered template and cannot be empty",
            ));
        } else if n > MAX_TEXT_CHARS {
            v.push(Violation::new(
                "too_long",
                "content.text",
                format!("text is {n} characters; AlimTalk holds at most {MAX_TEXT_CHARS}"),
            ));
        }
    }
    if msg.content.buttons.len() > MAX_BUTTONS {
        v.push(Violation::new(
            "too_many",
            "content.buttons",
            format!("at most {MAX_BUTTONS} buttons per AlimTalk"),
        ));
    }
    for (i, b) in msg.content.buttons.iter().enumerate() {
        let n = b.title.chars().count();
        if b.title.trim().is_empty() {
            v.push(Violation::new(
                "required",
                &format!("content.buttons[{i}].title"),
                "a button needs a name",
            ));
        } else if n > MAX_BUTTON_NAME_CHARS {
            v.push(Violation::new(
                "too_long",
                &format!("content.buttons[{i}].title"),
                format!("button name is {n} characters; the limit is {MAX_BUTTON_NAME_CHARS}"),
            ));
        }
    }
    let unsupported = [
        (
            "content.media",
            !msg.content.media.is_empty(),
            "AlimTalk templates carry no attachments here",
        ),
        (
            "content.carousel",
            !msg.content.carousel.is_empty(),
            "AlimTalk cannot carry a carousel",
        ),
        (
            "content.quick_replies",
            !msg.content.quick_replies.is_empty(),
            "AlimTalk has no quick replies",
        ),
        (
            "content.subject",
            msg.content
                .subject
                .as_deref()
                .is_some_and(|s| !s.is_empty()),
            "AlimTalk has no subject",
        ),
    ];
    for (field, present, why) in unsupported {
        if present {
            v.push(Violation::new("unsupported", field, why));
        }
    }
    v
}
