//! Shared pieces of the Messenger simulator tests: a sandbox, a webhook receiver that checks
//! signatures with its own HMAC, and Graph request helpers.

use axum::body::Bytes;
use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_MESSENGER_APP_SECRET, SANDBOX_MESSENGER_PAGES, SandboxHandle, SandboxPage,
};

use crate::common::{Inbox, client, control, start_sandbox};

pub const VERSION: &str = "v21.0";

pub fn page(i: usize) -> &'static SandboxPage {
    &SANDBOX_MESSENGER_PAGES[i]
}

/// Lowercase hex HMAC-SHA256, computed here rather than with the simulator's own function.
pub fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub signature: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The single messaging event of the envelope.
    pub fn event(&self) -> Value {
        let v = self.json();
        assert_eq!(v["object"], "page");
        let messaging = v["entry"][0]["messaging"].as_array().unwrap();
        assert_eq!(messaging.len(), 1);
        messaging[0].clone()
    }

    pub fn kind(&self) -> &'static str {
        let e = self.event();
        if e["message"]["is_echo"] == true {
            "echo"
        } else if e.get("message").is_some() {
            "message"
        } else if e.get("delivery").is_some() {
            "delivery"
        } else if e.get("read").is_some() {
            "read"
        } else if e.get("postback").is_some() {
            "postback"
        } else {
            "other"
        }
    }

    pub fn verifies(&self) -> bool {
        self.signature
            == format!(
                "sha256={}",
                hmac_hex(SANDBOX_MESSENGER_APP_SECRET, &self.body)
            )
    }
}

pub struct Receiver {
    pub base: String,
    got: Inbox<Received>,
}

impl Receiver {
    pub async fn start() -> Self {
        let (got, base) = Inbox::serve("/hook/{name}", StatusCode::OK, |hit| Received {
            // The `{name}` segment of the route.
            path: hit.uri.path().trim_start_matches("/hook/").to_owned(),
            signature: hit.header("x-hub-signature-256"),
            body: hit.body,
        })
        .await;
        Self {
            base: format!("{base}/hook"),
            got,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.received()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.got.wait_for(n).await
    }
}

pub struct Sim {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start() -> Self {
        Self {
            handle: start_sandbox(Default::default()).await,
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub async fn send_raw(&self, page: &SandboxPage, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/{VERSION}/me/messages")))
            .bearer_auth(page.access_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Sends and returns (status, JSON body).
    pub async fn send(&self, page: &SandboxPage, body: &Value) -> (u16, Value) {
        let resp = self.send_raw(page, body).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        control(&self.http, &self.handle.base_url(), method, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.control(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.control(reqwest::Method::GET, path, None).await
    }

    /// The user `psid` writes `text` to `page`; returns the mid.
    pub async fn inbound(&self, page: &SandboxPage, psid: &str, text: &str) -> String {
        let v = self
            .post(
                "messenger/inbound",
                json!({"page_id": page.id, "psid": psid, "text": text}),
            )
            .await;
        v["mid"].as_str().unwrap().to_owned()
    }

    pub async fn set_clock(&self, offset_ms: i64) {
        self.put("clock", json!({ "offset_ms": offset_ms })).await;
    }

    pub async fn fast_webhooks(&self, receiver: &Receiver) {
        let hooks: serde_json::Map<String, Value> = (0..3)
            .map(|i| (page(i).id.to_owned(), json!(receiver.url(&format!("p{i}")))))
            .collect();
        self.put(
            "messenger/config",
            json!({"webhooks": hooks, "delivery_delay_ms": 5, "read_delay_ms": 15}),
        )
        .await;
    }
}

pub fn text(psid: &str, t: &str) -> Value {
    json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": t}})
}
