//! Simulated card processor: Stripe's Charges API, `POST /v1/charges`.
//!
//! The gateway's prepaid wallet tops up through a payments boundary; this is the processor
//! behind it in tests. It speaks Stripe's wire format (form-encoded requests, the Charge object,
//! the `{"error": {...}}` envelope, `Idempotency-Key`), so the same client code runs against
//! Stripe's test mode with the same tokens.
//!
//! Request handling order: count the request, authenticate (HTTP Basic with
//! [`SANDBOX_PAYMENTS_SECRET_KEY`] as the user name, password ignored, or `Bearer` with the key,
//! as Stripe's libraries send it; anything else → 401 `invalid_request_error`, the key masked),
//! read the form (1 MiB at most), check the `Idempotency-Key` (255 characters at most), consult
//! the fault book (keyed on `source`, `currency`, `amount`), apply latency, then process:
//! idempotency replay or conflict, validation, the charge.
//!
//! # Parameters
//!
//! `amount` (positive integer in the smallest currency unit, ≤ 99999999), `currency` (three
//! letters, lowercased), `source` (a test token), optional `description` and `metadata[key]`
//! (≤ 50 keys, keys ≤ 40 and values ≤ 500 characters). Anything else is `parameter_unknown`;
//! an empty value counts as absent; a repeated field keeps its last value. Refusals are 400
//! `invalid_request_error` with `param` and, where Stripe has one, `code`: `parameter_unknown`,
//! `parameter_missing`, `parameter_invalid_integer`, `amount_too_large`, `resource_missing`
//! (unknown token). Stripe's per-currency minimum amounts are not enforced.
//!
//! # Outcomes
//!
//! Approved: 200 with the Charge object (`ch_` + 24 characters, `status: "succeeded"`,
//! `paid` and `captured` true, `created` in Unix seconds by the simulator clock, `source` the
//! card object with its own `card_…` id, brand and last4). Declined: 402 `card_error` with
//! `code`, `decline_code`, `message` and the id of the `failed` charge it recorded. Which
//! tokens decline, and how, is in [`cards::SANDBOX_PAYMENTS_CARDS`]; the control API can make
//! any of them decline or approve (`PUT /_sandbox/payments/cards/{token}`).
//!
//! # Idempotency
//!
//! As Stripe: the first response for an `Idempotency-Key` is stored (status and body, so the
//! same charge id, approved or declined) and replayed with `Idempotent-Replayed: true` for
//! later requests with the same parameters, creating nothing. Different parameters get 400
//! `idempotency_error`. Refused parameters are not stored (the endpoint never started), nor
//! are faults (the request never reached the processor); a fault with `accept: true` charges
//! first, so a retry finds the stored answer. Keys expire 24 hours after first use, by the
//! simulator clock.
//!
//! # Faults
//!
//! Rules take `"channel": "payments"` and match on `source`, `currency`, `amount` (as sent).
//! `status` answers Stripe's envelope: 429 `rate_limit`, 5xx `api_error`, other 4xx
//! `invalid_request_error`; the numeric `code` is ignored (Stripe's codes are strings). There
//! are no callbacks, so callback actions are refused.

pub mod cards;
pub mod charge;
mod control;
pub mod errors;
pub mod params;
pub(crate) mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;

use self::errors::{MAX_IDEMPOTENCY_KEY_LEN, StripeError, json_response};
use self::params::field;
use self::state::{Answer, ChargeRequest};
use crate::Shared;
use crate::conn::ConnKill;
use crate::faults::{self, ChannelSpec, FaultAction};

pub use self::cards::{DeclineCode, SANDBOX_PAYMENTS_CARDS, SandboxCard};
pub(crate) use self::state::PaymentsState;

/// The only secret key the simulated Stripe accepts.
pub const SANDBOX_PAYMENTS_SECRET_KEY: &str = "sk_test_switchboard_sandbox";

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "payments",
    match_keys: &["source", "currency", "amount"],
    callback_statuses: &[],
};

/// A charge request is a few hundred bytes; this only bounds memory.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/charges", post(create_charge))
        .merge(control::routes())
}

/// `prefix` + `len` random ASCII letters and digits, the shape of Stripe's object ids.
pub(crate) fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend((0..len).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char));
    id
}

/// The secret key of a request: Basic user name or Bearer token, as Stripe accepts both.
fn authenticate(headers: &HeaderMap) -> Result<(), StripeError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(StripeError::no_api_key());
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((&value, ""));
    let credentials = credentials.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .map_err(|_| StripeError::invalid_api_key(credentials))?;
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        match decoded.split_once(':') {
            Some((user, _password)) => user.to_owned(),
            None => decoded,
        }
    } else {
        return Err(StripeError::no_api_key());
    };
    if key.is_empty() {
        Err(StripeError::no_api_key())
    } else if key != SANDBOX_PAYMENTS_SECRET_KEY {
        Err(StripeError::invalid_api_key(&key))
    } else {
        Ok(())
    }
}

async fn create_charge(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    shared.payments.count_request();
    // Before faults, so a test's deliberately bad key never consumes a fault meant for the
    // gateway.
    if let Err(e) = authenticate(&parts.headers) {
        return e.into_response();
    }
    let Ok(bytes) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return StripeError::bad_request("Unable to read the request body.").into_response();
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let idempotency_key = parts
        .headers
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|k| !k.is_empty());
    if idempotency_key
        .as_ref()
        .is_some_and(|k| k.chars().count() > MAX_IDEMPOTENCY_KEY_LEN)
    {
        return StripeError::idempotency_key_too_long().into_response();
    }

    let facts: Vec<(&str, &str)> = CHANNEL
        .match_keys
        .iter()
        .filter_map(|k| field(&form, k).map(|v| (*k, v)))
        .collect();
    let (fault_id, action) = match shared.faults.take(CHANNEL.name, &facts) {
        Some(a) => (Some(a.rule_id), a.action),
        None => (None, FaultAction::default()),
    };
    if let Some(ms) = action.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    let key_header = idempotency_key.clone();
    let processed = action.processes_request().then(|| {
        let req = ChargeRequest {
            form,
            idempotency_key,
            fault_id,
        };
        shared.payments.charge(req, shared.clock.now_ms())
    });
    match action.answer() {
        faults::Answer::Normal => match processed {
            Some(answer) => respond(answer, key_header.as_deref()),
            None => StripeError::injected(StatusCode::INTERNAL_SERVER_ERROR).into_response(),
        },
        faults::Answer::Error {
            status,
            retry_after_s,
            ..
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = StripeError::injected(status).into_response();
            if let Some(secs) = retry_after_s {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        faults::Answer::Timeout => {
            shared.hold().await;
            crate::drop_connection(kill.as_ref())
        }
        faults::Answer::Reset => crate::drop_connection(kill.as_ref()),
    }
}

/// The charge answer with Stripe's idempotency headers.
fn respond(answer: Answer, idempotency_key: Option<&str>) -> Response {
    let mut resp = json_response(answer.status, answer.body);
    let headers = resp.headers_mut();
    if let Some(key) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("idempotency-key", key);
    }
    if answer.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(value: &str) -> Result<(), StripeError> {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        authenticate(&h)
    }

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn accepts_basic_and_bearer_and_masks_wrong_keys() {
        assert!(auth(&basic(&format!("{SANDBOX_PAYMENTS_SECRET_KEY}:"))).is_ok());
        assert!(auth(&format!("Bearer {SANDBOX_PAYMENTS_SECRET_KEY}")).is_ok());
        assert_eq!(
            authenticate(&HeaderMap::new()).unwrap_err().message,
            errors::NO_API_KEY_MESSAGE
        );
        assert_eq!(
            auth(&basic(":")).unwrap_err().message,
            errors::NO_API_KEY_MESSAGE
        );
        let wrong = auth(&basic("sk_test_someone_elses_key_1234:")).unwrap_err();
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(
            wrong
                .message
                .starts_with("Invalid API Key provided: sk_test_*")
        );
        assert!(wrong.message.ends_with("1234") && !wrong.message.contains("elses"));
        assert!(auth("Basic !!!").is_err());
        let id = random_id("ch_", 24);
        assert!(id.len() == 27 && id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
