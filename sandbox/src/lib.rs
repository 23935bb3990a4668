//! Provider simulators for Switchboard.
//!
//! The gateway's channel plugins talk to real providers over their real wire formats. Mocking at
//! the plugin boundary would test our idea of those formats against itself, so instead this
//! crate runs an HTTP server that *is* a provider as far as a client can tell: same paths, same
//! auth, same JSON and error envelopes, same signed delivery callbacks (each simulator's wire
//! format is written down in `docs/sandbox.md` and `docs/channels/`). On top of that it offers
//! what a real provider cannot: a control API under `/_sandbox` to inject faults (errors, rate
//! limits, latency, timeouts, connection resets, lost/duplicated/reordered callbacks) and to
//! observe what the gateway actually sent, so tests can assert on exactly-once behaviour.
//!
//! Simulators:
//!
//! - [`sms`]: the Twilio Messages API, with HMAC-SHA1 signed status callbacks.
//! - [`email`]: SendGrid v3 mail send, with its ECDSA-signed Event Webhook and magic recipient
//!   addresses for bounces, blocks, drops, spam reports and deferrals, its Sender Identity
//!   rule and Domain Authentication, checked against the simulated DNS ([`dns`]).
//! - [`push`]: FCM HTTP v1 with Google's OAuth token endpoint and APNs over HTTP/2, verifying
//!   the provider JWTs, with a simulated device posting HMAC-signed receipts.
//! - [`messenger`]: the Graph API Send API and conversations for three sandbox pages, with
//!   signed page webhooks (echoes, deliveries, reads, user messages) and the 24 h window.
//! - [`alimtalk`]: Solapi-like AlimTalk send with HMAC-SHA256 auth, registered templates,
//!   sending hours, magic numbers and signed delivery reports.
//! - [`generic`]: a receiver for the generic webhook channel and a stub provider for new
//!   plugins, both recording what they get.
//! - [`media`]: a static file host for attachment URLs (HEAD, ranges, wrong types, 404s),
//!   counting what reached it.
//! - [`payments`]: a card processor on Stripe's Charges API, with Stripe's test tokens,
//!   declines, `Idempotency-Key` replays, and per-token declines set through the control API.
//!
//! The fault book ([`faults`]) and the callback sender ([`callbacks`]) know nothing about
//! either provider, so push or messenger simulators plug into the same control API. Each
//! simulator registers a [`faults::ChannelSpec`] (`sms`, `email`) and posts its own signed
//! callbacks through the shared sender, so the callback faults work the same everywhere.
//!
//! # Two listeners
//!
//! Tests and the control API want a plain socket on a known address, but a gateway that sends
//! to `http://127.0.0.1:PORT` never runs the TLS, SNI and ALPN code it runs in production. So
//! [`start`] serves the same router twice: plain HTTP on `listen`, and TLS on
//! [`SandboxHandle::tls_addr`] with a certificate for the providers' real host names
//! ([`PROVIDER_HOSTS`]) from a CA made at start ([`SandboxHandle::ca_pem`]). A gateway in
//! sandbox mode resolves those names to the TLS address and trusts that CA, and its plugins
//! keep their production base URLs. Simulators are routed by path alone, so the host name a
//! request used changes nothing but the absolute URLs written back (see `transport::Origin`).
//! `GET /_sandbox/transport` tells how requests arrived, so a test can check that they did
//! use TLS and, for APNs, HTTP/2.
//!
//! # No send-side idempotency, as at the providers
//!
//! Twilio, SendGrid, Graph and Solapi have no idempotency key on sends, so the simulators have
//! none either: a repeated send is one more message and one more send in the counters, as at
//! the real provider. A simulator must never do what its provider does not, or a client
//! correct against the sandbox would send duplicates in production. What the providers offer
//! instead, and the simulators serve, is a lookup a client makes after an attempt whose answer
//! was lost, before it sends again: Twilio's Message list ([`sms::list`]), SendGrid's Email
//! Activity API ([`email::activity`]), Solapi's message list ([`alimtalk::list`]) and Graph's
//! conversation with one person ([`messenger::conversations`], `user_id`). Stripe does have
//! `Idempotency-Key`, and so does the payments simulator.

pub mod accounts;
pub mod alimtalk;
pub mod callbacks;
pub mod clock;
mod conn;
mod control;
pub mod dns;
pub mod email;
pub mod faults;
pub mod generic;
pub mod media;
pub mod messenger;
pub mod payments;
pub mod push;
pub mod sms;
mod tls;
mod transport;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::Uri;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::callbacks::CallbackSender;
use crate::conn::{ConnKill, KillableListener};
use crate::faults::FaultBook;

pub use crate::alimtalk::{
    AlimTalkSimConfig, SANDBOX_ALIMTALK_API_KEY, SANDBOX_ALIMTALK_API_SECRET,
    SANDBOX_ALIMTALK_PF_ID, SANDBOX_ALIMTALK_SENDER, SANDBOX_ALIMTALK_TEMPLATES, SandboxTemplate,
    alimtalk_auth_header,
};
pub use crate::email::signature::{sendgrid_event_signature, sendgrid_webhook_public_key};
pub use crate::generic::SANDBOX_WEBHOOK_SIGNING_SECRET;
pub use crate::messenger::{
    SANDBOX_FACEBOOK_USER_EMAIL, SANDBOX_FACEBOOK_USER_ID, SANDBOX_FACEBOOK_USER_NAME,
    SANDBOX_FACEBOOK_USER_PASSWORD, SANDBOX_MESSENGER_APP_ID, SANDBOX_MESSENGER_APP_NAME,
    SANDBOX_MESSENGER_APP_SECRET, SANDBOX_MESSENGER_PAGES, SANDBOX_MESSENGER_VERIFY_TOKEN,
    SandboxPage, messenger_signature,
};
pub use crate::payments::{SANDBOX_PAYMENTS_CARDS, SANDBOX_PAYMENTS_SECRET_KEY};
pub use crate::push::device::push_receipt_signature;
pub use crate::push::keys::{
    SANDBOX_APNS_KEY_ID, SANDBOX_APNS_PRIVATE_KEY_PEM, SANDBOX_APNS_TEAM_ID, SANDBOX_APNS_TOPIC,
    SANDBOX_FCM_CLIENT_EMAIL, SANDBOX_FCM_PRIVATE_KEY_PEM, SANDBOX_FCM_PROJECT_ID,
    SANDBOX_PUSH_RECEIPT_KEY,
};
pub use crate::sms::signature::twilio_signature;
pub use crate::tls::{PROVIDER_HOSTS, TlsError};

/// The only account the simulated Twilio knows.
pub const SANDBOX_ACCOUNT_SID: &str = "AC5a4db0c0ffee0000000000000000000b";
/// Auth token of [`SANDBOX_ACCOUNT_SID`]; also the key of every callback signature.
pub const SANDBOX_AUTH_TOKEN: &str = "5a4db0c0ffee00000000000000000a17";
/// Twilio's magic "valid" test number; also the sender used for Messaging Service sends.
pub const SANDBOX_FROM_NUMBER: &str = "+15005550006";
/// The only API key the simulated SendGrid accepts (`Authorization: Bearer …`), shaped like a
/// real one: `SG.`, an id, `.`, 43 characters of URL-safe base64.
pub const SANDBOX_SENDGRID_API_KEY: &str = "SG.sandbox.c3dpdGNoYm9hcmQtc2FuZGJveC1zZW5kZ3JpZC1rZXk";
/// Sender address for sandbox email connections: the sandbox SendGrid account's verified
/// single sender. Its domain is also the one of the magic recipient addresses. The simulator
/// sends from it, or from an address on an authenticated domain that passed validation, and
/// refuses any other `from` as SendGrid does (403, not a verified Sender Identity).
pub const SANDBOX_EMAIL_FROM: &str = "noreply@sandbox.switchboard.test";

/// How long a `timeout` fault holds a request before dropping the connection.
const TIMEOUT_HOLD: Duration = Duration::from_secs(60);
/// How long `shutdown` waits for in-flight requests before aborting the server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    pub sms: SmsSimConfig,
    pub email: EmailSimConfig,
}

/// Timing of the simulated SMS delivery; both delays are measured from acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSimConfig {
    pub sent_delay: Duration,
    pub delivered_delay: Duration,
}

impl Default for SmsSimConfig {
    fn default() -> Self {
        Self {
            sent_delay: Duration::from_millis(20),
            delivered_delay: Duration::from_millis(60),
        }
    }
}

/// Timing of the simulated email events, all measured from acceptance, and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSimConfig {
    pub processed_delay: Duration,
    pub delivered_delay: Duration,
    pub open_delay: Duration,
    /// SendGrid's account-wide Event Webhook URL; no events are posted without one.
    pub event_webhook_url: Option<String>,
}

impl Default for EmailSimConfig {
    fn default() -> Self {
        Self {
            processed_delay: Duration::from_millis(20),
            delivered_delay: Duration::from_millis(60),
            open_delay: Duration::from_millis(100),
            event_webhook_url: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind the sandbox to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the sandbox's local address: {0}")]
    LocalAddr(std::io::Error),
    #[error("cannot build the callback HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Where the TLS listener is and the CA a client must trust, for the control API.
pub(crate) struct TlsEndpoint {
    pub(crate) addr: SocketAddr,
    pub(crate) ca_pem: String,
}

/// State shared by every simulator and the control API.
pub(crate) struct Shared {
    initial: SandboxConfig,
    pub(crate) config: Mutex<SandboxConfig>,
    pub(crate) faults: FaultBook,
    pub(crate) callbacks: CallbackSender,
    pub(crate) sms: sms::SmsState,
    pub(crate) email: email::EmailState,
    pub(crate) messenger: messenger::MessengerState,
    pub(crate) push: push::PushState,
    pub(crate) alimtalk: alimtalk::AlimTalkState,
    pub(crate) payments: payments::PaymentsState,
    pub(crate) generic: generic::GenericState,
    pub(crate) media: media::MediaState,
    /// The simulated DNS providers' domain checks read.
    pub(crate) dns: dns::Dns,
    pub(crate) clock: clock::SimClock,
    pub(crate) transport: transport::TransportLog,
    /// Set by `start`; a router mounted elsewhere has no TLS listener.
    pub(crate) tls: OnceLock<TlsEndpoint>,
    /// Flipped once on shutdown so requests held by a `timeout` fault let go.
    shutdown: watch::Sender<bool>,
}

impl Shared {
    fn new(cfg: SandboxConfig, client: reqwest::Client) -> Arc<Self> {
        Arc::new(Self {
            initial: cfg.clone(),
            config: Mutex::new(cfg),
            faults: FaultBook::new(vec![
                sms::CHANNEL,
                email::CHANNEL,
                messenger::CHANNEL,
                push::CHANNEL,
                alimtalk::CHANNEL,
                payments::CHANNEL,
            ]),
            callbacks: CallbackSender::new(client),
            sms: sms::SmsState::default(),
            email: email::EmailState::default(),
            messenger: messenger::MessengerState::default(),
            push: push::PushState::default(),
            alimtalk: alimtalk::AlimTalkState::default(),
            payments: payments::PaymentsState::default(),
            generic: generic::GenericState::default(),
            media: media::MediaState::default(),
            dns: dns::Dns::default(),
            clock: clock::SimClock::default(),
            transport: transport::TransportLog::default(),
            tls: OnceLock::new(),
            shutdown: watch::Sender::new(false),
        })
    }

    pub(crate) fn sms_config(&self) -> SmsSimConfig {
        self.config.lock().expect("config poisoned").sms
    }

    pub(crate) fn email_config(&self) -> EmailSimConfig {
        self.config.lock().expect("config poisoned").email.clone()
    }

    /// Back to the state right after `start`: no messages, counters, faults or pending
    /// callbacks, and the configuration given at start (so an event webhook URL set at start
    /// survives, one set later through the control API does not).
    pub(crate) fn reset(&self) {
        self.callbacks.clear();
        self.faults.clear();
        self.sms.clear();
        self.email.clear();
        self.messenger.clear();
        self.push.clear();
        self.alimtalk.clear();
        self.payments.clear();
        self.generic.clear();
        self.media.clear();
        self.dns.clear();
        self.clock.set_offset_ms(0);
        self.transport.clear();
        *self.config.lock().expect("config poisoned") = self.initial.clone();
    }

    /// Holds a request as a `timeout` fault does, letting go early on shutdown.
    pub(crate) async fn hold(&self) {
        let mut stop = self.shutdown.subscribe();
        tokio::select! {
            () = tokio::time::sleep(TIMEOUT_HOLD) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
}

/// Drops the connection a request came in on without answering. Without the sandbox's own
/// listener (the router mounted elsewhere) there is no socket to reset; the closest is an
/// empty 502 with `Connection: close`.
pub(crate) fn drop_connection(kill: Option<&ConnKill>) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    if let Some(kill) = kill {
        kill.kill();
    }
    (StatusCode::BAD_GATEWAY, [(header::CONNECTION, "close")]).into_response()
}

fn callback_client() -> reqwest::Result<reqwest::Client> {
    // Callbacks go to 127.0.0.1; an HTTP(S)_PROXY in the environment must not divert them.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(callbacks::CALLBACK_TIMEOUT)
        .build()
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(sms::routes())
        .merge(email::routes())
        .merge(messenger::routes())
        .merge(push::routes())
        .merge(alimtalk::routes())
        .merge(payments::routes())
        .merge(generic::routes())
        .merge(media::routes())
        .merge(control::routes())
        .merge(dns::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            transport::record,
        ))
        .with_state(shared)
}

/// Each provider's 404 envelope, by the path prefix its API lives under.
async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/v3/") {
        email::not_found()
    } else {
        sms::not_found(uri).await
    }
}

/// The simulator as a plain router, for mounting in another server. `reset` faults degrade to
/// an empty 502 there (see [`start`] for the real thing).
pub fn router(cfg: SandboxConfig) -> Router {
    let client = callback_client().unwrap_or_default();
    app(Shared::new(cfg, client))
}

/// A running sandbox. Dropping it stops the server as well, without waiting.
pub struct SandboxHandle {
    /// The plain-HTTP listener: simulators by path, and the control API.
    pub addr: SocketAddr,
    /// The TLS listener: the same router, for clients that resolve [`PROVIDER_HOSTS`] here
    /// and trust [`SandboxHandle::ca_pem`].
    pub tls_addr: SocketAddr,
    ca_pem: String,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("addr", &self.addr)
            .field("tls_addr", &self.tls_addr)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The PEM of the CA generated at start, the only issuer of the TLS listener's
    /// certificate. Trust it in sandbox mode only.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Stops accepting, releases held requests, aborts pending callbacks and waits briefly for
    /// in-flight requests before aborting the server.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    fn signal_stop(&self) {
        self.shared.shutdown.send_replace(true);
        self.shared.callbacks.clear();
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), SandboxError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(SandboxError::LocalAddr)?;
    Ok((listener, local))
}

/// Binds `listen` (port 0 picks a free port) for plain HTTP and a free port on the same IP
/// for TLS, and serves the sandbox on both on the current tokio runtime until the handle is
/// shut down or dropped.
pub async fn start(listen: SocketAddr, cfg: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    let (listener, addr) = bind(listen).await?;
    let (tls_listener, tls_addr) = bind(SocketAddr::new(listen.ip(), 0)).await?;
    let tls = tls::SandboxTls::generate()?;
    let shared = Shared::new(cfg, callback_client()?);
    let _ = shared.tls.set(TlsEndpoint {
        addr: tls_addr,
        ca_pem: tls.ca_pem.clone(),
    });
    let router = app(shared.clone());
    let service = router
        .clone()
        .into_make_service_with_connect_info::<ConnKill>();
    let mut stop = shared.shutdown.subscribe();
    let plain =
        axum::serve(KillableListener::new(listener), service).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
    let secure = tls::serve(
        tls_listener,
        tls.acceptor,
        router,
        shared.shutdown.subscribe(),
    );
    // One task for both, so `shutdown` waits for (or aborts) both at once.
    let task = tokio::spawn(async move {
        let (plain, ()) = tokio::join!(plain.into_future(), secure);
        if let Err(e) = plain {
            tracing::warn!("sandbox server stopped: {e}");
        }
    });
    tracing::info!(%addr, %tls_addr, "provider sandbox listening");
    Ok(SandboxHandle {
        addr,
        tls_addr,
        ca_pem: tls.ca_pem,
        shared,
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower_hex(s: &str) -> bool {
        s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn credentials_look_like_twilio_ones() {
        let sid = SANDBOX_ACCOUNT_SID.strip_prefix("AC").expect("AC prefix");
        assert!(sid.len() == 32 && lower_hex(sid));
        assert!(SANDBOX_AUTH_TOKEN.len() == 32 && lower_hex(SANDBOX_AUTH_TOKEN));
    }

    #[test]
    fn sendgrid_key_looks_like_a_sendgrid_one() {
        let parts: Vec<&str> = SANDBOX_SENDGRID_API_KEY.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!((parts[0], parts[2].len()), ("SG", 43));
        assert!(email::mail::is_valid_email(SANDBOX_EMAIL_FROM));
    }
}
