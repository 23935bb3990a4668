//! Test plugin for the network guard: `send` fetches the URL given as the message text, so a
//! test can aim it at loopback or private addresses and see what the host lets through.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Probe;

impl Plugin for Probe {
    fn describe() -> Manifest {
        // No manifest hosts: only the operator's `--allow-origin` lets anything out.
        common::manifest("test-probe", &[])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        let url = msg.content.text.unwrap_or_default();
        let resp = http::send(Request::get(url)).map_err(SendError::from_http)?;
        Ok(Sent {
            provider_message_id: format!("probe-{}", resp.status),
        })
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

switchboard_plugin_sdk::export_plugin!(Probe);
