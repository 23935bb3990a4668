//! Shared pieces of the email simulator tests: a sandbox with short delays whose event webhook
//! points at a small receiver, and verification of SendGrid's event signatures.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde_json::{Value, json};
use switchboard_sandbox::{
    EmailSimConfig, SANDBOX_EMAIL_FROM, SANDBOX_SENDGRID_API_KEY, SandboxConfig, SandboxHandle,
    sendgrid_webhook_public_key,
};

use crate::common::{Inbox, client, control, start_sandbox};

/// One event POST as the test receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: String,
    pub user_agent: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Bytes,
}

impl Received {
    /// The single event of the POST (the simulator sends one per request).
    pub fn event(&self) -> Value {
        let events: Vec<Value> = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        events[0].clone()
    }

    pub fn kind(&self) -> String {
        self.event()["event"].as_str().unwrap().to_owned()
    }
}

/// Verifies like a gateway would, with nothing but the published public key.
pub fn verifies(timestamp: &str, body: &[u8], signature: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let der = b64.decode(sendgrid_webhook_public_key()).unwrap();
    let key = VerifyingKey::from_public_key_der(&der).unwrap();
    let Some(sig) = b64
        .decode(signature)
        .ok()
        .and_then(|d| Signature::from_der(&d).ok())
    else {
        return false;
    };
    let mut payload = timestamp.as_bytes().to_vec();
    payload.extend_from_slice(body);
    key.verify(&payload, &sig).is_ok()
}

pub struct Receiver {
    pub url: String,
    pub got: Inbox<Received>,
}

impl Receiver {
    pub async fn start() -> Self {
        let (got, base) = Inbox::serve("/events", StatusCode::OK, |hit| Received {
            content_type: hit.header("content-type"),
            user_agent: hit.header("user-agent"),
            timestamp: hit.header("x-twilio-email-event-webhook-timestamp"),
            signature: hit.header("x-twilio-email-event-webhook-signature"),
            body: hit.body,
        })
        .await;
        Self {
            url: format!("{base}/events"),
            got,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.received()
    }

    /// POSTs whose event is for `email`, in arrival order.
    pub fn for_email(&self, email: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event()["email"] == email)
            .collect()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.got.wait_for(n).await
    }
}

pub struct Sim {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
}

pub fn fast_config(webhook: Option<&str>) -> SandboxConfig {
    SandboxConfig {
        email: EmailSimConfig {
            processed_delay: Duration::from_millis(5),
            delivered_delay: Duration::from_millis(15),
            open_delay: Duration::from_millis(25),
            event_webhook_url: webhook.map(str::to_owned),
        },
        ..SandboxConfig::default()
    }
}

impl Sim {
    pub async fn start(webhook: Option<&str>) -> Self {
        Self {
            handle: start_sandbox(fast_config(webhook)).await,
            http: client(),
        }
    }

    pub fn send_url(&self) -> String {
        format!("{}/v3/mail/send", self.handle.base_url())
    }

    pub fn send_req(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.send_url())
            .bearer_auth(SANDBOX_SENDGRID_API_KEY)
            .json(body)
    }

    pub async fn send(&self, body: &Value) -> reqwest::Response {
        self.send_req(body).send().await.unwrap()
    }

    /// Sends and returns the X-Message-Id of the 202.
    pub async fn accept(&self, body: &Value) -> String {
        let resp = self.send(body).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        resp.headers()["x-message-id"].to_str().unwrap().to_owned()
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        control(&self.http, &self.handle.base_url(), method, path, body).await
    }

    pub async fn fault(&self, rule: Value) -> String {
        let v = self
            .control(reqwest::Method::POST, "faults", Some(rule))
            .await;
        v["id"].as_str().unwrap().to_owned()
    }

    pub async fn stats(&self) -> Value {
        self.control(reqwest::Method::GET, "stats", None).await["email"].clone()
    }

    pub async fn messages(&self) -> Vec<Value> {
        let v = self
            .control(reqwest::Method::GET, "email/messages", None)
            .await;
        v.as_array().unwrap().clone()
    }

    /// Waits until `n` events of the message came due (posted or not).
    pub async fn wait_events(&self, x_message_id: &str, n: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let msgs = self.messages().await;
            let msg = msgs
                .iter()
                .find(|m| m["x_message_id"] == x_message_id)
                .unwrap();
            if msg["events"].as_array().unwrap().len() >= n {
                return msg.clone();
            }
            assert!(Instant::now() < deadline, "stuck at {}", msg["events"]);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

pub const TO: &str = "ada@example.com";

/// A valid SendGrid v3 body for one recipient.
pub fn mail(to: &str) -> Value {
    json!({
        "personalizations": [{"to": [{"email": to, "name": "Ada"}],
                              "custom_args": {"sb_message_id": "msg_1", "tenant": "t1"}}],
        "from": {"email": SANDBOX_EMAIL_FROM, "name": "Switchboard Sandbox"},
        "subject": "Order 42",
        "content": [{"type": "text/plain", "value": "Shipped"},
                    {"type": "text/html", "value": "<p>Shipped</p>"}],
    })
}

/// [`mail`] with an `sb_idempotency_key` custom arg: a plain custom arg to SendGrid, which has no
/// idempotency key.
pub fn keyed_mail(to: &str, key: &str) -> Value {
    let mut body = mail(to);
    body["personalizations"][0]["custom_args"]["sb_idempotency_key"] = json!(key);
    body
}
