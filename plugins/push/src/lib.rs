//! Mobile push channel plugin: one plugin, two providers, chosen per message by
//! `to.push_platform`.
//!
//! - [`fcm`]: `"android"` → FCM HTTP v1, authenticated by an OAuth access token obtained with a
//!   host-signed (RS256) service-account JWT and kept in the connection cache until shortly
//!   before it expires.
//! - [`apns`]: `"ios"` → APNs over HTTP/2, authenticated by a host-signed (ES256) provider JWT
//!   kept in the connection cache for 40 minutes.
//! - [`payload`]: options and both provider payloads, pure, so validation measures exactly
//!   what is sent.
//!
//! Delivery is confirmed by the app itself, which posts signed receipts to the host's
//! `/v1/receipts` (capabilities "device-receipts" and "seen"); providers send no webhooks.

pub mod apns;
pub mod fcm;
pub mod jwt;
pub mod payload;

#[cfg(test)]
mod tests;

use switchboard_plugin_sdk::prelude::*;

use crate::payload::{MAX_PAYLOAD_BYTES, Platform};

/// Notification images are downloaded by the device. Source: Firebase, "Send an image in the
/// notification payload" (firebase.google.com/docs/cloud-messaging/android/send-image):
/// "Images for notifications are limited to 1MB in size".
pub const MAX_IMAGE_BYTES: u64 = 1024 * 1024;

pub struct PushPlugin;

/// A token the provider says is dead or not ours: never retried, and the host marks the
/// token invalid on the contact so it is not used again.
pub(crate) fn dead_token(code: Option<String>, detail: String) -> SendError {
    SendError::permanent(
        FailureReason::RecipientInvalid,
        code,
        format!("{detail}: device token is invalid; the host marks it invalid on the contact"),
    )
}

fn config_keys() -> Vec<ConfigKey> {
    let key = ConfigKey::new;
    vec![
        key(
            "fcm_project_id",
            false,
            false,
            "Firebase project id (Android)",
        ),
        key(
            "fcm_client_email",
            false,
            false,
            "Service account client_email from the service account JSON",
        ),
        key(
            "fcm_private_key",
            true,
            false,
            "Service account private_key (RSA PEM) from the service account JSON",
        ),
        key(
            "fcm_token_uri",
            false,
            false,
            "OAuth token endpoint, default https://oauth2.googleapis.com/token",
        ),
        key(
            "fcm_base_url",
            false,
            false,
            "FCM API origin, default https://fcm.googleapis.com",
        ),
        key(
            "apns_team_id",
            false,
            false,
            "Apple developer team id (iOS)",
        ),
        key("apns_key_id", false, false, "Key id of the APNs auth key"),
        key("apns_topic", false, false, "The app's bundle id"),
        key(
            "apns_private_key",
            true,
            false,
            "APNs auth key (.p8, PKCS#8 EC PEM)",
        ),
        key(
            "apns_base_url",
            false,
            false,
            "APNs origin, default https://api.push.apple.com",
        ),
    ]
}

/// Every violation of a message; the payload size is checked on the payload as sent.
pub fn violations(msg: &Message) -> Vec<Violation> {
    let mut v = Vec::new();
    let token = msg.to.push_token.as_deref().unwrap_or("");
    if token.is_empty() {
        v.push(Violation::new(
            "required",
            "to.push_token",
            "a push needs a device token",
        ));
    } else if token
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
    {
        v.push(Violation::new(
            "invalid_format",
            "to.push_token",
            "a device token has no whitespace, `/`, `?`, `#` or `%`",
        ));
    }
    let platform = match msg.to.push_platform.as_deref() {
        None | Some("") => {
            v.push(Violation::new(
                "required",
                "to.push_platform",
                "push_platform is `android` or `ios`",
            ));
            None
        }
        Some(p) => {
            let parsed = Platform::parse(p);
            if parsed.is_none() {
                v.push(Violation::new(
                    "invalid_value",
                    "to.push_platform",
                    format!("push_platform is `android` or `ios`, not `{p}`"),
                ));
            }
            parsed
        }
    };
    let c = &msg.content;
    if !payload::is_alert(c) && c.data.is_empty() {
        v.push(Violation::new(
            "required",
            "content",
            "a push needs a title (subject), a body (text) or data",
        ));
    }
    for (key, _) in &c.data {
        if key.is_empty() || payload::is_reserved_key(key) {
            v.push(Violation::new(
                "reserved_key",
                "content.data",
                format!("data key `{key}` is empty or reserved by the plugin or provider"),
            ));
        }
    }
    if c.media.len() > 1 {
        v.push(Violation::new(
            "too_many",
            "content.media",
            "a push carries at most one image",
        ));
    }
    let unsupported = [
        ("content.carousel", c.carousel.is_empty()),
        ("content.buttons", c.buttons.is_empty()),
        ("content.quick_replies", c.quick_replies.is_empty()),
        ("content.template", c.template.is_none()),
    ];
    for (field, ok) in unsupported {
        if !ok {
            v.push(Violation::new(
                "unsupported",
                field,
                "a push notification cannot carry this",
            ));
        }
    }
    let (opts, option_violations) = payload::parse_options(&msg.options);
    v.extend(option_violations);
    if let Some(platform) = platform {
        let size = payload::body_bytes(platform, msg, token, &opts).len();
        if size > MAX_PAYLOAD_BYTES {
            v.push(Violation::new(
                "payload_too_large",
                "content",
                format!("the provider payload is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}"),
            ));
        }
    }
    v
}

impl Plugin for PushPlugin {
    fn describe() -> Manifest {
        Manifest {
            channel: "push".into(),
            name: "fcm-apns-push".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: vec![Capability::DeviceReceipts.into(), Capability::Seen.into()],
            config_keys: config_keys(),
            outbound_hosts: vec![
                fcm::DEFAULT_TOKEN_URI.trim_end_matches("/token").to_owned(),
                fcm::DEFAULT_BASE_URL.into(),
                apns::DEFAULT_BASE_URL.into(),
            ],
            limits: ContentLimits {
                max_text_bytes: MAX_PAYLOAD_BYTES as u32,
                max_subject_bytes: MAX_PAYLOAD_BYTES as u32,
                max_media: 1,
                max_media_bytes: MAX_IMAGE_BYTES,
                max_carousel_elements: 0,
                max_buttons: 0,
                max_quick_replies: 0,
                media_rules: media::image_rules(MAX_IMAGE_BYTES),
                carousel_needs_images: false,
                carousel_needs_buttons: false,
            },
        }
    }

    fn validate(msg: &Message) -> Vec<Violation> {
        violations(msg)
    }

    fn quote(msg: &Message) -> Result<Quote, Vec<Violation>> {
        let v = violations(msg);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(Quote {
            product: "push".into(),
            units: 1,
            encoding: "utf-8".into(),
            country: None,
        })
    }

    fn send(msg: Message, _conn: Connection) -> Result<Sent, SendError> {
        let v = violations(&msg);
        if let Some(first) = v.first() {
            return Err(SendError::permanent(
                FailureReason::InvalidFormat,
                Some(first.code.clone()),
                format!("{}: {}", first.field, first.message),
            ));
        }
        let (opts, _) = payload::parse_options(&msg.options);
        let token = msg.to.push_token.as_deref().unwrap_or_default();
        match msg.to.push_platform.as_deref().and_then(Platform::parse) {
            Some(Platform::Android) => fcm::send(&msg, token, &opts),
            Some(Platform::Ios) => apns::send(&msg, token, &opts),
            None => Err(SendError::permanent(
                FailureReason::InvalidFormat,
                None,
                "push_platform is `android` or `ios`",
            )),
        }
    }

    fn handle_webhook(
        _req: WebhookRequest,
        _conn: Connection,
    ) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest(
            "FCM and APNs send no webhooks; device receipts go to the host's /v1/receipts".into(),
        ))
    }
}

switchboard_plugin_sdk::export_plugin!(PushPlugin);
