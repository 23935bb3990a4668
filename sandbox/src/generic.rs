//! Receivers for channels that have no provider of their own to simulate.
//!
//! - `POST /webhook/receive`: the business's endpoint for the generic webhook channel. It
//!   records each request (headers and body) and answers 200; it verifies nothing, so a test
//!   or a person can read exactly what the gateway sent and check the signature themselves.
//!   `GET /_sandbox/webhook/received` lists what arrived.
//! - `POST /stub/{plugin}/messages`: a stand-in provider for a new plugin (what
//!   `switchboard plugin new` generates sends here in sandbox mode). It records the request
//!   and answers 201 `{"id": "stub-<plugin>-<n>"}`. It never calls back (a new plugin has
//!   no callback secret in sandbox mode); instead `GET /stub/{plugin}/messages/{id}` answers
//!   `{"id", "status": "delivered"}` for every message it accepted, which a plugin's
//!   `lookup_status` can ask. `GET /_sandbox/stub/{plugin}/messages` lists what arrived.
//!
//! Both keep at most [`KEEP`] requests each, dropping the oldest: a load test must not grow
//! the simulator without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Shared;

/// Requests kept per receiver.
pub const KEEP: usize = 10_000;

/// The generic webhook sandbox connection's signing secret (the receiver does not check it;
/// it is here so tests can).
pub const SANDBOX_WEBHOOK_SIGNING_SECRET: &str = "sandbox-webhook-signing-secret";

#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// The stub's plugin name; empty for the webhook receiver.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub plugin: String,
    pub headers: serde_json::Map<String, Value>,
    /// The body as text (lossy for non-UTF-8 bytes).
    pub body: String,
    pub received_at_ms: u64,
    /// The stub's answer id; absent for the webhook receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Default)]
pub(crate) struct GenericState {
    webhook: Mutex<VecDeque<Received>>,
    stub: Mutex<VecDeque<Received>>,
    /// Never reset, so an id is not handed out twice in one process.
    stub_count: AtomicU64,
}

impl GenericState {
    pub(crate) fn clear(&self) {
        lock(&self.webhook).clear();
        lock(&self.stub).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn keep(list: &Mutex<VecDeque<Received>>, r: Received) {
    let mut list = lock(list);
    if list.len() == KEEP {
        list.pop_front();
    }
    list.push_back(r);
}

fn record(shared: &Shared, plugin: &str, headers: &HeaderMap, body: &Bytes) -> Received {
    Received {
        plugin: plugin.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_string(), Value::String(v))
            })
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
        received_at_ms: shared.clock.now_ms(),
        id: None,
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/webhook/receive", post(receive))
        .route("/_sandbox/webhook/received", get(received))
        .route("/stub/{plugin}/messages", post(stub_send))
        .route("/stub/{plugin}/messages/{id}", get(stub_status))
        .route("/_sandbox/stub/{plugin}/messages", get(stub_messages))
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    keep(
        &shared.generic.webhook,
        record(&shared, "", &headers, &body),
    );
    StatusCode::OK
}

async fn received(State(shared): State<Arc<Shared>>) -> Json<Vec<Received>> {
    Json(lock(&shared.generic.webhook).iter().cloned().collect())
}

async fn stub_send(
    State(shared): State<Arc<Shared>>,
    Path(plugin): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let n = shared.generic.stub_count.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("stub-{plugin}-{n}");
    let mut r = record(&shared, &plugin, &headers, &body);
    r.id = Some(id.clone());
    keep(&shared.generic.stub, r);
    (StatusCode::CREATED, Json(json!({ "id": id })))
}

async fn stub_messages(
    State(shared): State<Arc<Shared>>,
    Path(plugin): Path<String>,
) -> Json<Vec<Received>> {
    let list = lock(&shared.generic.stub);
    Json(
        list.iter()
            .filter(|r| r.plugin == plugin)
            .cloned()
            .collect(),
    )
}

/// The stub delivers what it accepts at once; it forgets what fell out of [`KEEP`].
async fn stub_status(
    State(shared): State<Arc<Shared>>,
    Path((plugin, id)): Path<(String, String)>,
) -> (StatusCode, Json<Value>) {
    let list = lock(&shared.generic.stub);
    let known = list
        .iter()
        .any(|r| r.plugin == plugin && r.id.as_deref() == Some(id.as_str()));
    if known {
        (
            StatusCode::OK,
            Json(json!({ "id": id, "status": "delivered" })),
        )
    } else {
        let error = format!("no message {id} for {plugin}");
        (StatusCode::NOT_FOUND, Json(json!({ "error": error })))
    }
}
