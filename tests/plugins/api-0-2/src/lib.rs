//! Test plugin built the way the SDK built plugins for plugin API 0.2.0: stamped 0.2.0 (the
//! `switchboard:api-version` and `switchboard:plugin-package` sections the SDK wrote) and
//! exporting `switchboard:channel/plugin@0.2.0`, bound here with wit-bindgen against
//! `schemas/wit/since_v0.2.0` onto the SDK's 0.1.0 vocabulary. Its `handle-webhook` answers
//! 0.2.0's webhook outcome, which has no echoes and no payloads. The host must load it as
//! 0.2.0 and send through it: a plugin built for 0.2.0 keeps working on a later host.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

common::plain_plugin!(Api02, "test-api-0-2", "api-0-2-");

mod v0_2_0 {
    wit_bindgen::generate!({
        path: "../../../schemas/wit/since_v0.2.0",
        world: "channel-plugin",
        with: {
            "switchboard:channel/types@0.1.0": switchboard_plugin_sdk::bindings::channel::types,
            "switchboard:channel/http@0.1.0": switchboard_plugin_sdk::bindings::channel::http,
            "switchboard:channel/config@0.1.0": switchboard_plugin_sdk::bindings::channel::config,
            "switchboard:channel/secrets@0.1.0": switchboard_plugin_sdk::bindings::channel::secrets,
            "switchboard:channel/log@0.1.0": switchboard_plugin_sdk::bindings::channel::log,
            "switchboard:channel/clock@0.1.0": switchboard_plugin_sdk::bindings::channel::clock,
            "switchboard:channel/cache@0.1.0": switchboard_plugin_sdk::bindings::channel::cache,
            "switchboard:channel/webhook-auth@0.1.0": switchboard_plugin_sdk::bindings::channel::webhook_auth,
        },
    });

    use super::Api02;
    use exports::switchboard::channel0_2_0::plugin::{AttemptWindow, FindOutcome, Guest};
    use switchboard_plugin_sdk::bindings::channel::types::WebhookOutcome;
    use switchboard_plugin_sdk::prelude::{
        ContactPage, Plugin, Quote, SendError, Sent, StatusUpdate, Violation, WebhookError,
        WebhookRequest,
    };
    use switchboard_plugin_sdk::{Connection, Manifest, Message};

    impl Guest for Api02 {
        fn describe() -> Manifest {
            <Api02 as Plugin>::describe()
        }
        fn validate(msg: Message) -> Vec<Violation> {
            <Api02 as Plugin>::validate(&msg)
        }
        fn quote(msg: Message) -> Result<Quote, Vec<Violation>> {
            <Api02 as Plugin>::quote(&msg)
        }
        fn send(msg: Message, conn: Connection) -> Result<Sent, SendError> {
            <Api02 as Plugin>::send(msg, conn)
        }
        fn handle_webhook(
            _: WebhookRequest,
            _: Connection,
        ) -> Result<WebhookOutcome, WebhookError> {
            Err(WebhookError::BadRequest("no webhooks".into()))
        }
        fn sync_contacts(
            conn: Connection,
            cursor: Option<String>,
        ) -> Result<ContactPage, SendError> {
            <Api02 as Plugin>::sync_contacts(conn, cursor)
        }
        fn lookup_status(
            provider_message_id: String,
            conn: Connection,
        ) -> Result<Option<StatusUpdate>, SendError> {
            <Api02 as Plugin>::lookup_status(provider_message_id, conn)
        }
        fn find_sent(
            _: Message,
            _: Connection,
            _: AttemptWindow,
        ) -> Result<FindOutcome, SendError> {
            Ok(FindOutcome::CannotAsk)
        }
    }

    #[cfg(target_arch = "wasm32")]
    export!(Api02);

    /// What the 0.2.0 SDK's `export_plugin!` wrote: API 0.2.0 (major, minor, patch as
    /// big-endian `u16`s) and the package name.
    #[cfg(target_arch = "wasm32")]
    #[unsafe(link_section = "switchboard:api-version")]
    #[used]
    static API_VERSION: [u8; 6] = [0, 0, 0, 2, 0, 0];

    #[cfg(target_arch = "wasm32")]
    const PACKAGE: &str = env!("CARGO_PKG_NAME");
    #[cfg(target_arch = "wasm32")]
    #[unsafe(link_section = "switchboard:plugin-package")]
    #[used]
    static PACKAGE_NAME: [u8; PACKAGE.len()] = switchboard_plugin_sdk::__section_bytes(PACKAGE);
}
