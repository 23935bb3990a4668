//! Page webhooks.
//!
//! - `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`: the subscription
//!   handshake; 200 with C as the body when the host finds T equal to the `verify_token`
//!   secret, `unauthorized` (401) when it does not, `bad-request` when the token is right but
//!   the request is not a subscribe with a challenge.
//! - `POST`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>`, checked
//!   by the host with the `app_secret` secret before the body is parsed. Entries of other pages
//!   are ignored (one app may serve several pages, each its own connection).
//!
//! Neither carries a signed time, so nothing is declared with `signed_at`: Facebook retries a
//! failed delivery with the same payload for hours, and the entries' `time` is when the event
//! happened, not when it was posted. A replayed POST can only repeat events, and statuses and
//! watermarks only move forward.
//!
//! Events: a user's `message` becomes an inbound message plus contact activity (it opens the
//! messaging window), with the quick reply's `payload` when the user tapped one; a
//! `postback` (a button tapped) becomes an inbound message carrying the button's title as
//! text and its `payload`, plus activity; `delivery` and `read` are watermarks (every message
//! to that contact up to the watermark is delivered / seen). An echo (`message_echoes`,
//! `message.is_echo: true`: sender the page, recipient the person) is a message the page
//! sent: from this gateway, from the Page's own inbox or from another app. It becomes an
//! `echo` event whose host marker is the delivery id [`crate::send`] put in
//! `message.metadata` (`sb:<delivery id>`, see [`host_marker`]); echoes carry no activity,
//! since the person did nothing.

use serde_json::Value;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::webhook_auth::{self, HmacAlgorithm};

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// What [`crate::send`] puts before the delivery id in `message.metadata`: a page may have
/// other apps whose metadata means something else, and only this prefix is ours.
pub const MARKER_PREFIX: &str = "sb:";
/// The secret the GET handshake's `hub.verify_token` must equal.
pub const VERIFY_TOKEN: &str = "verify_token";

pub fn handle(req: &WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
    if req.method.eq_ignore_ascii_case("GET") {
        return handshake(&req.url);
    }
    verify(req)?;
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| WebhookError::BadRequest(format!("not JSON: {e}")))?;
    let page_id = config::get("page_id")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| WebhookError::BadRequest("the connection has no page_id".into()))?;
    Ok(WebhookOutcome {
        events: events(&body, &page_id)?,
        reply: None,
    })
}

fn reply(status: u16, body: &str) -> WebhookOutcome {
    WebhookOutcome {
        events: Vec::new(),
        reply: Some(HttpReply {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }),
    }
}

/// The subscription handshake Facebook makes when the callback URL is set.
pub fn handshake(url: &str) -> Result<WebhookOutcome, WebhookError> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let token = get("hub.verify_token")
        .ok_or_else(|| WebhookError::Unauthorized("missing hub.verify_token".into()))?;
    if !webhook_auth::verify_token(VERIFY_TOKEN, token) {
        return Err(WebhookError::Unauthorized(
            "hub.verify_token is not this connection's verify_token".into(),
        ));
    }
    match (get("hub.mode"), get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) => Ok(reply(200, challenge)),
        _ => Err(WebhookError::BadRequest(
            "not a hub.mode=subscribe handshake with a hub.challenge".into(),
        )),
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn verify(req: &WebhookRequest) -> Result<(), WebhookError> {
    let unauthorized = |m: &str| WebhookError::Unauthorized(m.to_string());
    let header = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| unauthorized("missing X-Hub-Signature-256"))?;
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| unauthorized("X-Hub-Signature-256 is not sha256=<hex>"))?;
    let mac = unhex(hex).ok_or_else(|| unauthorized("X-Hub-Signature-256 is not hex"))?;
    if webhook_auth::verify_hmac(HmacAlgorithm::Sha256, "app_secret", &req.body, &mac) {
        Ok(())
    } else {
        Err(unauthorized("X-Hub-Signature-256 does not match the body"))
    }
}

fn id_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    let id = v.get(key)?.get("id")?;
    id.as_str()
}

fn guess_mime(kind: MediaKind, url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let known = match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("mp4") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("mp3") => "audio/mpeg",
        Some("m4a") => "audio/mp4",
        Some("aac") => "audio/aac",
        Some("wav") => "audio/wav",
        Some("ogg") => "audio/ogg",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        _ => "",
    };
    if !known.is_empty() {
        return known.into();
    }
    match kind {
        MediaKind::Image => "image/*",
        MediaKind::Video => "video/*",
        MediaKind::Audio => "audio/*",
        MediaKind::File => "application/octet-stream",
    }
    .into()
}

fn attachments(message: &Value) -> Vec<Media> {
    let Some(list) = message.get("attachments").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| {
            let kind = match a.get("type")?.as_str()? {
                "image" => MediaKind::Image,
                "video" => MediaKind::Video,
                "audio" => MediaKind::Audio,
                "file" => MediaKind::File,
                // location, fallback, template, sticker-less shares: nothing to fetch.
                _ => return None,
            };
            let url = a.get("payload")?.get("url")?.as_str()?.to_string();
            Some(Media {
                kind,
                mime_type: guess_mime(kind, &url),
                url,
                size: 0,
            })
        })
        .collect()
}

/// The delivery id in an echo's `metadata`, if this plugin's send put it there:
/// `sb:<delivery id>`, with `#<n>` after it for the parts of a split message.
pub fn host_marker(metadata: &str) -> Option<String> {
    let rest = metadata.strip_prefix(MARKER_PREFIX)?;
    let id = rest.split_once('#').map_or(rest, |(id, _)| id);
    (!id.is_empty()).then(|| id.to_string())
}

/// A page's own message to a person, as `message_echoes` reports it.
fn echo_event(ev: &Value, m: &Value, timestamp_ms: u64) -> Option<WebhookEvent> {
    let recipient = id_at(ev, "recipient")?;
    let mid = m.get("mid").and_then(Value::as_str)?;
    Some(WebhookEvent::Echo(OutboundEcho {
        recipient: recipient.to_string(),
        provider_message_id: mid.to_string(),
        text: m.get("text").and_then(Value::as_str).map(str::to_string),
        media: attachments(m),
        timestamp_ms,
        host_marker: m
            .get("metadata")
            .and_then(Value::as_str)
            .and_then(host_marker),
    }))
}

/// One `messaging` item as events.
fn messaging_events(ev: &Value, fallback_ms: u64) -> Vec<WebhookEvent> {
    let timestamp_ms = ev
        .get("timestamp")
        .and_then(Value::as_u64)
        .unwrap_or(fallback_ms);
    if let Some(m) = ev.get("message")
        && m.get("is_echo").and_then(Value::as_bool) == Some(true)
    {
        return echo_event(ev, m, timestamp_ms).into_iter().collect();
    }
    let Some(sender) = id_at(ev, "sender") else {
        return Vec::new();
    };
    let sender = sender.to_string();
    let activity = |kind: &str| {
        WebhookEvent::Activity(ContactActivity {
            contact: sender.clone(),
            kind: kind.into(),
            timestamp_ms,
        })
    };
    let watermark = |body: &Value, state| {
        body.get("watermark").and_then(Value::as_u64).map(|w| {
            WebhookEvent::Watermark(WatermarkUpdate {
                contact: sender.clone(),
                state,
                watermark_ms: w,
            })
        })
    };
    if let Some(m) = ev.get("message") {
        let Some(mid) = m.get("mid").and_then(Value::as_str) else {
            return Vec::new();
        };
        let inbound = WebhookEvent::Inbound(InboundMessage {
            sender: sender.clone(),
            provider_message_id: mid.into(),
            text: m.get("text").and_then(Value::as_str).map(str::to_string),
            media: attachments(m),
            timestamp_ms,
            payload: m
                .get("quick_reply")
                .and_then(|q| q.get("payload"))
                .and_then(Value::as_str)
                .map(str::to_string),
        });
        return vec![inbound, activity("message")];
    }
    if let Some(p) = ev.get("postback") {
        let Some(payload) = p.get("payload").and_then(Value::as_str) else {
            return vec![activity("postback")];
        };
        // Graph gives postbacks a `mid` now; older payloads had none. A click is then known
        // by who clicked and when, which a redelivered webhook repeats exactly.
        let mid = p.get("mid").and_then(Value::as_str).map_or_else(
            || format!("postback:{sender}:{timestamp_ms}"),
            str::to_string,
        );
        let inbound = WebhookEvent::Inbound(InboundMessage {
            sender: sender.clone(),
            provider_message_id: mid,
            text: p.get("title").and_then(Value::as_str).map(str::to_string),
            media: Vec::new(),
            timestamp_ms,
            payload: Some(payload.to_string()),
        });
        return vec![inbound, activity("postback")];
    }
    if let Some(d) = ev.get("delivery") {
        return watermark(d, DeliveryState::Delivered).into_iter().collect();
    }
    if let Some(r) = ev.get("read") {
        return watermark(r, DeliveryState::Seen).into_iter().collect();
    }
    Vec::new()
}

pub fn events(body: &Value, page_id: &str) -> Result<Vec<WebhookEvent>, WebhookError> {
    let Some(obj) = body.as_object() else {
        return Err(WebhookError::BadRequest("not a JSON object".into()));
    };
    // Instagram or user-object notifications are not this channel's.
    if obj.get("object").and_then(Value::as_str) != Some("page") {
        return Ok(Vec::new());
    }
    let entries = obj
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| WebhookError::BadRequest("no entry list".into()))?;
    let mut out = Vec::new();
    for entry in entries {
        let id = match entry.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if id != page_id {
            continue;
        }
        let time = entry.get("time").and_then(Value::as_u64).unwrap_or(0);
        for ev in entry
            .get("messaging")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(messaging_events(ev, time));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "webhook_props.rs"]
mod props;
