//! Test plugin exported the way plugins were before the SDK stamped an API version: no
//! `switchboard:api-version` section. The host must judge it by the version of the
//! `switchboard:channel/plugin@0.1.0` interface it exports, load it, and send through it.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Unversioned;

impl Plugin for Unversioned {
    fn describe() -> Manifest {
        common::manifest("test-unversioned", &[])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        Ok(Sent {
            provider_message_id: format!("unversioned-{}", msg.id),
        })
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

#[cfg(target_arch = "wasm32")]
const _: () = {
    switchboard_plugin_sdk::bindings::__export_channel_plugin!(Unversioned with_types_in switchboard_plugin_sdk::bindings);
};
