//! Hostile test plugin: answers with far more than any channel needs, picked by the message
//! text:
//! - `id`: a 1 MiB provider message id (refused by the host's cap on identifiers);
//! - `detail`: a failure with a 1 MiB detail and provider code (truncated by the host);
//! - `huge`: a 20 MiB provider message id (above the host's cap on what one call may copy
//!   out of the guest, so it is never copied);
//! - `violations`: `validate` reports 20,000 violations (cut to the host's cap).
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Flood;

fn text(msg: &Message) -> &str {
    msg.content.text.as_deref().unwrap_or_default()
}

impl Plugin for Flood {
    fn describe() -> Manifest {
        let mut m = common::manifest("test-flood", &[]);
        m.limits.max_text_bytes = 100;
        m
    }
    fn validate(msg: &Message) -> Vec<Violation> {
        if text(msg) != "violations" {
            return vec![];
        }
        (0..20_000)
            .map(|i| Violation {
                code: "flood".into(),
                field: format!("content.text[{i}]"),
                message: "x".repeat(200),
            })
            .collect()
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        match text(&msg) {
            "id" => Ok(Sent {
                provider_message_id: "i".repeat(1 << 20),
            }),
            "huge" => Ok(Sent {
                provider_message_id: "h".repeat(20 << 20),
            }),
            _ => Err(SendError::permanent(
                FailureReason::ProviderError,
                Some("c".repeat(1 << 20)),
                "d".repeat(1 << 20),
            )),
        }
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

switchboard_plugin_sdk::export_plugin!(Flood);
