//! The simulated device: after a push is accepted it posts a signed `received` receipt to the
//! gateway, then an `opened` one, as an app with Switchboard's SDK would.
//!
//! Receipts go through the shared [`crate::callbacks::CallbackSender`], so the fault book's
//! callback actions (drop, duplicate, reorder, `callback_status`) apply to them as to any
//! provider callback. The body is JSON `{"connection_id","event","message_id","timestamp_ms"}`
//! and `X-Switchboard-Signature: t=<unix s>,v1=<hex HMAC-SHA256(key, "<t>." + body)>`. Both
//! times are the event's due time by the simulator clock, fixed when the push is accepted (the
//! shared sender's signer cannot see the per-sandbox key or clock at posting time).

use std::sync::{Arc, Weak};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::time::Instant;

use crate::Shared;
use crate::callbacks::{Callback, CallbackBody, Step};
use crate::faults::FaultAction;

pub const SIGNATURE_HEADER: &str = "X-Switchboard-Signature";

/// Outcomes a fault's `callback_status` can force: the last event the device reports.
pub(super) const SCENARIOS: &[&str] = &["opened", "received", "silent"];

/// The `X-Switchboard-Signature` value for a receipt body posted at `t_secs`:
/// `t=<t_secs>,v1=<lowercase hex HMAC-SHA256(key, "<t_secs>." + body)>`.
pub fn push_receipt_signature(key: &str, t_secs: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key");
    mac.update(format!("{t_secs}.").as_bytes());
    mac.update(body);
    format!("t={t_secs},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the device does with a push it was handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Received, then opened.
    Opened,
    /// Received, never opened (`noopen…` tokens).
    ReceivedOnly,
    /// Never acknowledges (`silent…` tokens).
    Silent,
}

impl Behaviour {
    pub fn for_token(token: &str) -> Self {
        if token.starts_with("silent") {
            Self::Silent
        } else if token.starts_with("noopen") {
            Self::ReceivedOnly
        } else {
            Self::Opened
        }
    }

    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "opened" => Self::Opened,
            "received" => Self::ReceivedOnly,
            "silent" => Self::Silent,
            _ => return None,
        })
    }

    fn events(self) -> &'static [&'static str] {
        match self {
            Self::Opened => &["received", "opened"],
            Self::ReceivedOnly => &["received"],
            Self::Silent => &[],
        }
    }
}

fn record_hook(shared: Weak<Shared>, seq: u64, event: &'static str) -> crate::callbacks::StepHook {
    Box::new(move || {
        if let Some(shared) = shared.upgrade() {
            shared.push.record_event(seq, event);
        }
    })
}

/// Plans the device's receipts for the accepted request `seq`.
pub(super) fn schedule(
    shared: &Arc<Shared>,
    seq: u64,
    token: &str,
    sb_message_id: Option<&str>,
    action: &FaultAction,
) {
    let behaviour = action
        .callback_status
        .as_deref()
        .and_then(Behaviour::named)
        .unwrap_or_else(|| Behaviour::for_token(token));
    let cfg = shared.push.config();
    let accepted_at = Instant::now();
    let accepted_ms = shared.clock.now_ms();
    let opened = cfg.opened_delay_ms.max(cfg.received_delay_ms);
    let mut planned: Vec<(Instant, &'static str, Vec<Callback>)> = behaviour
        .events()
        .iter()
        .map(|&event| {
            let delay = if event == "received" {
                cfg.received_delay_ms
            } else {
                opened
            };
            let callbacks = match (&cfg.receipt_url, sb_message_id, action.drop_callbacks) {
                (Some(url), Some(id), false) => {
                    let ts = accepted_ms + delay;
                    let body = json!({
                        "connection_id": cfg.connection_id,
                        "message_id": id,
                        "event": event,
                        "timestamp_ms": ts,
                    })
                    .to_string()
                    .into_bytes();
                    let sig = push_receipt_signature(&cfg.receipt_key, ts / 1000, &body);
                    let post = Callback {
                        channel: super::CHANNEL.name,
                        message_id: callback_id(seq),
                        event: event.to_owned(),
                        url: url.clone(),
                        headers: vec![(SIGNATURE_HEADER.into(), sig)],
                        retry_for: None,
                        body: CallbackBody::Raw {
                            content_type: "application/json",
                            bytes: body,
                            sign: None,
                        },
                    };
                    if action.duplicate_callbacks {
                        vec![post.clone(), post]
                    } else {
                        vec![post]
                    }
                }
                _ => Vec::new(),
            };
            (accepted_at + Duration::from_millis(delay), event, callbacks)
        })
        .collect();
    if action.reorder_callbacks {
        let mut posts: Vec<Vec<Callback>> = planned
            .iter_mut()
            .map(|(_, _, c)| std::mem::take(c))
            .collect();
        posts.reverse();
        for ((_, _, c), p) in planned.iter_mut().zip(posts) {
            *c = p;
        }
    }
    let steps = planned
        .into_iter()
        .map(|(at, event, callbacks)| Step {
            at,
            before: Some(record_hook(Arc::downgrade(shared), seq, event)),
            callbacks,
        })
        .collect::<Vec<_>>();
    if !steps.is_empty() {
        shared.callbacks.schedule(steps);
    }
}

/// How the callback log names the receipts of request `seq`.
pub(super) fn callback_id(seq: u64) -> String {
    format!("push-{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_shape() {
        let s = push_receipt_signature("k", 1_700_000_000, b"{}");
        let (t, v1) = s.split_once(",v1=").unwrap();
        assert_eq!(t, "t=1700000000");
        assert_eq!(v1.len(), 64);
        assert!(
            v1.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(s, push_receipt_signature("k2", 1_700_000_000, b"{}"));
        assert_ne!(s, push_receipt_signature("k", 1_700_000_001, b"{}"));
    }

    #[test]
    fn magic_tokens() {
        assert_eq!(Behaviour::for_token("silent-1"), Behaviour::Silent);
        assert_eq!(Behaviour::for_token("noopen-1"), Behaviour::ReceivedOnly);
        assert_eq!(Behaviour::for_token("abc"), Behaviour::Opened);
        for s in SCENARIOS {
            assert!(Behaviour::named(s).is_some());
        }
    }
}
