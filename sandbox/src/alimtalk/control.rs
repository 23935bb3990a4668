//! `/_sandbox/alimtalk/...`: the simulator's own control endpoints.
//!
//! | endpoint | effect |
//! |---|---|
//! | `GET`/`PUT /_sandbox/alimtalk/config` | `{"webhook_url", "sent_delay_ms", "delivered_delay_ms", "enforce_sending_hours", "immediate_failures"}`; PUT is partial, `"webhook_url": ""` removes the URL |
//! | `GET /_sandbox/alimtalk/messages` | every `POST /messages/v4/send` received: headers, raw body, answer, reports due and webhook attempts |
//! | `GET /_sandbox/alimtalk/templates` | the registered templates |
//! | `GET /_sandbox/alimtalk/stats` | `{requests, unique_accepted, duplicates, callbacks_sent, callbacks_failed}` |
//!
//! `POST /_sandbox/reset` forgets all of it and restores the default config.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::state::{AlimTalkSimConfig, ReceivedView};
use super::templates::SANDBOX_ALIMTALK_TEMPLATES;
use crate::Shared;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/alimtalk/config", get(get_config).put(put_config))
        .route("/_sandbox/alimtalk/messages", get(messages))
        .route("/_sandbox/alimtalk/templates", get(templates))
        .route("/_sandbox/alimtalk/stats", get(stats))
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDto {
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    sent_delay_ms: Option<u64>,
    #[serde(default)]
    delivered_delay_ms: Option<u64>,
    #[serde(default)]
    enforce_sending_hours: Option<bool>,
    #[serde(default)]
    immediate_failures: Option<bool>,
}

fn millis(d: Duration) -> Option<u64> {
    Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn config_json(cfg: AlimTalkSimConfig) -> Response {
    Json(ConfigDto {
        webhook_url: cfg.webhook_url,
        sent_delay_ms: millis(cfg.sent_delay),
        delivered_delay_ms: millis(cfg.delivered_delay),
        enforce_sending_hours: Some(cfg.enforce_sending_hours),
        immediate_failures: Some(cfg.immediate_failures),
    })
    .into_response()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn get_config(State(shared): State<Arc<Shared>>) -> Response {
    config_json(shared.alimtalk.config())
}

/// Partial update, checked before anything changes; applies to sends accepted afterwards.
async fn put_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let dto: ConfigDto = match serde_json::from_slice(&body) {
        Ok(dto) => dto,
        Err(e) => return bad_request(format!("invalid alimtalk config: {e}")),
    };
    let mut cfg = shared.alimtalk.config();
    match dto.webhook_url.as_deref() {
        None => {}
        Some("") => cfg.webhook_url = None,
        Some(url) => match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                cfg.webhook_url = Some(url.to_owned());
            }
            _ => return bad_request(format!("webhook_url {url:?} is not an http(s) URL")),
        },
    }
    if let Some(ms) = dto.sent_delay_ms {
        cfg.sent_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = dto.delivered_delay_ms {
        cfg.delivered_delay = Duration::from_millis(ms);
    }
    if let Some(on) = dto.enforce_sending_hours {
        cfg.enforce_sending_hours = on;
    }
    if let Some(on) = dto.immediate_failures {
        cfg.immediate_failures = on;
    }
    shared.alimtalk.set_config(cfg.clone());
    config_json(cfg)
}

async fn messages(State(shared): State<Arc<Shared>>) -> Response {
    let views: Vec<ReceivedView> = shared
        .alimtalk
        .received()
        .into_iter()
        .map(|received| {
            let callbacks = received
                .message_id
                .as_deref()
                .map(|id| shared.callbacks.records_for(super::CHANNEL.name, id))
                .unwrap_or_default();
            ReceivedView {
                received,
                callbacks,
            }
        })
        .collect();
    Json(views).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut s = shared.alimtalk.stats();
    (s.callbacks_sent, s.callbacks_failed) = shared.callbacks.counts(super::CHANNEL.name);
    Json(s).into_response()
}

async fn templates() -> Response {
    Json(SANDBOX_ALIMTALK_TEMPLATES).into_response()
}
