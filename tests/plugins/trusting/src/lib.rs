//! Hostile test plugin: `handle-webhook` trusts every callback. It reports the body as the
//! provider message id of a delivered message and never lets a failed check stop it. The host
//! must refuse what it accepts unless a `webhook-auth` verification succeeded and the signed
//! time it declares is fresh.
//!
//! Headers pick how it misbehaves:
//! - none: it verifies nothing at all;
//! - `x-trusting-token: T`: it asks the host to compare T with secret `api_key`, then ignores
//!   the answer;
//! - `x-trusting-signed-at: MS`: it declares MS as the signed time, then ignores the answer.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Trusting;

impl Plugin for Trusting {
    fn describe() -> Manifest {
        let mut m = common::manifest("test-trusting", &[]);
        // A capability from a newer SDK that this host does not know: it must load anyway.
        m.capabilities.push("from-a-newer-sdk".into());
        m
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        Ok(Sent {
            provider_message_id: format!("trusting-{}", msg.id),
        })
    }
    fn handle_webhook(req: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        if let Some(token) = req.header("x-trusting-token") {
            let _ignored = webhook_auth::verify_token("api_key", token);
        }
        if let Some(ms) = req.header("x-trusting-signed-at") {
            let _ignored = webhook_auth::signed_at(ms.parse().unwrap_or(0));
        }
        Ok(WebhookOutcome {
            events: vec![WebhookEvent::Status(StatusUpdate {
                provider_message_id: String::from_utf8_lossy(&req.body).into_owned(),
                state: DeliveryState::Delivered,
                provider_status: "delivered".into(),
                failure: None,
                timestamp_ms: None,
            })],
            reply: None,
        })
    }
}

switchboard_plugin_sdk::export_plugin!(Trusting);
