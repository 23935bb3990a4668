//! Hostile test plugin: `send` panics when the message text is `panic` and works otherwise,
//! so a test can drive a connection into quarantine and then see a good call end it.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Flaky;

impl Plugin for Flaky {
    fn describe() -> Manifest {
        common::manifest("test-flaky", &[])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        if msg.content.text.as_deref() == Some("panic") {
            panic!("told to panic");
        }
        Ok(Sent {
            provider_message_id: format!("flaky-{}", msg.id),
        })
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

switchboard_plugin_sdk::export_plugin!(Flaky);
