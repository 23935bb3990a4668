//! Harness pieces every simulator's tests share: a sandbox on a free port, a client that never
//! goes through a proxy, a local receiver that records the callbacks a simulator posts, and
//! requests to the `/_sandbox/...` control API.
//!
//! Each test file is its own crate and uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use switchboard_sandbox::{SandboxConfig, SandboxHandle};

/// A client builder that skips any proxy of the environment (the sandbox is on 127.0.0.1).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().no_proxy()
}

/// A plain client from [`client_builder`].
pub fn client() -> reqwest::Client {
    client_builder().build().unwrap()
}

/// A sandbox with `cfg` on a free local port.
pub async fn start_sandbox(cfg: SandboxConfig) -> SandboxHandle {
    switchboard_sandbox::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap()
}

/// A request header as text; empty when it is missing or not visible ASCII.
pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// One POST as a local receiver saw it.
pub struct Hit {
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn header(&self, name: &str) -> String {
        header(&self.headers, name)
    }
}

/// What a local receiver recorded, in arrival order.
pub struct Inbox<T> {
    got: Arc<Mutex<Vec<T>>>,
}

impl<T: Clone + Send + 'static> Inbox<T> {
    /// Serves POST `route` on a free local port, records each request as `record` makes it and
    /// answers `status`. Returns the inbox and the receiver's `http://host:port`.
    pub async fn serve<F>(route: &str, status: StatusCode, record: F) -> (Self, String)
    where
        F: Fn(Hit) -> T + Clone + Send + Sync + 'static,
    {
        let got: Arc<Mutex<Vec<T>>> = Arc::default();
        let sink = got.clone();
        let app = Router::new().route(
            route,
            post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                let record = record.clone();
                async move {
                    let hit = record(Hit { uri, headers, body });
                    sink.lock().unwrap().push(hit);
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (Self { got }, format!("http://{addr}"))
    }

    /// Everything recorded so far.
    pub fn received(&self) -> Vec<T> {
        self.got.lock().unwrap().clone()
    }

    /// What was recorded so far and `keep` accepts.
    pub fn matching(&self, keep: impl Fn(&T) -> bool) -> Vec<T> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| keep(r))
            .cloned()
            .collect()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.got.lock().unwrap().clear();
    }

    /// Waits until `n` were recorded, or 3 s passed; returns what was recorded by then.
    pub async fn wait_for(&self, n: usize) -> Vec<T> {
        self.wait_matching(n, |_| true).await
    }

    /// [`Inbox::wait_for`] counting only what `keep` accepts.
    pub async fn wait_matching(&self, n: usize, keep: impl Fn(&T) -> bool) -> Vec<T> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let got = self.matching(&keep);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Sends `method` to `{base}/_sandbox/{path}` with an optional JSON body.
pub async fn control_send(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = http.request(method, format!("{base}/_sandbox/{path}"));
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.unwrap()
}

/// A control request that must succeed; its JSON answer, or null when there is none.
pub async fn control(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let resp = control_send(http, base, method, path, body.as_ref()).await;
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// A control request that must answer exactly `expected`; the response, to read further.
pub async fn control_expect(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    expected: StatusCode,
) -> reqwest::Response {
    let resp = control_send(http, base, method, path, body).await;
    assert_eq!(resp.status(), expected);
    resp
}

/// Moves the sandbox clock `offset_ms` from real time (must answer 200).
pub async fn set_clock(http: &reqwest::Client, base: &str, offset_ms: i64) {
    let body = json!({ "offset_ms": offset_ms });
    control_expect(
        http,
        base,
        reqwest::Method::PUT,
        "clock",
        Some(&body),
        StatusCode::OK,
    )
    .await;
}

/// GETs `url` and reads the answer as JSON, whatever the status.
pub async fn get_json<T: DeserializeOwned>(http: &reqwest::Client, url: &str) -> T {
    http.get(url).send().await.unwrap().json().await.unwrap()
}
