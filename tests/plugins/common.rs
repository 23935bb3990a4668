// Shared by the hostile test plugins: a well-formed manifest and harmless pure exports,
// so only the export under test misbehaves.
use switchboard_plugin_sdk::prelude::*;

pub fn manifest(channel: &str, hosts: &[&str]) -> Manifest {
    Manifest {
        channel: channel.into(),
        name: channel.into(),
        version: "0.0.1".into(),
        capabilities: vec![],
        config_keys: vec![ConfigKey::new(
            "api_key",
            true,
            false,
            "a secret to try to steal",
        )],
        outbound_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        limits: ContentLimits {
            max_text_bytes: 1000,
            max_subject_bytes: 0,
            max_media: 0,
            max_media_bytes: 0,
            max_carousel_elements: 0,
            max_buttons: 0,
            max_quick_replies: 0,
            media_rules: vec![],
            carousel_needs_images: false,
            carousel_needs_buttons: false,
        },
    }
}

#[allow(dead_code, reason = "test-trap traps instead of quoting")]
pub fn quote() -> Quote {
    Quote {
        product: "test".into(),
        units: 1,
        encoding: "utf-8".into(),
        country: None,
    }
}

/// A harmless plugin whose `send` answers `<prefix><message id>`: for test plugins whose point
/// is how they are packaged (their API version stamp), not what they do.
#[allow(unused_macros, reason = "only the contract-probe plugins use it")]
macro_rules! plain_plugin {
    ($plugin:ident, $channel:literal, $prefix:literal) => {
        pub struct $plugin;

        impl Plugin for $plugin {
            fn describe() -> Manifest {
                common::manifest($channel, &[])
            }
            fn validate(_: &Message) -> Vec<Violation> {
                vec![]
            }
            fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
                Ok(common::quote())
            }
            fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
                Ok(Sent {
                    provider_message_id: format!("{}{}", $prefix, msg.id),
                })
            }
            fn handle_webhook(
                _: WebhookRequest,
                _: Connection,
            ) -> Result<WebhookOutcome, WebhookError> {
                Err(WebhookError::BadRequest("no webhooks".into()))
            }
        }
    };
}
#[allow(unused_imports, reason = "only the contract-probe plugins use it")]
pub(crate) use plain_plugin;
