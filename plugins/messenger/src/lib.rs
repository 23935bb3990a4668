//! Facebook Messenger channel plugin speaking the Graph API.
//!
//! - [`validate`]: the Messenger-specific content rules and the `messaging_type` / `tag`
//!   message options (the host enforces the generic manifest limits).
//! - [`window`]: the 24-hour messaging window and its HUMAN_AGENT extension, decided before
//!   any HTTP request from the host-tracked `to.last_inbound_ms`.
//! - [`send`]: `POST {base}/{version}/me/messages` bodies (text, attachment, generic
//!   template, button template, quick replies) and the two-call split for text + attachment.
//! - [`errors`]: the Graph error envelope mapped on code/subcode.
//! - [`webhook`]: the GET verification handshake and signed page webhooks.
//! - [`sync`]: contact sync through the page's conversations.

pub mod errors;
pub mod send;
pub mod sync;
pub mod validate;
pub mod webhook;
pub mod window;

use switchboard_plugin_sdk::prelude::*;

pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";
/// Tags the connection may use outside the 24-hour window unless configured otherwise.
pub const DEFAULT_ALLOWED_TAGS: &str = "HUMAN_AGENT";
/// Attachments up to 25 MB of any type, the Send API's asset limit. Source: Meta, Messenger
/// Platform, "Saving assets" (developers.facebook.com/docs/messenger-platform/send-messages/
/// saving-assets): "supports saving the following asset types, up to 25 MB in size".
pub const MAX_MEDIA_BYTES: u64 = 25 * 1024 * 1024;
/// Images sent by URL (how this plugin sends every attachment) up to 8 MB. Source: the same
/// page: "image — 8 MB max for URL uploads".
pub const MAX_IMAGE_URL_BYTES: u64 = 8 * 1024 * 1024;
pub const AUDIO_EXTENSIONS: &[&str] = &["mp3", "m4a", "aac", "wav", "ogg"];

pub struct MessengerPlugin;

/// The connection's API origin and version, e.g. `https://graph.facebook.com/v21.0`.
pub fn api_root() -> String {
    let base = config::get("base_url")
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    let version = config::get("api_version")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API_VERSION.into());
    format!(
        "{}/{}",
        base.trim().trim_end_matches('/'),
        version.trim().trim_matches('/')
    )
}

/// The connection's `allowed_tags`, upper-cased; the default when unset.
pub fn allowed_tags() -> Vec<String> {
    let raw = config::get("allowed_tags")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ALLOWED_TAGS.into());
    parse_tags(&raw)
}

pub fn parse_tags(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn limits() -> ContentLimits {
    // The host checks each cap against the size the URL really serves, before accepting.
    let media_rules = vec![
        media::custom(
            MediaKind::Image,
            media::IMAGE_EXTENSIONS,
            MAX_IMAGE_URL_BYTES,
        ),
        media::custom(MediaKind::Video, media::VIDEO_EXTENSIONS, MAX_MEDIA_BYTES),
        // Documents up to the same 25 MB: Facebook documents no smaller cap for `file`.
        media::custom(MediaKind::File, media::DOCUMENT_EXTENSIONS, MAX_MEDIA_BYTES),
        media::custom(MediaKind::Audio, AUDIO_EXTENSIONS, MAX_MEDIA_BYTES),
    ];
    ContentLimits {
        // 2000 characters (validated as characters); 4 bytes is the widest UTF-8 character.
        max_text_bytes: (validate::MAX_TEXT_CHARS * 4) as u32,
        max_subject_bytes: 0,
        max_media: 1,
        max_media_bytes: MAX_MEDIA_BYTES,
        max_carousel_elements: validate::MAX_CAROUSEL_ELEMENTS as u32,
        max_buttons: validate::MAX_BUTTONS as u32,
        max_quick_replies: validate::MAX_QUICK_REPLIES as u32,
        media_rules,
        carousel_needs_images: true,
        carousel_needs_buttons: true,
    }
}

impl Plugin for MessengerPlugin {
    fn describe() -> Manifest {
        let key = ConfigKey::new;
        Manifest {
            channel: "messenger".into(),
            name: "facebook-messenger".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: vec![
                Capability::StatusCallbacks.into(),
                Capability::Seen.into(),
                Capability::ContactSync.into(),
                Capability::MessagingWindow.into(),
            ],
            config_keys: vec![
                key(
                    "page_id",
                    false,
                    true,
                    "The Facebook Page id messages are sent as",
                ),
                key(
                    "page_access_token",
                    true,
                    true,
                    "Page access token with pages_messaging (sent as Authorization: Bearer)",
                ),
                key(
                    "app_secret",
                    true,
                    true,
                    "App secret: key of the X-Hub-Signature-256 webhook HMAC",
                ),
                // A secret: whoever knows it can complete the handshake and point the app's
                // callbacks here, and the host compares it without it entering the plugin.
                key(
                    "verify_token",
                    true,
                    true,
                    "Token expected in the webhook GET verification handshake",
                ),
                key(
                    "api_version",
                    false,
                    false,
                    "Graph API version, default v21.0",
                ),
                key(
                    "base_url",
                    false,
                    false,
                    "API origin, default https://graph.facebook.com",
                ),
                key(
                    "allowed_tags",
                    false,
                    false,
                    "Comma list of message tags usable outside the 24 h window, default HUMAN_AGENT",
                ),
            ],
            outbound_hosts: vec![DEFAULT_BASE_URL.into()],
            limits: limits(),
        }
    }

    fn validate(msg: &Message) -> Vec<Violation> {
        // Without a connection (intake) there is no config: any Messenger tag passes here and
        // the connection's own list is applied at send time.
        let allowed = config::get("allowed_tags")
            .filter(|t| !t.trim().is_empty())
            .map(|t| parse_tags(&t))
            .unwrap_or_else(|| validate::KNOWN_TAGS.iter().map(|t| t.to_string()).collect());
        validate::violations(msg, &allowed)
    }

    fn quote(msg: &Message) -> Result<Quote, Vec<Violation>> {
        let v = Self::validate(msg);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(Quote {
            product: "messenger".into(),
            units: send::plan(msg).len() as u32,
            encoding: "utf-8".into(),
            country: None,
        })
    }

    fn send(msg: Message, _conn: Connection) -> Result<Sent, SendError> {
        send::send(&msg)
    }

    fn handle_webhook(
        req: WebhookRequest,
        _conn: Connection,
    ) -> Result<WebhookOutcome, WebhookError> {
        webhook::handle(&req)
    }

    fn sync_contacts(_conn: Connection, cursor: Option<String>) -> Result<ContactPage, SendError> {
        sync::sync_contacts(cursor.as_deref())
    }
}

switchboard_plugin_sdk::export_plugin!(MessengerPlugin);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use switchboard_plugin_sdk::testing::{MockGuard, MockHost};

    pub const PAGE: &str = "104729384756102";
    pub const PSID: &str = "7364520918273645";
    pub const NOW: u64 = 1_800_000_000_000;
    pub const HOUR: u64 = 3_600_000;
    pub const DAY: u64 = 24 * HOUR;

    pub fn host() -> MockHost {
        let mut h = MockHost::new()
            .config("page_id", PAGE)
            .secret("verify_token", "vt-123")
            .secret("page_access_token", "EAAtoken")
            .secret("app_secret", "s3cret");
        h.now_ms = NOW;
        h
    }

    pub fn conn() -> Connection {
        Connection {
            id: "conn_1".into(),
            name: "Shop page".into(),
            webhook_url: "https://gw.example/v1/webhooks/conn_1".into(),
        }
    }

    pub fn message(text: &str) -> Message {
        Message {
            id: "msg_1".into(),
            workspace: "ws_1".into(),
            to: Recipient {
                phone: None,
                country: None,
                email: None,
                psid: Some(PSID.into()),
                push_token: None,
                push_platform: None,
                name: Some("Ada".into()),
                last_inbound_ms: Some(NOW - HOUR),
            },
            content: Content {
                text: Some(text.into()),
                subject: None,
                media: vec![],
                carousel: vec![],
                buttons: vec![],
                quick_replies: vec![],
                template: None,
                data: vec![],
            },
            category: Category::Transactional,
            metadata: vec![],
            options: vec![],
            idempotency_key: "dlv_1".into(),
        }
    }

    pub fn install(h: MockHost) -> MockGuard {
        h.install()
    }

    #[test]
    fn manifest_declares_channel_keys_and_limits() {
        let m = MessengerPlugin::describe();
        assert_eq!(
            (m.channel.as_str(), m.name.as_str()),
            ("messenger", "facebook-messenger")
        );
        for cap in [
            "status-callbacks",
            "seen",
            "contact-sync",
            "messaging-window",
        ] {
            assert!(m.capabilities.iter().any(|c| c == cap), "{cap}");
        }
        let secret = |n: &str| {
            m.config_keys
                .iter()
                .find(|k| k.name == n)
                .map(|k| (k.secret, k.required))
        };
        assert_eq!(secret("page_id"), Some((false, true)));
        assert_eq!(secret("page_access_token"), Some((true, true)));
        assert_eq!(secret("app_secret"), Some((true, true)));
        assert_eq!(secret("verify_token"), Some((true, true)));
        assert_eq!(secret("api_version"), Some((false, false)));
        assert_eq!(secret("allowed_tags"), Some((false, false)));
        let l = &m.limits;
        assert_eq!(
            (
                l.max_carousel_elements,
                l.max_buttons,
                l.max_quick_replies,
                l.max_media
            ),
            (10, 3, 13, 1)
        );
        assert!(l.carousel_needs_images && l.carousel_needs_buttons);
        let cap = |kind| {
            l.media_rules
                .iter()
                .find(|r| r.kind == kind)
                .map(|r| r.max_bytes)
        };
        assert_eq!(cap(MediaKind::Image), Some(8 * 1024 * 1024));
        for kind in [MediaKind::Video, MediaKind::File, MediaKind::Audio] {
            assert_eq!(cap(kind), Some(25 * 1024 * 1024));
        }
        let audio = l
            .media_rules
            .iter()
            .find(|r| r.kind == MediaKind::Audio)
            .unwrap();
        assert_eq!(audio.extensions, ["mp3", "m4a", "aac", "wav", "ogg"]);
        assert_eq!(l.media_rules.len(), 4);
    }

    #[test]
    fn quote_counts_send_api_calls() {
        let _h = install(host());
        let q = MessengerPlugin::quote(&message("hi")).unwrap();
        assert_eq!((q.product.as_str(), q.units), ("messenger", 1));
        let mut m = message("see attached");
        m.content.media.push(Media {
            kind: MediaKind::Image,
            url: "https://cdn.example/a.png".into(),
            mime_type: "image/png".into(),
            size: 10,
        });
        assert_eq!(MessengerPlugin::quote(&m).unwrap().units, 2);
    }

    #[test]
    fn api_root_uses_defaults_and_trims() {
        let _h = install(host());
        assert_eq!(api_root(), "https://graph.facebook.com/v21.0");
        drop(_h);
        let _h = install(
            host()
                .config("base_url", "http://127.0.0.1:9/")
                .config("api_version", "v19.0"),
        );
        assert_eq!(api_root(), "http://127.0.0.1:9/v19.0");
    }
}
