//! Test plugin built for a plugin API this host does not support (0.9.0). It is otherwise a
//! working plugin: the host must refuse it by its declared version, naming it, before
//! compiling it, and keep every other plugin serving.
//!
//! It exports itself by hand instead of through `export_plugin!`, which would stamp the
//! SDK's real version; the sections below are what a future SDK would write.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Future;

impl Plugin for Future {
    fn describe() -> Manifest {
        common::manifest("test-future", &[])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        Ok(Sent {
            provider_message_id: format!("future-{}", msg.id),
        })
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

#[cfg(target_arch = "wasm32")]
const _: () = {
    switchboard_plugin_sdk::bindings::__export_channel_plugin!(Future with_types_in switchboard_plugin_sdk::bindings);

    #[unsafe(link_section = "switchboard:api-version")]
    #[used]
    static API_VERSION: [u8; 6] = [0, 0, 0, 9, 0, 0];

    #[unsafe(link_section = "switchboard:plugin-package")]
    #[used]
    static PACKAGE_NAME: [u8; 18] = *b"test-plugin-future";
};
