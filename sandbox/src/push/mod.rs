//! Simulated mobile push: Google's OAuth token endpoint and FCM HTTP v1, APNs over HTTP/2, and
//! a simulated device that acknowledges pushes with signed receipts.
//!
//! - [`fcm`]: `POST /token` (the service-account JWT-bearer grant, RS256 verified with the
//!   public half of [`crate::SANDBOX_FCM_PRIVATE_KEY_PEM`], `aud` = this server's `/token`
//!   URL, `iat`/`exp` against the simulator clock) → `ya29.…` tokens that live 3599 s by the
//!   simulator clock; `POST /v1/projects/{project}/messages:send` with a live Bearer token.
//! - [`apns`]: `POST /3/device/{token}` over HTTP/2 only (cleartext h2 with prior knowledge
//!   on the plain listener, h2 by ALPN on the TLS one; an HTTP/1.x request gets `505 {"reason":"HTTP2Required"}`, a sandbox-only reason since
//!   real APNs refuses at the TLS layer), ES256 provider token verified with the public half
//!   of [`crate::SANDBOX_APNS_PRIVATE_KEY_PEM`] (`kid`, `iss`, `iat` at most 60 min old).
//! - [`device`]: `received` then `opened` receipts to the configured URL, HMAC-signed.
//!
//! Request handling order: record, authenticate, consult the fault book (`push`, match key
//! `to` = the device token), apply latency, then answer the fault or process the push. The
//! token endpoint has no device token and never consults the fault book.
//!
//! # Magic device tokens
//!
//! | token prefix | FCM | APNs | device |
//! |---|---|---|---|
//! | `dead` | 404 `UNREGISTERED` | 410 `Unregistered` + `timestamp` | — |
//! | `bad` | 400 `INVALID_ARGUMENT` | 400 `BadDeviceToken` | — |
//! | `silent` | 200 | 200 | never acknowledges |
//! | `noopen` | 200 | 200 | `received`, never `opened` |
//! | anything else | 200 | 200 | `received`, then `opened` |
//!
//! A fault's `callback_status` forces the device's behaviour: `opened`, `received` or
//! `silent`. Injected statuses answer in each provider's envelope: FCM 400 INVALID_ARGUMENT,
//! 401 THIRD_PARTY_AUTH_ERROR, 403 SENDER_ID_MISMATCH, 404 UNREGISTERED, 429 QUOTA_EXCEEDED,
//! 500 INTERNAL, 503 UNAVAILABLE; APNs 400 BadDeviceToken, 403 InvalidProviderToken, 410
//! Unregistered, 413 PayloadTooLarge, 429 TooManyRequests, 500 InternalServerError, 503
//! ServiceUnavailable. `retry_after_s` adds `Retry-After`; the rule's `code` is ignored.
//!
//! # Control endpoints
//!
//! | endpoint | effect |
//! |---|---|
//! | `GET`/`PUT /_sandbox/push/config` | device settings `{"receipt_url","receipt_key","connection_id","received_delay_ms","opened_delay_ms"}`; PUT is partial, `""` clears the URL |
//! | `GET /_sandbox/push/messages` | `{"requests": [...], "token_requests": {token: n}, "stats": {...}}`: every FCM/APNs request with headers, raw body, status, outcome and receipt POSTs |
//! | `GET /_sandbox/push/stats` | `{token_exchanges, token_exchange_failures, fcm_requests, apns_requests, accepted, rejected, receipts_sent, receipts_failed}` |
//!
//! Neither provider has an idempotency key; the sandbox does not deduplicate either (APNs
//! `apns-id` is echoed, not used to deduplicate).

pub mod apns;
pub mod device;
pub mod fcm;
pub mod jwt;
pub mod keys;
pub(crate) mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub(crate) use self::state::PushState;
use self::state::{DeviceConfigPatch, RequestRecord, RequestView};
use crate::Shared;
use crate::conn::ConnKill;
use crate::faults::{Answer, ChannelSpec, FaultAction};

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "push",
    match_keys: &["to"],
    callback_statuses: device::SCENARIOS,
};

/// FCM's and APNs' payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// Bounds memory only; anything over the payload limit is refused anyway.
const MAX_BODY: usize = 256 * 1024;
/// Headers a provider reads, recorded per request.
const RECORDED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "apns-topic",
    "apns-push-type",
    "apns-priority",
    "apns-expiration",
    "apns-id",
    "apns-collapse-id",
];

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/token", post(fcm::token))
        .route("/v1/projects/{project}/messages:send", post(fcm::send))
        .route("/3/device/{token}", post(apns::send))
        .route("/_sandbox/push/config", get(get_config).put(put_config))
        .route("/_sandbox/push/messages", get(messages))
        .route("/_sandbox/push/stats", get(stats))
}

/// An error answer and how the request log names it.
pub(crate) struct Rejection {
    /// Boxed: a `Response` is large and rejections travel in `Result`s.
    pub response: Box<Response>,
    pub outcome: String,
}

/// What a fault did to the answer.
pub(crate) enum Injected {
    Answer(Rejection),
    /// The connection was dropped (`timeout` or `reset`).
    Dropped(&'static str),
}

/// Device tokens are opaque; these characters are what FCM and APNs tokens are made of.
pub(crate) fn token_chars_ok(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 4096
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
}

pub(crate) fn kill_of(req: &Request) -> Option<ConnKill> {
    req.extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone())
}

pub(crate) fn record_base(
    platform: &'static str,
    parts: &Parts,
    raw: &[u8],
    token: Option<String>,
) -> RequestRecord {
    let headers = RECORDED_HEADERS
        .iter()
        .filter_map(|name| {
            let v = parts.headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), v.to_owned()))
        })
        .collect();
    RequestRecord {
        seq: 0,
        platform,
        token,
        path: parts.uri.path().to_owned(),
        http_version: format!("{:?}", parts.version),
        headers,
        body: String::from_utf8_lossy(raw).into_owned(),
        status: None,
        accepted: false,
        outcome: String::new(),
        provider_message_id: None,
        sb_message_id: None,
        fault_id: None,
        events: Vec::new(),
    }
}

/// Records the request and, when the push was taken, schedules the device's receipts.
pub(crate) fn conclude(
    shared: &Arc<Shared>,
    mut rec: RequestRecord,
    action: &FaultAction,
    processed: Option<Result<(String, Response), Rejection>>,
    injected: Option<Injected>,
) -> Response {
    let mut response = match processed {
        Some(Ok((id, resp))) => {
            rec.accepted = true;
            rec.outcome = "accepted".into();
            rec.provider_message_id = Some(id);
            Some(resp)
        }
        Some(Err(r)) => {
            rec.outcome = r.outcome;
            Some(*r.response)
        }
        None => None,
    };
    let fault_outcome = match injected {
        Some(Injected::Answer(r)) => {
            response = Some(*r.response);
            Some(r.outcome)
        }
        Some(Injected::Dropped(what)) => {
            response = None;
            Some(what.to_owned())
        }
        None => None,
    };
    if let Some(f) = fault_outcome {
        rec.outcome = if rec.accepted {
            format!("accepted; answered {f}")
        } else {
            f
        };
    }
    rec.status = response.as_ref().map(|r| r.status().as_u16());
    let (accepted, token, sb) = (rec.accepted, rec.token.clone(), rec.sb_message_id.clone());
    let seq = shared.push.record(rec);
    if accepted {
        device::schedule(
            shared,
            seq,
            token.as_deref().unwrap_or_default(),
            sb.as_deref(),
            action,
        );
    }
    response.unwrap_or_else(|| StatusCode::BAD_GATEWAY.into_response())
}

/// Fault book, latency, then the injected answer or the processed push.
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    mut rec: RequestRecord,
    facts: &[(&str, &str)],
    kill: Option<ConnKill>,
    process: impl FnOnce(&FaultAction) -> Result<(String, Response), Rejection>,
    injected: fn(u16, Option<u64>, u64) -> Rejection,
) -> Response {
    let (fault_id, action) = match shared.faults.take(CHANNEL.name, facts) {
        Some(a) => (Some(a.rule_id), a.action),
        None => (None, FaultAction::default()),
    };
    rec.fault_id = fault_id;
    if let Some(ms) = action.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let processed = action.processes_request().then(|| process(&action));
    match action.answer() {
        Answer::Normal => conclude(shared, rec, &action, processed, None),
        Answer::Error {
            status,
            retry_after_s,
            ..
        } => {
            let inj = Injected::Answer(injected(status, retry_after_s, shared.clock.now_ms()));
            conclude(shared, rec, &action, processed, Some(inj))
        }
        Answer::Timeout => {
            conclude(
                shared,
                rec,
                &action,
                processed,
                Some(Injected::Dropped("timeout")),
            );
            shared.hold().await;
            crate::drop_connection(kill.as_ref())
        }
        Answer::Reset => {
            conclude(
                shared,
                rec,
                &action,
                processed,
                Some(Injected::Dropped("reset")),
            );
            crate::drop_connection(kill.as_ref())
        }
    }
}

async fn get_config(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.push.config()).into_response()
}

async fn put_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let patch: DeviceConfigPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid push config: {e}")})),
            )
                .into_response();
        }
    };
    if let Some(url) = patch.receipt_url.as_deref().filter(|u| !u.is_empty())
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "receipt_url must be an absolute http(s) URL"})),
        )
            .into_response();
    }
    Json(shared.push.patch_config(patch)).into_response()
}

fn stats_json(shared: &Shared) -> serde_json::Value {
    let mut stats = shared.push.stats();
    let (ok, failed) = shared.callbacks.counts(CHANNEL.name);
    stats.receipts_sent = ok;
    stats.receipts_failed = failed;
    json!(stats)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(stats_json(&shared)).into_response()
}

async fn messages(State(shared): State<Arc<Shared>>) -> Response {
    let (requests, token_requests) = shared.push.requests();
    let requests: Vec<RequestView> = requests
        .into_iter()
        .map(|record| RequestView {
            receipts: shared
                .callbacks
                .records_for(CHANNEL.name, &device::callback_id(record.seq)),
            record,
        })
        .collect();
    Json(json!({
        "requests": requests,
        "token_requests": token_requests,
        "stats": stats_json(&shared),
    }))
    .into_response()
}
