//! Host-side bindings for `switchboard:channel@0.1.0` (`schemas/wit/since_v0.1.0`).
//!
//! `http.send` is async so a plugin waiting on a provider parks a fiber, not a thread; the
//! other imports are cheap and synchronous. Exports are async because every call runs under
//! an epoch deadline and a tokio timeout.
//!
//! Its vocabulary is still the host's for everything 0.3.0 left alone; what 0.3.0 changed
//! (the webhook outcome) converts into the latest types below, as Zed's
//! `wasm_host/wit/since_v0_X_0.rs` modules do, so the rest of the host speaks one set.

wasmtime::component::bindgen!({
    path: "../../schemas/wit/since_v0.1.0",
    world: "channel-plugin",
    imports: {
        "switchboard:channel/http.send": async,
        default: trappable,
    },
    exports: { default: async },
});

pub use self::exports::switchboard::channel::plugin as exports_plugin;
pub use self::switchboard::channel::types as wit;

/// 0.1.0's webhook answers (0.2.0 speaks the same types) in the latest version's types: an
/// older plugin never reports echoes or payloads, so those are simply absent.
mod to_latest {
    use super::super::since_v0_3_0::events as latest;
    use super::wit;

    impl From<wit::InboundMessage> for latest::InboundMessage {
        fn from(m: wit::InboundMessage) -> Self {
            latest::InboundMessage {
                sender: m.sender,
                provider_message_id: m.provider_message_id,
                text: m.text,
                media: m.media,
                timestamp_ms: m.timestamp_ms,
                payload: None,
            }
        }
    }

    impl From<wit::WebhookEvent> for latest::WebhookEvent {
        fn from(e: wit::WebhookEvent) -> Self {
            match e {
                wit::WebhookEvent::Status(s) => latest::WebhookEvent::Status(s),
                wit::WebhookEvent::Watermark(w) => latest::WebhookEvent::Watermark(w),
                wit::WebhookEvent::Inbound(m) => latest::WebhookEvent::Inbound(m.into()),
                wit::WebhookEvent::Activity(a) => latest::WebhookEvent::Activity(a),
            }
        }
    }

    impl From<wit::WebhookOutcome> for latest::WebhookOutcome {
        fn from(o: wit::WebhookOutcome) -> Self {
            latest::WebhookOutcome {
                events: o.events.into_iter().map(Into::into).collect(),
                reply: o.reply,
            }
        }
    }
}
