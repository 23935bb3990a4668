//! The generic webhook channel: each message is POSTed as JSON to a URL the connection
//! names, signed per Standard Webhooks (<https://www.standardwebhooks.com>), and the
//! receiver reports delivery by posting signed status callbacks back.
//!
//! - [`send`]: the request, its signature and what each HTTP answer means.
//! - [`callback`]: verifying and normalising the receiver's status callbacks.
//!
//! The manifest names no outbound host: where this channel may POST is the operator's call
//! (`--allow-origin`, and `--allow-private-net` for an internal address), never the
//! workspace's. See docs/plugins.md.

pub mod callback;
pub mod send;

use switchboard_plugin_sdk::prelude::*;

/// The per-connection HMAC key; its UTF-8 bytes are the key, used as they are.
pub const SIGNING_SECRET: &str = "signing_secret";

/// What a Standard Webhooks signature covers: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat()
}

pub struct WebhookPlugin;

impl Plugin for WebhookPlugin {
    fn describe() -> Manifest {
        Manifest::new("webhook", "generic-webhook", env!("CARGO_PKG_VERSION"))
            .capability(Capability::StatusCallbacks)
            .config_key(ConfigKey::config("url", "Where messages are POSTed"))
            .config_key(ConfigKey::secret(SIGNING_SECRET, "HMAC-SHA256 key"))
            .limits(ContentLimits {
                max_text_bytes: 64 << 10,
                max_subject_bytes: 998,
                ..ContentLimits::default()
            })
    }

    fn send(msg: Message, conn: Connection) -> Result<Sent, SendError> {
        send::send(&msg, &conn)
    }

    fn handle_webhook(req: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        callback::handle(&req)
    }
}

switchboard_plugin_sdk::export_plugin!(WebhookPlugin);

#[cfg(test)]
mod tests;
