//! Test plugin exported the way plugins were before plugin API 0.2.0 and before the SDK
//! stamped an API version: no `switchboard:api-version` section, and 0.1.0's export (no
//! `find-sent`), bound here with wit-bindgen against `schemas/wit/since_v0.1.0` onto the
//! SDK's types. The host must judge it by the version of the
//! `switchboard:channel/plugin@0.1.0` interface it exports, load it, and send through it: a
//! plugin built for 0.1.0 keeps working on a later host.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

common::plain_plugin!(Unversioned, "test-unversioned", "unversioned-");

mod v0_1_0 {
    wit_bindgen::generate!({
        path: "../../../schemas/wit/since_v0.1.0",
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

    use super::Unversioned;
    use switchboard_plugin_sdk::prelude::*;

    impl exports::switchboard::channel::plugin::Guest for Unversioned {
        fn describe() -> Manifest {
            <Unversioned as Plugin>::describe()
        }
        fn validate(msg: Message) -> Vec<Violation> {
            <Unversioned as Plugin>::validate(&msg)
        }
        fn quote(msg: Message) -> Result<Quote, Vec<Violation>> {
            <Unversioned as Plugin>::quote(&msg)
        }
        fn send(msg: Message, conn: Connection) -> Result<Sent, SendError> {
            <Unversioned as Plugin>::send(msg, conn)
        }
        // 0.1.0's outcome type, not the SDK's (0.3.0's, which 0.4.0 keeps); this probe takes no callbacks.
        fn handle_webhook(
            _: WebhookRequest,
            _: Connection,
        ) -> Result<switchboard_plugin_sdk::bindings::channel::types::WebhookOutcome, WebhookError>
        {
            Err(WebhookError::BadRequest("no webhooks".into()))
        }
        fn sync_contacts(
            conn: Connection,
            cursor: Option<String>,
        ) -> Result<ContactPage, SendError> {
            <Unversioned as Plugin>::sync_contacts(conn, cursor)
        }
        fn lookup_status(
            provider_message_id: String,
            conn: Connection,
        ) -> Result<Option<StatusUpdate>, SendError> {
            <Unversioned as Plugin>::lookup_status(provider_message_id, conn)
        }
    }

    #[cfg(target_arch = "wasm32")]
    export!(Unversioned);
}
