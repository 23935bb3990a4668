//! Simulated SendGrid v3 mail send (`POST /v3/mail/send`), Signed Event Webhook, Email
//! Activity API (`GET /v3/messages`, see [`activity`]) and Domain Authentication
//! (`/v3/whitelabel/domains`, see [`domains`]), following SendGrid's documented format byte
//! for byte where a client library would notice (`docs/sandbox.md`, "Email simulator").
//!
//! A send's `from` must be a verified Sender Identity, as at SendGrid: the account's verified
//! single sender ([`crate::SANDBOX_EMAIL_FROM`]) or an address on an authenticated domain
//! whose last validation passed; any other is refused 403 with SendGrid's message.
//!
//! Request handling order, as in the SMS simulator: count the request, authenticate (Bearer
//! [`crate::SANDBOX_SENDGRID_API_KEY`]), consult the fault book (keyed on `to`, the first
//! recipient), apply latency, then either answer with the injected fault or process the send
//! (validation, acceptance). Authentication comes before faults so a
//! test's deliberately bad key never consumes a fault meant for the gateway.
//!
//! Success is SendGrid's `202 Accepted` with an empty body and an `X-Message-Id` header. Events
//! then go to [`crate::EmailSimConfig::event_webhook_url`], the account-wide setting SendGrid
//! also has (see [`events`] for timing and shape, [`signature`] for the signing key).
//!
//! # Magic recipient addresses
//!
//! Like Twilio's magic numbers, these addresses pick what happens after acceptance; any other
//! address is processed, delivered, then opened. A fault's `callback_status` forces the same
//! outcomes by name (`delivered`, `bounce`, `blocked`, `dropped`, `spamreport`, `deferred`).
//!
//! | recipient | events |
//! |---|---|
//! | `bounce@sandbox.switchboard.test` | processed, bounce (`type` bounce, `status` 5.1.1) |
//! | `blocked@sandbox.switchboard.test` | processed, bounce (`type` blocked, `status` 5.7.1) |
//! | `dropped@sandbox.switchboard.test` | dropped (`reason` "Unsubscribed Address") |
//! | `spam@sandbox.switchboard.test` | processed, delivered, spamreport |
//! | `deferred@sandbox.switchboard.test` | processed, deferred (`attempt` "1"), delivered |
//!
//! # No idempotency
//!
//! SendGrid has no idempotency key and neither has the sandbox: a repeated send is a second
//! email with its own X-Message-Id and events. A client whose answer was lost asks the Email
//! Activity API ([`activity`]) before sending again.
//!
//! # Faults
//!
//! Injected statuses answer in SendGrid's error envelope; the rule's `code` has no meaning
//! here and is ignored. A 429 carries `X-RateLimit-Reset` (epoch seconds, now plus
//! `retry_after_s`, default 1) and no `Retry-After`, as SendGrid does; `retry_after_s` does
//! nothing on other statuses. `callback_error_code` is ignored too.

pub mod activity;
pub mod domains;
pub mod errors;
pub mod events;
pub mod mail;
pub mod query;
pub mod signature;
pub(crate) mod state;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::time::Instant;

use self::errors::SendGridError;
pub(crate) use self::state::EmailState;
use crate::Shared;
use crate::conn::ConnKill;
use crate::faults::{Answer, ChannelSpec, FaultAction};

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "email",
    match_keys: &["to"],
    callback_statuses: events::SCENARIOS,
};

/// SendGrid's limit on the total message size; here it only bounds memory.
const MAX_REQUEST_BODY: usize = 30 * 1024 * 1024;
/// `X-RateLimit-Reset` of a 429 fault without `retry_after_s`.
const DEFAULT_RATE_LIMIT_RESET_S: u64 = 1;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .merge(domains::routes())
        .route("/v3/mail/send", post(send))
        .route("/v3/messages", get(activity::filter_messages))
        .route("/v3/messages/{msg_id}", get(activity::get_message))
}

/// SendGrid's 404 for any unknown `/v3/…` path.
pub(crate) fn not_found() -> Response {
    SendGridError::not_found().into_response()
}

pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `Authorization: Bearer <the sandbox key>`; the scheme is case-insensitive as in RFC 7235.
pub(super) fn authorized(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, key)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && key.trim() == crate::SANDBOX_SENDGRID_API_KEY
}

async fn send(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    shared.email.count_request();
    if !authorized(&parts.headers) {
        return SendGridError::unauthorized().into_response();
    }
    let Ok(raw) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return SendGridError::malformed().into_response();
    };
    let json: Option<Value> = serde_json::from_slice(&raw).ok();

    let first_to = json
        .as_ref()
        .and_then(|v| v.pointer("/personalizations/0/to/0/email"))
        .and_then(Value::as_str);
    let facts: Vec<(&str, &str)> = first_to.map(|to| ("to", to)).into_iter().collect();
    let (fault_id, action) = match shared.faults.take(CHANNEL.name, &facts) {
        Some(a) => (Some(a.rule_id), a.action),
        None => (None, FaultAction::default()),
    };
    if let Some(ms) = action.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    let processed = action
        .processes_request()
        .then(|| process(&shared, &raw, json.as_ref(), &action, fault_id));
    match action.answer() {
        Answer::Normal => processed.unwrap_or_else(|| {
            SendGridError::injected(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }),
        Answer::Error {
            status,
            retry_after_s,
            ..
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = SendGridError::injected(status).into_response();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = unix_secs() + retry_after_s.unwrap_or(DEFAULT_RATE_LIMIT_RESET_S);
                resp.headers_mut()
                    .insert("x-ratelimit-reset", HeaderValue::from(reset));
            }
            resp
        }
        Answer::Timeout => {
            shared.hold().await;
            crate::drop_connection(kill.as_ref())
        }
        Answer::Reset => crate::drop_connection(kill.as_ref()),
    }
}

/// Validates and accepts the send.
fn process(
    shared: &Arc<Shared>,
    raw: &[u8],
    json: Option<&Value>,
    action: &FaultAction,
    fault_id: Option<String>,
) -> Response {
    let accepted_at = Instant::now();
    match shared.email.accept(raw, json, fault_id) {
        state::Outcome::Rejected(err) => err.into_response(),
        state::Outcome::Accepted(msg) => {
            events::schedule(shared, &msg, accepted_at, action);
            accepted(&msg.x_message_id)
        }
    }
}

/// `202 Accepted`, empty body, `X-Message-Id`.
fn accepted(x_message_id: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    // A random id is URL-safe base64, always a valid header value; the fallback is unreachable.
    let id = HeaderValue::from_str(x_message_id).unwrap_or(HeaderValue::from_static("invalid"));
    resp.headers_mut().insert("x-message-id", id);
    resp
}
