//! AlimTalk (KakaoTalk business messages, Korea) speaking a Solapi-like v4 API.
//!
//! - [`solapi`]: `POST /messages/v4/send` with one ATA message (template id, `#{variables}`,
//!   buttons, `disableSms: true`: the gateway runs the SMS/LMS substitute itself).
//! - [`auth`]: the `HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…` header, signed by the
//!   host with the API secret; the salt is derived, not random (see there why).
//! - [`codes`]: Solapi status and error codes as typed failure reasons (not a KakaoTalk user,
//!   blocked, outside sending hours with the wait until 08:00 KST, …).
//! - [`webhook`]: signed delivery reports (3000 sent, 4000 delivered, failures).
//! - [`validate`], [`phone`]: the rules, E.164 → Korean domestic numbers. ISO 8601 dates come
//!   from `switchboard-iso-time`, shared with the simulator so both write them alike.

pub mod auth;
pub mod codes;
pub mod find;
pub mod phone;
pub mod solapi;
pub mod validate;
pub mod webhook;

use switchboard_plugin_sdk::prelude::*;

pub struct AlimTalkPlugin;

impl Plugin for AlimTalkPlugin {
    fn describe() -> Manifest {
        let key = ConfigKey::new;
        Manifest {
            channel: "alimtalk".into(),
            name: "solapi-alimtalk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: vec![
                Capability::StatusCallbacks.into(),
                Capability::FindSent.into(),
                Capability::Templates.into(),
            ],
            config_keys: vec![
                key(
                    "api_key",
                    false,
                    true,
                    "Solapi API key (NCS…): an identifier sent in every Authorization header",
                ),
                key(
                    auth::SECRET,
                    true,
                    true,
                    "Solapi API secret: signs requests and verifies delivery reports",
                ),
                key(
                    "pf_id",
                    false,
                    true,
                    "KakaoTalk channel profile id (pfId) the templates are registered to",
                ),
                key(
                    "sender",
                    false,
                    true,
                    "Registered sender number, e.g. 0212345678",
                ),
                key(
                    "base_url",
                    false,
                    false,
                    "API origin, default https://api.solapi.com",
                ),
            ],
            outbound_hosts: vec![solapi::DEFAULT_BASE_URL.into()],
            limits: ContentLimits {
                // The text is the provider-rendered template, not free text.
                max_text_bytes: 0,
                max_subject_bytes: 0,
                max_media: 0,
                max_media_bytes: 0,
                max_carousel_elements: 0,
                max_buttons: validate::MAX_BUTTONS as u32,
                max_quick_replies: 0,
                media_rules: vec![],
                carousel_needs_images: false,
                carousel_needs_buttons: false,
            },
        }
    }

    fn validate(msg: &Message) -> Vec<Violation> {
        validate::violations(msg)
    }

    fn quote(msg: &Message) -> Result<Quote, Vec<Violation>> {
        let v = validate::violations(msg);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(Quote {
            product: "alimtalk".into(),
            units: 1,
            encoding: "utf-8".into(),
            country: Some("KR".into()),
        })
    }

    fn send(msg: Message, _conn: Connection) -> Result<Sent, SendError> {
        solapi::send(&msg)
    }

    fn find_sent(
        msg: Message,
        _conn: Connection,
        window: AttemptWindow,
    ) -> Result<FindOutcome, SendError> {
        find::find_sent(&msg, window)
    }

    fn handle_webhook(
        req: WebhookRequest,
        _conn: Connection,
    ) -> Result<WebhookOutcome, WebhookError> {
        webhook::handle(&req)
    }
}

switchboard_plugin_sdk::export_plugin!(AlimTalkPlugin);

#[cfg(test)]
mod tests;
