//! Test plugin built the way the SDK built plugins for plugin API 0.3.0: stamped 0.3.0 (the
//! `switchboard:api-version` and `switchboard:plugin-package` sections the SDK wrote) and
//! exporting `switchboard:channel/plugin@0.3.0`, bound here with wit-bindgen against
//! `schemas/wit/since_v0.3.0` onto the SDK's 0.1.0 vocabulary and 0.3.0 webhook outcome. Its
//! `send` takes no sender and it has no domain exports, yet its manifest claims the
//! "sender-domains" capability: the host must load it as 0.3.0, send through it, drop the
//! claim (a 0.3.0 plugin cannot be handed a sender) and answer its connections' sender-domain
//! calls as unsupported. A plugin built for 0.3.0 keeps working on a 0.4.0 host.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Api03;

impl Plugin for Api03 {
    fn describe() -> Manifest {
        let mut m = common::manifest("test-api-0-3", &[]);
        m.capabilities = vec![Capability::SenderDomains.into()];
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
            provider_message_id: format!("api-0-3-{}", msg.id),
        })
    }
}

mod v0_3_0 {
    wit_bindgen::generate!({
        path: "../../../schemas/wit/since_v0.3.0",
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
            "switchboard:channel/events@0.3.0": switchboard_plugin_sdk::bindings::events,
        },
    });

    use super::Api03;
    use exports::switchboard::channel0_3_0::plugin::Guest;
    use switchboard_plugin_sdk::prelude::{
        AttemptWindow, ContactPage, FindOutcome, Plugin, Quote, SendError, Sent, StatusUpdate,
        Violation, WebhookError, WebhookOutcome, WebhookRequest,
    };
    use switchboard_plugin_sdk::{Connection, Manifest, Message};

    impl Guest for Api03 {
        fn describe() -> Manifest {
            <Api03 as Plugin>::describe()
        }
        fn validate(msg: Message) -> Vec<Violation> {
            <Api03 as Plugin>::validate(&msg)
        }
        fn quote(msg: Message) -> Result<Quote, Vec<Violation>> {
            <Api03 as Plugin>::quote(&msg)
        }
        fn send(msg: Message, conn: Connection) -> Result<Sent, SendError> {
            <Api03 as Plugin>::send(msg, conn)
        }
        fn handle_webhook(
            req: WebhookRequest,
            conn: Connection,
        ) -> Result<WebhookOutcome, WebhookError> {
            <Api03 as Plugin>::handle_webhook(req, conn)
        }
        fn sync_contacts(
            conn: Connection,
            cursor: Option<String>,
        ) -> Result<ContactPage, SendError> {
            <Api03 as Plugin>::sync_contacts(conn, cursor)
        }
        fn lookup_status(
            provider_message_id: String,
            conn: Connection,
        ) -> Result<Option<StatusUpdate>, SendError> {
            <Api03 as Plugin>::lookup_status(provider_message_id, conn)
        }
        fn find_sent(
            msg: Message,
            conn: Connection,
            window: AttemptWindow,
        ) -> Result<FindOutcome, SendError> {
            <Api03 as Plugin>::find_sent(msg, conn, window)
        }
    }

    #[cfg(target_arch = "wasm32")]
    export!(Api03);

    /// What the 0.3.0 SDK's `export_plugin!` wrote: API 0.3.0 (major, minor, patch as
    /// big-endian `u16`s) and the package name.
    #[cfg(target_arch = "wasm32")]
    #[unsafe(link_section = "switchboard:api-version")]
    #[used]
    static API_VERSION: [u8; 6] = [0, 0, 0, 3, 0, 0];

    #[cfg(target_arch = "wasm32")]
    const PACKAGE: &str = env!("CARGO_PKG_NAME");
    #[cfg(target_arch = "wasm32")]
    #[unsafe(link_section = "switchboard:plugin-package")]
    #[used]
    static PACKAGE_NAME: [u8; PACKAGE.len()] = switchboard_plugin_sdk::__section_bytes(PACKAGE);
}
