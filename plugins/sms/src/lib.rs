//! SMS/LMS channel plugin speaking the Twilio Messages API wire format.
//!
//! - [`encoding`]: GSM-7 / UCS-2 segmentation and the Korean EUC-KR SMS/LMS rules; this is
//!   what `validate` and `quote` are made of.
//! - [`twilio`]: the send request (form-encoded, HTTP Basic attached by the host) and the
//!   mapping of Twilio error codes into the gateway's failure taxonomy.
//! - [`webhook`]: status callbacks, verified with `X-Twilio-Signature` (HMAC-SHA1 computed and
//!   compared by the host, so the auth token never enters this plugin).
//!
//! The recipient's country arrives from the host, which parses the E.164 number; Korean
//! numbers (+82, country `KR`) follow the carrier rules instead of GSM segmentation.

pub mod encoding;
pub mod find;
pub mod twilio;
pub mod webhook;

use encoding::{KR_LMS_MAX_BYTES, KR_SUBJECT_MAX_BYTES, KoreanProduct};
use switchboard_plugin_sdk::prelude::*;

/// Twilio rejects bodies over 1,600 characters.
pub const MAX_TEXT_CHARS: usize = 1600;
pub const MAX_MEDIA: usize = 10;

pub struct SmsPlugin;

impl Plugin for SmsPlugin {
    fn describe() -> Manifest {
        let key = ConfigKey::new;
        Manifest {
            channel: "sms".into(),
            name: "twilio-sms".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: vec![
                Capability::StatusCallbacks.into(),
                Capability::FindSent.into(),
                Capability::KoreanLms.into(),
                Capability::StatusLookup.into(),
            ],
            config_keys: vec![
                key("account_sid", false, true, "Twilio Account SID (AC...)"),
                key(
                    "auth_token",
                    true,
                    true,
                    "Twilio auth token: authenticates sends and signs callbacks",
                ),
                key(
                    "from",
                    false,
                    false,
                    "Sender number in E.164; required unless messaging_service_sid is set",
                ),
                key(
                    "messaging_service_sid",
                    false,
                    false,
                    "Twilio Messaging Service SID (MG...)",
                ),
                key(
                    "base_url",
                    false,
                    false,
                    "API origin, default https://api.twilio.com",
                ),
            ],
            outbound_hosts: vec![twilio::DEFAULT_BASE_URL.into()],
            limits: ContentLimits {
                max_text_bytes: KR_LMS_MAX_BYTES as u32,
                max_subject_bytes: KR_SUBJECT_MAX_BYTES as u32,
                max_media: MAX_MEDIA as u32,
                max_media_bytes: 5 * 1024 * 1024,
                max_carousel_elements: 0,
                max_buttons: 0,
                max_quick_replies: 0,
                // MMS images up to 5 MB. Source: Twilio error 11751 (twilio.com/docs/api/
                // errors/11751): "For an MMS message, the size limit is 5MB."
                media_rules: switchboard_plugin_sdk::media::image_rules(5 * 1024 * 1024),
                carousel_needs_images: false,
                carousel_needs_buttons: false,
            },
        }
    }

    fn validate(msg: &Message) -> Vec<Violation> {
        analyze(msg).err().unwrap_or_default()
    }

    fn quote(msg: &Message) -> Result<Quote, Vec<Violation>> {
        analyze(msg)
    }

    fn send(msg: Message, conn: Connection) -> Result<Sent, SendError> {
        twilio::send(&msg, &conn)
    }

    fn handle_webhook(
        req: WebhookRequest,
        _conn: Connection,
    ) -> Result<WebhookOutcome, WebhookError> {
        webhook::handle(&req)
    }

    fn lookup_status(
        provider_message_id: String,
        _conn: Connection,
    ) -> Result<Option<StatusUpdate>, SendError> {
        twilio::lookup(&provider_message_id)
    }

    fn find_sent(
        msg: Message,
        _conn: Connection,
        window: AttemptWindow,
    ) -> Result<FindOutcome, SendError> {
        find::find_sent(&msg, window)
    }
}

switchboard_plugin_sdk::export_plugin!(SmsPlugin);

fn is_korean(msg: &Message) -> bool {
    msg.to.country.as_deref() == Some("KR")
}

/// Validation and quoting are one pass: the same rules decide whether a message can be sent
/// and what it costs, so they can never disagree.
fn analyze(msg: &Message) -> Result<Quote, Vec<Violation>> {
    let mut violations = Vec::new();
    let country = msg.to.country.clone();
    if msg.to.phone.as_deref().is_none_or(str::is_empty) {
        violations.push(Violation::new(
            "required",
            "to.phone",
            "an SMS needs a phone number in E.164",
        ));
    }
    let text = msg.content.text.as_deref().unwrap_or("");
    let has_media = !msg.content.media.is_empty();
    if text.is_empty() && !has_media {
        violations.push(Violation::new(
            "required",
            "content.text",
            "text must not be empty",
        ));
    }
    if !msg.content.carousel.is_empty() {
        violations.push(Violation::new(
            "unsupported",
            "content.carousel",
            "SMS cannot carry a carousel",
        ));
    }
    if msg.content.media.len() > MAX_MEDIA {
        violations.push(Violation::new(
            "too_many",
            "content.media",
            format!("at most {MAX_MEDIA} media per message"),
        ));
    }
    for (i, m) in msg.content.media.iter().enumerate() {
        if m.kind != MediaKind::Image {
            violations.push(Violation::new(
                "unsupported",
                &format!("content.media[{i}].kind"),
                "MMS carries images only",
            ));
        }
    }

    let quote = if is_korean(msg) {
        korean_quote(msg, text, has_media, &mut violations)
    } else {
        international_quote(msg, text, has_media, &mut violations)
    };
    match quote {
        Some((product, units, encoding)) if violations.is_empty() => Ok(Quote {
            product: product.into(),
            units,
            encoding: encoding.into(),
            country,
        }),
        _ => Err(violations),
    }
}

fn korean_quote(
    msg: &Message,
    text: &str,
    has_media: bool,
    violations: &mut Vec<Violation>,
) -> Option<(&'static str, u32, &'static str)> {
    let bytes = match encoding::euc_kr_len(text) {
        Ok(n) => n,
        Err(bad) => {
            violations.push(Violation::new(
                "unsupported_character",
                "content.text",
                format!("character {:?} (U+{:04X}) at position {} cannot be sent to a Korean number (not in EUC-KR)", bad.ch, bad.ch as u32, bad.index),
            ));
            return None;
        }
    };
    let subject = msg.content.subject.as_deref().filter(|s| !s.is_empty());
    if let Some(subject) = subject {
        match encoding::euc_kr_len(subject) {
            Ok(n) if n > KR_SUBJECT_MAX_BYTES => violations.push(Violation::new(
                "too_long",
                "content.subject",
                format!("subject is {n} bytes in EUC-KR; the limit is {KR_SUBJECT_MAX_BYTES}"),
            )),
            Ok(_) => {}
            Err(bad) => violations.push(Violation::new(
                "unsupported_character",
                "content.subject",
                format!(
                    "character {:?} (U+{:04X}) cannot be sent to a Korean number (not in EUC-KR)",
                    bad.ch, bad.ch as u32
                ),
            )),
        }
    }
    match encoding::korean_product(bytes, subject.is_some()) {
        KoreanProduct::TooLong => {
            violations.push(Violation::new(
                "too_long",
                "content.text",
                format!("text is {bytes} bytes in EUC-KR; an LMS holds at most {KR_LMS_MAX_BYTES}"),
            ));
            None
        }
        _ if has_media => Some(("mms", 1, "euc-kr")),
        KoreanProduct::Sms => Some(("sms", 1, "euc-kr")),
        KoreanProduct::Lms => Some(("lms", 1, "euc-kr")),
    }
}

fn international_quote(
    msg: &Message,
    text: &str,
    has_media: bool,
    violations: &mut Vec<Violation>,
) -> Option<(&'static str, u32, &'static str)> {
    if msg
        .content
        .subject
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        violations.push(Violation::new(
            "unsupported",
            "content.subject",
            "a subject is only carried by Korean LMS",
        ));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        violations.push(Violation::new(
            "too_long",
            "content.text",
            format!("text is {chars} characters; the limit is {MAX_TEXT_CHARS}"),
        ));
        return None;
    }
    let seg = encoding::segment(text);
    if has_media {
        Some(("mms", 1, seg.encoding.as_str()))
    } else {
        Some(("sms", seg.segments, seg.encoding.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn message(phone: &str, country: &str, text: &str) -> Message {
        Message {
            id: "msg_1".into(),
            workspace: "ws_1".into(),
            to: Recipient {
                phone: Some(phone.into()),
                country: Some(country.into()),
                email: None,
                psid: None,
                push_token: None,
                push_platform: None,
                name: None,
                last_inbound_ms: None,
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

    fn quote(m: &Message) -> (String, u32, String) {
        let q = SmsPlugin::quote(m).expect("quotable");
        (q.product, q.units, q.encoding)
    }

    #[test]
    fn gsm_and_ucs2_quotes() {
        let us = |t: &str| message("+15005550006", "US", t);
        assert_eq!(
            quote(&us(&"a".repeat(160))),
            ("sms".into(), 1, "gsm-7".into())
        );
        assert_eq!(
            quote(&us(&"a".repeat(161))),
            ("sms".into(), 2, "gsm-7".into())
        );
        assert_eq!(quote(&us("hi 😀")), ("sms".into(), 1, "ucs-2".into()));
        assert_eq!(
            quote(&us(&"{".repeat(81))),
            ("sms".into(), 2, "gsm-7".into())
        );
    }

    #[test]
    fn korean_sms_lms_boundaries() {
        let kr = |t: &str| message("+821012345678", "KR", t);
        assert_eq!(
            quote(&kr(&"가".repeat(45))),
            ("sms".into(), 1, "euc-kr".into())
        );
        assert_eq!(
            quote(&kr(&format!("{}a", "가".repeat(45)))),
            ("lms".into(), 1, "euc-kr".into())
        );
        assert_eq!(
            quote(&kr(&"가".repeat(1000))),
            ("lms".into(), 1, "euc-kr".into())
        );
        let v = SmsPlugin::validate(&kr(&format!("{}a", "가".repeat(1000))));
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].code.as_str(), v[0].field.as_str()),
            ("too_long", "content.text")
        );
    }

    #[test]
    fn korean_rejects_characters_outside_euc_kr() {
        let v = SmsPlugin::validate(&message("+821012345678", "KR", "안녕하세요 😀"));
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].code.as_str(), v[0].field.as_str()),
            ("unsupported_character", "content.text")
        );
        assert!(v[0].message.contains("U+1F600"), "{}", v[0].message);
        // The same text is fine for a US number (UCS-2).
        assert!(SmsPlugin::validate(&message("+15005550006", "US", "안녕하세요 😀")).is_empty());
    }

    #[test]
    fn validation_reports_every_violation_with_its_field() {
        let mut m = message("", "US", "");
        m.to.phone = None;
        m.content.subject = Some("hello".into());
        let v = SmsPlugin::validate(&m);
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["to.phone", "content.text", "content.subject"]);
    }
}
