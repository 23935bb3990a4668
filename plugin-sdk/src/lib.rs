//! The Switchboard plugin SDK: write a channel plugin as one Rust trait and one macro.
//!
//! A channel plugin knows one provider's wire format and nothing else. The host owns
//! validation policy, retries, routing, billing and storage; the plugin answers five questions
//! (see [`Plugin`]) and reaches the outside world only through host imports: [`http`],
//! [`config`], [`secrets`], [`webhook_auth`], [`cache`], [`log`] and [`clock`].
//!
//! **Callbacks must be verified through [`webhook_auth`].** The host refuses (HTTP 401,
//! nothing applied) any callback `handle_webhook` accepts without a successful
//! `webhook_auth::verify_*` call during that call, or whose signed time declared with
//! [`webhook_auth::signed_at`] is outside the host's replay window. A plugin that forgets the
//! check fails closed.
//!
//! wit-bindgen stays behind this crate: plugin authors never write bindings, and the WIT
//! package (`schemas/wit/since_v0.4.0`, `switchboard:channel@0.4.0`, which reuses 0.1.0's
//! imports and most of its vocabulary, and 0.3.0's webhook outcome) can evolve behind the
//! same trait. [`export_plugin!`] stamps the plugin with [`API_VERSION`], so a host that does
//! not support it refuses the plugin by name instead of failing to link it.
//!
//! ```ignore
//! use switchboard_plugin_sdk::prelude::*;
//!
//! struct Echo;
//!
//! impl Plugin for Echo {
//!     fn describe() -> Manifest {
//!         Manifest::new("echo", "echo-api", env!("CARGO_PKG_VERSION"))
//!             .config_key(ConfigKey::secret("api_key", "API key"))
//!             .outbound_host("https://api.example.com")
//!             .capability(Capability::StatusCallbacks)
//!     }
//!     fn send(msg: Message, conn: Connection) -> Result<Sent, SendError> {
//!         let resp = http::send(Request::post("https://api.example.com/send").json_body(b"{}"))
//!             .map_err(SendError::from_http)?;
//!         Ok(Sent { provider_message_id: resp.header("x-id").unwrap_or_default().into() })
//!     }
//!     fn handle_webhook(req: WebhookRequest, conn: Connection)
//!         -> Result<WebhookOutcome, WebhookError> {
//!         let sig = unhex(req.header("x-signature").unwrap_or_default());
//!         if !webhook_auth::verify_hmac(HmacAlgorithm::Sha256, "webhook_secret", &req.body, &sig) {
//!             return Err(WebhookError::Unauthorized("bad signature".into()));
//!         }
//!         /* ... normalise the verified body into events */
//!     }
//!     // validate, quote, sync_contacts and lookup_status keep their defaults.
//! }
//!
//! switchboard_plugin_sdk::export_plugin!(Echo);
//! ```
//!
//! A guide from `switchboard plugin new` to a delivered message is in `docs/plugins.md`.
//!
//! Plugin logic is unit-tested natively, without wasmtime: [`testing::MockHost`] stands in
//! for the host imports on the test thread, and [`testing::handle_webhook`] answers a callback
//! the way the host would, refusals included.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../schemas/wit/since_v0.4.0",
        world: "channel-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_channel_plugin",
        default_bindings_module: "switchboard_plugin_sdk::bindings",
        generate_all,
    });
    /// The exported interface of the version this SDK implements.
    pub use self::exports::switchboard::channel0_4_0::plugin;
    /// The imports and most of the vocabulary: 0.4.0 speaks 0.1.0's (its modules carry the
    /// version because the world names three versions of the package).
    pub use self::switchboard::channel0_1_0 as channel;
    /// What 0.3.0 changed, which 0.4.0 keeps: the webhook outcome (echoes, inbound payloads)
    /// and the `find-sent` types.
    pub use self::switchboard::channel0_3_0::events;
    /// What 0.4.0 added: senders and sender domains.
    pub use self::switchboard::channel0_4_0::senders;
}

pub mod cache;
pub mod clock;
pub mod config;
mod errors;
mod guest;
pub mod http;
pub mod log;
mod manifest;
pub mod media;
pub mod secrets;
pub mod testing;
pub mod webhook_auth;

pub use bindings::channel::types::{
    Button, CarouselElement, Category, ConfigKey, Connection, ContactActivity, ContactPage,
    Content, ContentLimits, DeliveryState, Failure, FailureReason, HistoryMessage, HttpReply,
    Manifest, Media, MediaKind, MediaRule, Message, QuickReply, Quotation as Quote, Recipient,
    SendError, Sent, StatusUpdate, SyncedContact, TemplateRef, Violation, WatermarkUpdate,
    WebhookError, WebhookRequest,
};
pub use bindings::events::{
    AttemptWindow, FindOutcome, InboundMessage, OutboundEcho, WebhookEvent, WebhookOutcome,
};
pub use bindings::senders::{
    DnsRecord, DomainCheck, DomainError, RecordCheck, Sender, SenderDomain,
};
pub use switchboard_vocab::{Capabilities, Capability};

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::http::{self, Request, Response};
    pub use crate::{
        AttemptWindow, Button, Capability, CarouselElement, Category, ConfigKey, Connection,
        ContactActivity, ContactPage, Content, ContentLimits, DeliveryState, DnsRecord,
        DomainCheck, DomainError, Failure, FailureReason, FindOutcome, HistoryMessage, HttpReply,
        InboundMessage, Manifest, Media, MediaKind, MediaRule, Message, OutboundEcho, Plugin,
        QuickReply, Quote, Recipient, RecordCheck, SendError, Sender, SenderDomain, Sent,
        StatusUpdate, SyncedContact, TemplateRef, Violation, WatermarkUpdate, WebhookError,
        WebhookEvent, WebhookOutcome, WebhookRequest, cache, clock, config, log, media, secrets,
        webhook_auth,
    };
}

/// A channel plugin. Every function is called on a fresh instance, so keep no state between
/// calls: anything durable belongs to the host.
///
/// Only [`Plugin::describe`] and [`Plugin::send`] are required. Every other export has a
/// default that is honest for a channel that does not need it: no extra checks, one unit of
/// the channel's product, no callbacks, no contact listing, no status lookup, no senders.
pub trait Plugin {
    /// The manifest: channel, config keys (and which are secret), outbound hosts, limits.
    /// [`Manifest::new`] starts one with text-only [`ContentLimits::default`].
    fn describe() -> Manifest;
    /// A pure check returning every violation, each with a code and a field path. The host
    /// already enforces the manifest's limits; the default adds nothing to them.
    fn validate(msg: &Message) -> Vec<Violation> {
        let _ = msg;
        Vec::new()
    }
    /// The billable product and units. Pure: no imports are available meaningfully here.
    ///
    /// The default bills one unit of a product named after the channel (`"webhook"` for the
    /// `webhook` channel), UTF-8, priced by the recipient's country when the host knows it:
    /// right for any channel whose provider charges per message. A channel billed by size
    /// or segment (SMS) must count for itself. A product without a price is free.
    fn quote(msg: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(Quote {
            product: Self::describe().channel,
            units: 1,
            encoding: "utf-8".into(),
            country: msg.to.country.clone(),
        })
    }
    /// Hand the message to the provider, from the connection's own sender; returns the
    /// provider's message id.
    fn send(msg: Message, conn: Connection) -> Result<Sent, SendError>;
    /// Hand the message to the provider from `sender`, the sender the message names (API
    /// 0.4). The host calls it only for plugins that declare [`Capability::SenderDomains`],
    /// and only with a sender whose domain is verified for the connection through the
    /// `domain_*` exports, or with the connection's own ([`Plugin::default_sender`]).
    ///
    /// The default refuses: a channel without senders must not send from another address
    /// than the one the message names.
    fn send_from(msg: Message, conn: Connection, sender: Sender) -> Result<Sent, SendError> {
        let _ = (msg, conn, sender);
        Err(SendError::permanent(
            FailureReason::InvalidFormat,
            None,
            "this channel cannot send from a sender the message names",
        ))
    }
    /// The sender the connection's configuration names, which `send` uses (API 0.4): a
    /// message may always name it, verified domain or not. The default: none.
    fn default_sender(conn: Connection) -> Option<Sender> {
        let _ = conn;
        None
    }
    /// Ask the provider to set `domain` up as a sender domain and return the DNS records to
    /// publish (API 0.4). Declare [`Capability::SenderDomains`] when you implement the
    /// `domain_*` exports and [`Plugin::send_from`]. The default answers
    /// [`DomainError::Unsupported`], as do the other three.
    fn domain_create(domain: String, conn: Connection) -> Result<SenderDomain, DomainError> {
        let _ = (domain, conn);
        Err(DomainError::Unsupported)
    }
    /// The provider's current view of a sender domain, by the id `domain_create` returned.
    fn domain_get(provider_id: String, conn: Connection) -> Result<SenderDomain, DomainError> {
        let _ = (provider_id, conn);
        Err(DomainError::Unsupported)
    }
    /// Ask the provider to check the domain's DNS records now, with each record's result.
    fn domain_validate(provider_id: String, conn: Connection) -> Result<DomainCheck, DomainError> {
        let _ = (provider_id, conn);
        Err(DomainError::Unsupported)
    }
    /// Delete the sender domain at the provider; [`DomainError::NotFound`] when it was gone.
    fn domain_delete(provider_id: String, conn: Connection) -> Result<(), DomainError> {
        let _ = (provider_id, conn);
        Err(DomainError::Unsupported)
    }
    /// Verify the provider's signature through [`webhook_auth`], then normalise its callback
    /// into events. The host refuses an `Ok` that no successful verification backs.
    ///
    /// Since API 0.3.0 an [`InboundMessage`] carries the `payload` of the quick reply or button
    /// the contact chose, and [`WebhookEvent::Echo`] reports a message the business's own
    /// account sent ([`OutboundEcho`]): set its `host_marker` to the `idempotency_key` your
    /// `send` put on the provider's request when the provider echoes it back, so the host
    /// knows its own sends from replies written elsewhere.
    ///
    /// The default refuses every callback as `BadRequest`: the channel takes none, so nothing
    /// posted to its webhook URL can change a message.
    fn handle_webhook(
        req: WebhookRequest,
        conn: Connection,
    ) -> Result<WebhookOutcome, WebhookError> {
        let _ = (req, conn);
        Err(WebhookError::BadRequest(
            "this channel takes no callbacks".into(),
        ))
    }
    /// One page of the connection's existing contacts, for providers that can list them
    /// (declare [`Capability::ContactSync`]). The default says the channel cannot.
    fn sync_contacts(conn: Connection, cursor: Option<String>) -> Result<ContactPage, SendError> {
        let _ = (conn, cursor);
        Err(SendError::permanent(
            FailureReason::PermissionDenied,
            None,
            "this channel cannot list its contacts",
        ))
    }
    /// The provider's current status of a sent message, for providers that can be asked
    /// (declare [`Capability::StatusLookup`]). The host asks when callbacks stop coming,
    /// so a status posted while the gateway was down is not lost for good. `Ok(None)` when
    /// the provider knows nothing past `sent`. The default says the channel cannot.
    fn lookup_status(
        provider_message_id: String,
        conn: Connection,
    ) -> Result<Option<StatusUpdate>, SendError> {
        let _ = (provider_message_id, conn);
        Err(SendError::permanent(
            FailureReason::PermissionDenied,
            None,
            "this channel cannot look up a message's status",
        ))
    }
    /// Whether the provider already took `msg`, sent by an attempt whose answer was lost
    /// (a timeout or a reset after the request was written) while `window` ran. The host asks
    /// before any new attempt of such a delivery: [`FindOutcome::Found`] adopts the
    /// provider's id and sends nothing again, [`FindOutcome::NotFound`] sends again (one
    /// message, not two), [`FindOutcome::NotYet`] asks again later. Search by something
    /// the provider keeps of the send (a custom argument carrying `msg.idempotency_key`, the
    /// recipient and the time). Declare [`Capability::FindSent`] when you implement it.
    ///
    /// The default answers [`FindOutcome::CannotAsk`]: the workspace's setting then decides
    /// between sending again (at least once) and failing `outcome_unknown` (at most once).
    fn find_sent(
        msg: Message,
        conn: Connection,
        window: AttemptWindow,
    ) -> Result<FindOutcome, SendError> {
        let _ = (msg, conn, window);
        Ok(FindOutcome::CannotAsk)
    }
}

/// The plugin API (WIT package) version this SDK implements: `(major, minor, patch)`.
pub const API_VERSION: (u16, u16, u16) = (0, 4, 0);

/// [`API_VERSION`] as the host reads it from the `switchboard:api-version` custom section:
/// major, minor and patch as big-endian `u16`s.
#[doc(hidden)]
pub const API_VERSION_BYTES: [u8; 6] = {
    let (major, minor, patch) = API_VERSION;
    let (a, b, c) = (
        major.to_be_bytes(),
        minor.to_be_bytes(),
        patch.to_be_bytes(),
    );
    [a[0], a[1], b[0], b[1], c[0], c[1]]
};

/// A string's bytes as an array, for a custom section whose size is known at compile time.
#[doc(hidden)]
pub const fn __section_bytes<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Export a [`Plugin`] implementation as the component's `plugin` interface, stamped with the
/// API version this SDK implements and the plugin crate's package name (two custom sections
/// the host reads before compiling the plugin).
///
/// The exports exist only in the wasm build: natively the crate is an ordinary library whose
/// logic unit tests call directly.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
    $crate::bindings::__export_channel_plugin!($plugin with_types_in $crate::bindings);

            #[unsafe(link_section = "switchboard:api-version")]
            #[used]
            static API_VERSION: [u8; 6] = $crate::API_VERSION_BYTES;

            const PACKAGE: &str = env!("CARGO_PKG_NAME");
            #[unsafe(link_section = "switchboard:plugin-package")]
            #[used]
            static PACKAGE_NAME: [u8; PACKAGE.len()] = $crate::__section_bytes(PACKAGE);
        };
    };
}

impl Violation {
    pub fn new(code: &str, field: &str, message: impl Into<String>) -> Self {
        Violation {
            code: code.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl ConfigKey {
    pub fn new(name: &str, secret: bool, required: bool, description: &str) -> Self {
        ConfigKey {
            name: name.into(),
            secret,
            required,
            description: description.into(),
        }
    }
    /// A required setting shown in the clear (an account id, a URL).
    pub fn config(name: &str, description: &str) -> Self {
        Self::new(name, false, true, description)
    }
    /// A required secret: sealed at rest, never shown, never in plugin memory.
    pub fn secret(name: &str, description: &str) -> Self {
        Self::new(name, true, true, description)
    }
    /// The same key, but a connection may leave it out.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }
}

impl WebhookRequest {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel that implements only what is required.
    struct Minimal;

    impl Plugin for Minimal {
        fn describe() -> Manifest {
            Manifest::new("minimal", "minimal-test", "0.0.1")
        }
        fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
            Ok(Sent {
                provider_message_id: msg.idempotency_key,
            })
        }
    }

    fn message() -> Message {
        Message {
            id: "msg_1".into(),
            workspace: "ws_1".into(),
            to: Recipient {
                phone: Some("+821012345678".into()),
                country: Some("KR".into()),
                email: None,
                psid: None,
                push_token: None,
                push_platform: None,
                name: None,
                last_inbound_ms: None,
            },
            content: Content {
                text: Some("hi".into()),
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

    fn conn() -> Connection {
        Connection {
            id: "con_1".into(),
            name: "c".into(),
            webhook_url: "https://gw.example.com/v1/webhooks/con_1".into(),
        }
    }

    #[test]
    fn the_defaults_are_honest_for_a_channel_that_needs_nothing_more() {
        assert!(Minimal::validate(&message()).is_empty());
        let q = Minimal::quote(&message()).unwrap();
        assert_eq!(
            (q.product.as_str(), q.units, q.encoding.as_str()),
            ("minimal", 1, "utf-8")
        );
        assert_eq!(q.country.as_deref(), Some("KR"));
        let req = WebhookRequest {
            method: "POST".into(),
            url: conn().webhook_url,
            headers: vec![],
            body: b"{}".to_vec(),
        };
        assert!(matches!(
            Minimal::handle_webhook(req, conn()),
            Err(WebhookError::BadRequest(m)) if m.contains("no callbacks")
        ));
        let e = Minimal::sync_contacts(conn(), None).unwrap_err();
        assert_eq!(
            (e.retryable, e.reason),
            (false, FailureReason::PermissionDenied)
        );
        let e = Minimal::lookup_status("p".into(), conn()).unwrap_err();
        assert_eq!(
            (e.retryable, e.reason),
            (false, FailureReason::PermissionDenied)
        );
    }

    /// A channel that says nothing about senders has none: no default sender, every domain
    /// call `unsupported`, and a named sender refused rather than ignored.
    #[test]
    fn a_channel_without_senders_says_so() {
        assert!(Minimal::default_sender(conn()).is_none());
        assert!(matches!(
            Minimal::domain_create("example.com".into(), conn()),
            Err(DomainError::Unsupported)
        ));
        assert!(matches!(
            Minimal::domain_get("1".into(), conn()),
            Err(DomainError::Unsupported)
        ));
        assert!(matches!(
            Minimal::domain_validate("1".into(), conn()),
            Err(DomainError::Unsupported)
        ));
        assert!(matches!(
            Minimal::domain_delete("1".into(), conn()),
            Err(DomainError::Unsupported)
        ));
        let sender = Sender {
            email: "news@example.com".into(),
            name: None,
        };
        let e = <Minimal as bindings::plugin::Guest>::send(message(), conn(), Some(sender))
            .unwrap_err();
        assert_eq!(
            (e.retryable, e.reason),
            (false, FailureReason::InvalidFormat)
        );
        let sent = <Minimal as bindings::plugin::Guest>::send(message(), conn(), None).unwrap();
        assert_eq!(sent.provider_message_id, "dlv_1");
    }

    #[test]
    fn config_keys_say_what_they_are() {
        let k = ConfigKey::secret("api_key", "key").optional();
        assert!(k.secret && !k.required);
        let k = ConfigKey::config("url", "where");
        assert!(!k.secret && k.required);
    }
}
