//! The `/_sandbox` control API: fault rules, counters, recorded messages, runtime config and
//! reset. Plain JSON, errors as `{"error": "..."}`; it never shares a path with a simulated
//! provider, so a gateway pointed at the sandbox cannot reach it by accident.
//!
//! | endpoint | effect |
//! |---|---|
//! | `POST /_sandbox/faults` | add a [`FaultSpec`] rule → 201 `{"id": "fault-N"}`, 400 if invalid |
//! | `GET /_sandbox/faults` | rules in evaluation order, with `remaining` and `hits` |
//! | `DELETE /_sandbox/faults[/{id}]` | remove all rules (or one) → 204 |
//! | `GET /_sandbox/stats` | `{"sms": {requests, unique_accepted, duplicates, callbacks_sent, callbacks_failed}}` |
//! | `GET /_sandbox/sms/messages` | array of accepted messages with raw form and callback outcomes |
//! | `GET`/`PUT /_sandbox/config` | `{"sms": {"sent_delay_ms", "delivered_delay_ms"}}`; PUT is partial |
//! | `POST /_sandbox/reset` | forget messages, counters, faults, pending callbacks; restore start config → 204 |
//!
//! `callbacks_sent` counts attempts the receiver answered with 2xx, `callbacks_failed` all
//! other attempts (non-2xx or transport error).

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

use crate::faults::FaultSpec;
use crate::sms::{self, state::MessageView};
use crate::{Shared, SmsSimConfig};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_sandbox/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_sandbox/faults/{id}", delete(remove_fault))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/sms/messages", get(sms_messages))
        .route("/_sandbox/config", get(get_config).put(put_config))
        .route("/_sandbox/reset", post(reset))
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
    Json(json!({ "sms": sms })).into_response()
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
struct ConfigDto {
    #[serde(default)]
    sms: Option<SmsConfigDto>,
}

fn millis(d: Duration) -> Option<u64> {
    Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn config_json(shared: &Shared) -> Response {
    let sms = shared.sms_config();
    Json(ConfigDto {
        sms: Some(SmsConfigDto {
            sent_delay_ms: millis(sms.sent_delay),
            delivered_delay_ms: millis(sms.delivered_delay),
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
