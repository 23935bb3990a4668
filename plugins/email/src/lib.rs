//! Email channel plugin speaking the SendGrid v3 wire format.
//!
//! - [`sendgrid`]: `POST /v3/mail/send` from the connection's sender or the one the message
//!   names, a default HTML template around plain text, and the error mapping.
//! - [`domains`]: sender domains through SendGrid's Domain Authentication API (plugin API
//!   0.4's `domain-*` exports); the host lets a message name a sender on a verified one.
//! - [`events`]: the Signed Event Webhook, verified by the host (ECDSA P-256 over timestamp +
//!   raw body against the connection's public key, signed time within the replay window),
//!   normalised into delivery statuses.

pub mod domains;
pub mod events;
pub mod find;
pub mod sendgrid;
pub mod template;

use switchboard_plugin_sdk::prelude::*;

/// RFC 5322 caps a line at 998 characters; a subject is one header line.
pub const MAX_SUBJECT_BYTES: usize = 998;
/// SendGrid accepts up to 30 MB per message; text beyond 1 MB is a mistake, not an email.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

pub struct EmailPlugin;

impl Plugin for EmailPlugin {
    fn describe() -> Manifest {
        let key = ConfigKey::new;
        Manifest {
            channel: "email".into(),
            name: "sendgrid-email".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: vec![
                Capability::StatusCallbacks.into(),
                Capability::Seen.into(),
                Capability::DefaultTemplate.into(),
                Capability::FindSent.into(),
                Capability::SenderDomains.into(),
            ],
            config_keys: vec![
                key(
                    "api_key",
                    true,
                    true,
                    "SendGrid API key with mail.send permission (and whitelabel permissions for sender domains)",
                ),
                key(
                    "from_email",
                    false,
                    true,
                    "Sender address on the business's own authenticated domain",
                ),
                key("from_name", false, false, "Sender display name"),
                key(
                    "webhook_public_key",
                    false,
                    true,
                    "Event Webhook verification key (base64 DER, from SendGrid's settings)",
                ),
                key(
                    "base_url",
                    false,
                    false,
                    "API origin, default https://api.sendgrid.com",
                ),
                key(
                    "activity_lag_ms",
                    false,
                    false,
                    "How long the Email Activity feed may take to show a send (default 300000): a send whose answer was lost and that the feed does not show sooner is asked about again, not sent again",
                ),
            ],
            outbound_hosts: vec![sendgrid::DEFAULT_BASE_URL.into()],
            limits: ContentLimits {
                max_text_bytes: MAX_TEXT_BYTES as u32,
                max_subject_bytes: MAX_SUBJECT_BYTES as u32,
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

    fn validate(msg: &Message) -> Vec<Violation> {
        let mut v = Vec::new();
        if msg.to.email.as_deref().is_none_or(str::is_empty) {
            v.push(Violation::new(
                "required",
                "to.email",
                "an email needs a recipient address",
            ));
        }
        let text = msg.content.text.as_deref().unwrap_or("");
        if text.trim().is_empty() {
            v.push(Violation::new(
                "required",
                "content.text",
                "text must not be empty",
            ));
        } else if text.len() > MAX_TEXT_BYTES {
            v.push(Violation::new(
                "too_long",
                "content.text",
                format!(
                    "text is {} bytes; the limit is {MAX_TEXT_BYTES}",
                    text.len()
                ),
            ));
        }
        if let Some(subject) = msg.content.subject.as_deref() {
            if subject.len() > MAX_SUBJECT_BYTES {
                v.push(Violation::new(
                    "too_long",
                    "content.subject",
                    format!(
                        "subject is {} bytes; the limit is {MAX_SUBJECT_BYTES}",
                        subject.len()
                    ),
                ));
            }
            if subject.contains(['\r', '\n']) {
                v.push(Violation::new(
                    "invalid_format",
                    "content.subject",
                    "a subject is one line",
                ));
            }
        }
        if !msg.content.media.is_empty() {
            v.push(Violation::new(
                "unsupported",
                "content.media",
                "attachments are not supported by this email plugin yet",
            ));
        }
        if !msg.content.carousel.is_empty() {
            v.push(Violation::new(
                "unsupported",
                "content.carousel",
                "email cannot carry a carousel",
            ));
        }
        v
    }

    fn quote(msg: &Message) -> Result<Quote, Vec<Violation>> {
        let v = Self::validate(msg);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(Quote {
            product: "email".into(),
            units: 1,
            encoding: "utf-8".into(),
            country: None,
        })
    }

    fn send(msg: Message, _conn: Connection) -> Result<Sent, SendError> {
        sendgrid::send(&msg, None)
    }

    fn send_from(msg: Message, _conn: Connection, sender: Sender) -> Result<Sent, SendError> {
        sendgrid::send(&msg, Some(&sender))
    }

    fn default_sender(_conn: Connection) -> Option<Sender> {
        sendgrid::configured_sender()
    }

    fn domain_create(domain: String, _conn: Connection) -> Result<SenderDomain, DomainError> {
        domains::create(&domain)
    }

    fn domain_get(provider_id: String, _conn: Connection) -> Result<SenderDomain, DomainError> {
        domains::get(&provider_id)
    }

    fn domain_validate(provider_id: String, _conn: Connection) -> Result<DomainCheck, DomainError> {
        domains::validate(&provider_id)
    }

    fn domain_delete(provider_id: String, _conn: Connection) -> Result<(), DomainError> {
        domains::delete(&provider_id)
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
        events::handle(&req)
    }
}

switchboard_plugin_sdk::export_plugin!(EmailPlugin);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn message(email: &str, text: &str) -> Message {
        Message {
            id: "msg_1".into(),
            workspace: "ws_1".into(),
            to: Recipient {
                phone: None,
                country: None,
                email: Some(email.into()),
                psid: None,
                push_token: None,
                push_platform: None,
                name: Some("Ada".into()),
                last_inbound_ms: None,
            },
            content: Content {
                text: Some(text.into()),
                subject: Some("Your order".into()),
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

    #[test]
    fn validation_names_every_field() {
        let mut m = message("", "");
        m.to.email = None;
        m.content.subject = Some("two\nlines".into());
        m.content.carousel = vec![CarouselElement {
            title: "x".into(),
            subtitle: None,
            image_url: None,
            buttons: vec![],
        }];
        let fields: Vec<_> = EmailPlugin::validate(&m)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "to.email",
                "content.text",
                "content.subject",
                "content.carousel"
            ]
        );
        assert!(EmailPlugin::validate(&message("a@b.co", "hi")).is_empty());
    }

    #[test]
    fn quote_is_one_email() {
        let q = EmailPlugin::quote(&message("a@b.co", "hi")).unwrap();
        assert_eq!((q.product.as_str(), q.units), ("email", 1));
    }
}
