//! Signed page webhooks: `{"object":"page","entry":[{"id","time","messaging":[event]}]}`,
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>` (plus the legacy
//! SHA-1 `X-Hub-Signature`), posted to the page's callback URL through the shared sender.
//!
//! After an accepted send: `message_echoes` at once (with the app's `app_id` and the
//! `metadata` the send carried), `message_deliveries` after `delivery_delay_ms` and
//! `message_reads` after `read_delay_ms`, both with the send time as watermark. A reply typed
//! in the Page's own inbox is echoed too, with the Page inbox's app id and no metadata
//! ([`schedule_page_reply`]). Magic PSIDs and a fault's `callback_status` cut the timeline
//! short (see the module docs). A page subscribed to the app gets only the fields it named
//! ([`super::state::MessengerState::wants`]). One event per POST, so the shared sender can
//! drop, duplicate or reorder each.

use std::sync::{Arc, Weak};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::body::SendRequest;
use super::{
    CHANNEL, MAGIC_PSID_NEVER_DELIVERED, MAGIC_PSID_NEVER_READS, SANDBOX_MESSENGER_APP_ID,
    SandboxPage,
};
use crate::Shared;
use crate::callbacks::{Callback, CallbackBody, Step};
use crate::faults::FaultAction;

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub const SHA1_SIGNATURE_HEADER: &str = "X-Hub-Signature";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=<lowercase hex HMAC-SHA256(body, app_secret)>`, the `X-Hub-Signature-256` value.
pub fn messenger_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn sha1_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha1={}", hex(&mac.finalize().into_bytes()))
}

fn sign(body: &[u8]) -> Vec<(String, String)> {
    let secret = super::SANDBOX_MESSENGER_APP_SECRET;
    vec![
        (
            SIGNATURE_HEADER.to_owned(),
            messenger_signature(secret, body),
        ),
        (
            SHA1_SIGNATURE_HEADER.to_owned(),
            sha1_signature(secret, body),
        ),
    ]
}

pub fn envelope(page_id: &str, time_ms: u64, event: Value) -> Value {
    json!({"object": "page", "entry": [{"id": page_id, "time": time_ms, "messaging": [event]}]})
}

fn post(url: &str, mid: &str, event: &str, body: &Value) -> Callback {
    Callback {
        channel: CHANNEL.name,
        message_id: mid.to_owned(),
        event: event.to_owned(),
        url: url.to_owned(),
        headers: vec![("User-Agent".into(), "facebookexternalua".into())],
        retry_for: None,
        body: CallbackBody::Raw {
            content_type: "application/json",
            bytes: body.to_string().into_bytes(),
            sign: Some(sign),
        },
    }
}

/// The app id Facebook's own Page inbox (Meta Business Suite) sends with: the `app_id` of
/// the echo of a reply a person typed there. Source: Messenger Platform, Handover Protocol
/// ("Page Inbox ... app ID 263902037430900").
pub const PAGE_INBOX_APP_ID: u64 = 263_902_037_430_900;

/// The `message` of an echo: what was sent, attachment as a one-element `attachments` list,
/// marked as an echo of this app.
fn echo_message(req: &SendRequest, mid: &str) -> Value {
    let mut m = json!({"is_echo": true, "app_id": SANDBOX_MESSENGER_APP_ID, "mid": mid});
    if let Some(meta) = &req.metadata {
        m["metadata"] = json!(meta);
    }
    if let Some(sent) = &req.message {
        if let Some(t) = sent.get("text") {
            m["text"] = t.clone();
        }
        if let Some(a) = sent.get("attachment") {
            m["attachments"] = json!([a]);
        }
    }
    m
}

fn record_hook(
    shared: Weak<Shared>,
    mid: String,
    event: &'static str,
) -> crate::callbacks::StepHook {
    Box::new(move || {
        if let Some(shared) = shared.upgrade() {
            shared.messenger.record_event(&mid, event);
        }
    })
}

/// Echo, delivery and read of an accepted message, shaped by the fault `action`.
pub(crate) fn schedule_sent(
    shared: &Arc<Shared>,
    page: &SandboxPage,
    req: &SendRequest,
    mid: &str,
    sent_ms: u64,
    action: &FaultAction,
) {
    let cfg = shared.messenger.config();
    let url = cfg.webhooks.get(page.id).cloned();
    let stage = match action.callback_status.as_deref() {
        Some("sent") => 0,
        Some("delivered") => 1,
        Some(_) => 2,
        None if req.psid == MAGIC_PSID_NEVER_DELIVERED => 0,
        None if req.psid == MAGIC_PSID_NEVER_READS => 1,
        None => 2,
    };
    let now = Instant::now();
    let delivery_delay = cfg.delivery_delay_ms;
    let read_delay = cfg.read_delay_ms.max(delivery_delay);
    let user = json!({"id": req.psid});
    let page_ref = json!({"id": page.id});
    let mut planned: Vec<(u64, &'static str, Value)> = vec![(
        0,
        "message_echoes",
        json!({"sender": page_ref, "recipient": user, "timestamp": sent_ms, "message": echo_message(req, mid)}),
    )];
    if stage >= 1 {
        planned.push((
            delivery_delay,
            "message_deliveries",
            json!({"sender": user, "recipient": page_ref, "delivery": {"mids": [mid], "watermark": sent_ms}}),
        ));
    }
    if stage >= 2 {
        planned.push((
            read_delay,
            "message_reads",
            json!({"sender": user, "recipient": page_ref, "timestamp": sent_ms + read_delay, "read": {"watermark": sent_ms}}),
        ));
    }
    let mut posts: Vec<Vec<Callback>> = planned
        .iter()
        .map(|(delay, event, body)| match (&url, action.drop_callbacks) {
            (Some(url), false) if shared.messenger.wants(page.id, event) => {
                let p = post(
                    url,
                    mid,
                    event,
                    &envelope(page.id, sent_ms + delay, body.clone()),
                );
                if action.duplicate_callbacks {
                    vec![p.clone(), p]
                } else {
                    vec![p]
                }
            }
            _ => Vec::new(),
        })
        .collect();
    if action.reorder_callbacks {
        posts.reverse();
    }
    let steps = planned
        .iter()
        .zip(posts)
        .map(|((delay, event, _), callbacks)| Step {
            at: now + Duration::from_millis(*delay),
            before: Some(record_hook(Arc::downgrade(shared), mid.to_owned(), event)),
            callbacks,
        })
        .collect();
    shared.callbacks.schedule(steps);
}

/// A user's message or postback to the page, posted at once.
pub(crate) fn schedule_inbound(
    shared: &Arc<Shared>,
    page: &SandboxPage,
    mid: &str,
    event: Value,
    now_ms: u64,
    kind: &str,
) {
    let cfg = shared.messenger.config();
    let Some(url) = cfg.webhooks.get(page.id) else {
        return;
    };
    if !shared.messenger.wants(page.id, kind) {
        return;
    }
    shared.callbacks.schedule(vec![Step {
        at: Instant::now(),
        before: None,
        callbacks: vec![post(url, mid, kind, &envelope(page.id, now_ms, event))],
    }]);
}

/// A reply typed in the Page's inbox, echoed at once as Facebook does: sender the page,
/// recipient the person, the Page inbox's app id and no metadata.
pub(crate) fn schedule_page_reply(
    shared: &Arc<Shared>,
    page: &SandboxPage,
    psid: &str,
    mid: &str,
    text: &str,
    now_ms: u64,
) {
    let event = json!({
        "sender": {"id": page.id},
        "recipient": {"id": psid},
        "timestamp": now_ms,
        "message": {"is_echo": true, "app_id": PAGE_INBOX_APP_ID, "mid": mid, "text": text},
    });
    schedule_inbound(shared, page, mid, event, now_ms, "message_echoes");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_lowercase_hex_sha256() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231 style vector.
        assert_eq!(
            messenger_signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert_ne!(
            messenger_signature("key", b"a"),
            messenger_signature("key2", b"a")
        );
    }
}
