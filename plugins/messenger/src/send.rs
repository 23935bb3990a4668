//! `POST {base}/{version}/me/messages`: request bodies and the send sequence.
//!
//! The Send API takes text or one attachment per call, never both. A message with text and an
//! attachment (media or carousel) is sent as two calls, text first; the message's provider id
//! is the last call's `message_id`, and quick replies ride on the last call, where Messenger
//! shows them. Each call carries the host marker in `message.metadata`: `sb:` and the
//! idempotency key (the delivery id), suffixed `#1`, `#2` for the parts of a split message.
//! Graph deduplicates nothing, but it echoes `metadata` in `message_echoes`, so the echo of
//! this send names its delivery ([`crate::webhook::host_marker`]) even when it arrives
//! before the send's answer is recorded, and the host never takes it for a reply written
//! elsewhere.

use serde_json::{Value, json};
use switchboard_plugin_sdk::prelude::*;

use crate::validate::{self, Options};
use crate::{errors, window};

/// One Send API call of a message.
#[derive(Debug, Clone)]
pub enum Part<'a> {
    Text(&'a str),
    /// Text with buttons under it: a button template.
    ButtonTemplate(&'a str, &'a [Button]),
    Media(&'a Media),
    Carousel(&'a [CarouselElement]),
}

/// The calls a message takes, in order.
pub fn plan(msg: &Message) -> Vec<Part<'_>> {
    let c = &msg.content;
    let text = c.text.as_deref().filter(|t| !t.trim().is_empty());
    let attachment = if !c.carousel.is_empty() {
        Some(Part::Carousel(&c.carousel))
    } else {
        c.media.first().map(Part::Media)
    };
    match (text, attachment) {
        (Some(t), Some(a)) => vec![Part::Text(t), a],
        (None, Some(a)) => vec![a],
        (Some(t), None) if !c.buttons.is_empty() => vec![Part::ButtonTemplate(t, &c.buttons)],
        (Some(t), None) => vec![Part::Text(t)],
        (None, None) => vec![],
    }
}

fn media_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::File => "file",
    }
}

fn button_json(b: &Button) -> Value {
    match &b.url {
        Some(url) => json!({"type": "web_url", "url": url, "title": b.title}),
        None => json!({
            "type": "postback",
            "title": b.title,
            "payload": b.payload.clone().unwrap_or_default(),
        }),
    }
}

fn element_json(e: &CarouselElement) -> Value {
    let mut el = json!({ "title": e.title });
    if let Some(s) = e.subtitle.as_deref().filter(|s| !s.is_empty()) {
        el["subtitle"] = json!(s);
    }
    if let Some(url) = &e.image_url {
        el["image_url"] = json!(url);
    }
    if !e.buttons.is_empty() {
        el["buttons"] = e.buttons.iter().map(button_json).collect();
    }
    el
}

/// The `message` object of one call.
pub fn message_json(part: &Part<'_>, quick_replies: &[QuickReply], metadata: &str) -> Value {
    let mut m = match part {
        Part::Text(t) => json!({ "text": t }),
        Part::ButtonTemplate(t, buttons) => json!({"attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": t,
                "buttons": buttons.iter().map(button_json).collect::<Vec<_>>(),
            },
        }}),
        Part::Media(media) => json!({"attachment": {
            "type": media_type(media.kind),
            "payload": { "url": media.url, "is_reusable": true },
        }}),
        Part::Carousel(elements) => json!({"attachment": {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": elements.iter().map(element_json).collect::<Vec<_>>(),
            },
        }}),
    };
    if !quick_replies.is_empty() {
        m["quick_replies"] = quick_replies
            .iter()
            .map(|q| {
                let mut r = json!({"content_type": "text", "title": q.title, "payload": q.payload});
                if let Some(url) = &q.image_url {
                    r["image_url"] = json!(url);
                }
                r
            })
            .collect();
    }
    m["metadata"] = json!(metadata);
    m
}

/// The full request bodies, one per call.
pub fn bodies(msg: &Message, decision: &window::Decision) -> Vec<Value> {
    let psid = msg.to.psid.clone().unwrap_or_default();
    let parts = plan(msg);
    let n = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let last = i + 1 == n;
            let marker = crate::webhook::MARKER_PREFIX;
            let metadata = if n == 1 {
                format!("{marker}{}", msg.idempotency_key)
            } else {
                format!("{marker}{}#{}", msg.idempotency_key, i + 1)
            };
            let qr: &[QuickReply] = if last {
                &msg.content.quick_replies
            } else {
                &[]
            };
            let mut body = json!({
                "recipient": { "id": psid },
                "messaging_type": decision.messaging_type,
                "message": message_json(part, qr, &metadata),
            });
            if let Some(tag) = &decision.tag {
                body["tag"] = json!(tag);
            }
            body
        })
        .collect()
}

pub fn send(msg: &Message) -> Result<Sent, SendError> {
    let problems = validate::violations(msg, &known_tags());
    if !problems.is_empty() {
        let detail = problems
            .iter()
            .map(|v| format!("{}: {} ({})", v.field, v.message, v.code))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(SendError::permanent(
            FailureReason::InvalidFormat,
            None,
            detail,
        ));
    }
    let decision = window::decide(
        &Options::from_message(msg),
        msg.to.last_inbound_ms,
        clock::now_ms(),
        &crate::allowed_tags(),
    )?;
    if !secrets::has("page_access_token") {
        return Err(SendError::misconfigured("page_access_token"));
    }
    let url = format!("{}/me/messages", crate::api_root());
    let mut last_mid = None;
    for body in bodies(msg, &decision) {
        let req = Request::post(url.clone())
            .bearer("page_access_token")
            .json_body(body.to_string());
        let resp = http::send(req).map_err(SendError::from_http)?;
        if !resp.is_success() {
            return Err(errors::map_error(&resp));
        }
        let mid = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| {
                v.get("message_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                SendError::retryable(
                    FailureReason::ProviderError,
                    None,
                    None,
                    format!("HTTP {} without a message_id", resp.status),
                )
            })?;
        last_mid = Some(mid);
    }
    last_mid
        .map(|provider_message_id| Sent {
            provider_message_id,
        })
        .ok_or_else(|| SendError::permanent(FailureReason::InvalidFormat, None, "nothing to send"))
}

fn known_tags() -> Vec<String> {
    validate::KNOWN_TAGS.iter().map(|t| t.to_string()).collect()
}

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;
