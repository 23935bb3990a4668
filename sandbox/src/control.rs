//! The `/_sandbox` control API: fault rules, counters, recorded messages, runtime config and
//! reset. Plain JSON, errors as `{"error": "..."}`; it never shares a path with a simulated
//! provider, so a gateway pointed at the sandbox cannot reach it by accident.
//!
//! | endpoint | effect |
//! |---|---|
//! | `POST /_sandbox/faults` | add a [`FaultSpec`] rule → 201 `{"id": "fault-N"}`, 400 if invalid |
//! | `GET /_sandbox/faults` | rules in evaluation order, with `remaining` and `hits` |
//! | `DELETE /_sandbox/faults[/{id}]` | remove all rules (or one) → 204 |
//! | `GET /_sandbox/stats` | `{"sms": {…}, "email": {…}, "payments": {…}}`; sms and email each `{requests, unique_accepted, duplicates, callbacks_sent, callbacks_failed}`, payments `{requests, charges_succeeded, charges_declined, duplicates}` |
//! | `GET /_sandbox/sms/messages` | array of accepted messages with raw form and callback outcomes |
//! | `GET /_sandbox/email/messages` | array of accepted emails with the raw request body, events and their outcomes |
//! | `GET`/`PUT /_sandbox/config` | `{"sms": {"sent_delay_ms", "delivered_delay_ms"}, "email": {"processed_delay_ms", "delivered_delay_ms", "open_delay_ms", "event_webhook_url"}}`; PUT is partial |
//! | any method `/_sandbox/echo` | 200 `{"method", "query", "headers": {…}, "body"}`: the request quoted back, as some providers quote the offending header or field in an error (the plugin sandbox suite checks the host redacts secrets from answers) |
//! | `GET /_sandbox/transport` | how provider requests arrived: `[{"host", "tls", "http_version", "path_prefix", "count"}]`, one row per combination (path cut to two segments), control requests left out |
//! | `GET /_sandbox/tls` | `{"addr", "ca_pem", "hosts"}`: the TLS listener, the CA to trust and the host names it serves; 404 when the router runs without `start` |
//! | `POST /_sandbox/reset` | forget messages, counters, faults, pending callbacks, SendGrid's authenticated domains, the simulated DNS, the transport log; restore start config → 204 |
//! | `PUT`/`DELETE /_sandbox/dns/{name}`, `GET /_sandbox/dns` | the simulated DNS the providers' domain checks read ([`crate::dns`]) |
//!
//! `callbacks_sent` counts attempts the receiver answered with 2xx, `callbacks_failed` all
//! other attempts (non-2xx or transport error). For email a callback is one event POST.
//! `event_webhook_url` must be an absolute http(s) URL; `""` removes it (no events are posted).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::email::{self, state::MessageView as EmailView};
use crate::faults::FaultSpec;
use crate::sms::{self, state::MessageView};
use crate::{EmailSimConfig, Shared, SmsSimConfig};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_sandbox/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_sandbox/faults/{id}", delete(remove_fault))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/sms/messages", get(sms_messages))
        .route("/_sandbox/email/messages", get(email_messages))
        .route("/_sandbox/config", get(get_config).put(put_config))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/echo", axum::routing::any(echo))
        .route("/_sandbox/clock", get(get_clock).put(put_clock))
        .route("/_sandbox/transport", get(transport))
        .route("/_sandbox/tls", get(tls))
}

async fn transport(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.transport.rows()).into_response()
}

/// Lets a gateway in another process fetch what an in-process one gets from the handle.
async fn tls(State(shared): State<Arc<Shared>>) -> Response {
    match shared.tls.get() {
        Some(tls) => Json(json!({
            "addr": tls.addr.to_string(),
            "ca_pem": tls.ca_pem,
            "hosts": crate::PROVIDER_HOSTS,
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "this sandbox has no TLS listener" })),
        )
            .into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockDto {
    offset_ms: i64,
}

async fn echo(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
            )
        })
        .collect();
    Json(json!({
        "method": method.as_str(),
        "query": uri.query().unwrap_or(""),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

fn clock_json(shared: &Shared) -> Response {
    Json(json!({
        "offset_ms": shared.clock.offset_ms(),
        "now_ms": shared.clock.now_ms(),
    }))
    .into_response()
}

async fn get_clock(State(shared): State<Arc<Shared>>) -> Response {
    clock_json(&shared)
}

/// Sets the offset of every simulator's clock from the wall clock (not cumulative).
async fn put_clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockDto>(&body) {
        Ok(dto) => {
            shared.clock.set_offset_ms(dto.offset_ms);
            clock_json(&shared)
        }
        Err(e) => bad_request(format!("invalid clock: {e}")),
    }
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.to_string() })),
    )
        .into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => return bad_request(format!("invalid fault rule: {e}")),
    };
    match shared.faults.add(spec) {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
        Err(e) => bad_request(e),
    }
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.faults.list()).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

async fn remove_fault(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if shared.faults.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no fault rule {id}") })),
        )
            .into_response()
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut sms = shared.sms.stats();
    (sms.callbacks_sent, sms.callbacks_failed) = shared.callbacks.counts(sms::CHANNEL.name);
    let mut email = shared.email.stats();
    (email.callbacks_sent, email.callbacks_failed) = shared.callbacks.counts(email::CHANNEL.name);
    let payments = shared.payments.stats();
    Json(json!({ "sms": sms, "email": email, "payments": payments })).into_response()
}

async fn sms_messages(State(shared): State<Arc<Shared>>) -> Response {
    let views: Vec<MessageView> = shared
        .sms
        .messages()
        .into_iter()
        .map(|msg| {
            let callbacks = shared.callbacks.records_for(sms::CHANNEL.name, &msg.sid);
            MessageView::new(msg, callbacks)
        })
        .collect();
    Json(views).into_response()
}

async fn email_messages(State(shared): State<Arc<Shared>>) -> Response {
    let views: Vec<EmailView> = shared
        .email
        .messages()
        .into_iter()
        .map(|msg| {
            let callbacks = shared
                .callbacks
                .records_for(email::CHANNEL.name, &msg.x_message_id);
            EmailView::new(msg, callbacks)
        })
        .collect();
    Json(views).into_response()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsConfigDto {
    #[serde(default)]
    sent_delay_ms: Option<u64>,
    #[serde(default)]
    delivered_delay_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailConfigDto {
    #[serde(default)]
    processed_delay_ms: Option<u64>,
    #[serde(default)]
    delivered_delay_ms: Option<u64>,
    #[serde(default)]
    open_delay_ms: Option<u64>,
    /// On PUT: absent or null keeps the URL, `""` removes it.
    #[serde(default)]
    event_webhook_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDto {
    #[serde(default)]
    sms: Option<SmsConfigDto>,
    #[serde(default)]
    email: Option<EmailConfigDto>,
}

/// Receivers are plain HTTP(S) endpoints; catching a typo here beats a run of failed POSTs.
fn webhook_url(url: String) -> Result<Option<String>, String> {
    if url.is_empty() {
        return Ok(None);
    }
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(Some(url)),
        Ok(_) => Err(format!("event_webhook_url {url:?} is not an http(s) URL")),
        Err(e) => Err(format!("event_webhook_url {url:?}: {e}")),
    }
}

fn millis(d: Duration) -> Option<u64> {
    Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn config_json(shared: &Shared) -> Response {
    let sms = shared.sms_config();
    let email = shared.email_config();
    Json(ConfigDto {
        sms: Some(SmsConfigDto {
            sent_delay_ms: millis(sms.sent_delay),
            delivered_delay_ms: millis(sms.delivered_delay),
        }),
        email: Some(EmailConfigDto {
            processed_delay_ms: millis(email.processed_delay),
            delivered_delay_ms: millis(email.delivered_delay),
            open_delay_ms: millis(email.open_delay),
            event_webhook_url: email.event_webhook_url,
        }),
    })
    .into_response()
}

async fn get_config(State(shared): State<Arc<Shared>>) -> Response {
    config_json(&shared)
}

/// Partial update: fields left out keep their value. Applies to messages accepted afterwards.
async fn put_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let dto: ConfigDto = match serde_json::from_slice(&body) {
        Ok(dto) => dto,
        Err(e) => return bad_request(format!("invalid config: {e}")),
    };
    // Checked before anything changes, so a rejected PUT leaves the config as it was.
    let new_url = match dto.email.as_ref().and_then(|e| e.event_webhook_url.clone()) {
        Some(url) => match webhook_url(url) {
            Ok(url) => Some(url),
            Err(e) => return bad_request(e),
        },
        None => None,
    };
    if let Some(email) = dto.email {
        let mut cfg = shared.config.lock().expect("config poisoned");
        let current = cfg.email.clone();
        let delay = |ms: Option<u64>, old| ms.map_or(old, Duration::from_millis);
        cfg.email = EmailSimConfig {
            processed_delay: delay(email.processed_delay_ms, current.processed_delay),
            delivered_delay: delay(email.delivered_delay_ms, current.delivered_delay),
            open_delay: delay(email.open_delay_ms, current.open_delay),
            event_webhook_url: new_url.unwrap_or(current.event_webhook_url),
        };
    }
    if let Some(sms) = dto.sms {
        let mut cfg = shared.config.lock().expect("config poisoned");
        let current = cfg.sms;
        cfg.sms = SmsSimConfig {
            sent_delay: sms
                .sent_delay_ms
                .map_or(current.sent_delay, Duration::from_millis),
            delivered_delay: sms
                .delivered_delay_ms
                .map_or(current.delivered_delay, Duration::from_millis),
        };
    }
    config_json(&shared)
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}
