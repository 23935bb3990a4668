//! Shared pieces of the payments simulator tests: a sandbox, a client that charges with the
//! sandbox key, and the payments control endpoints.

use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_PAYMENTS_SECRET_KEY, SandboxConfig, SandboxHandle};

use crate::common::{client, control, control_expect, start_sandbox};

pub struct Sim {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
}

/// A charge answer: status, JSON body and headers.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Answer {
    pub fn error(&self, field: &str) -> &Value {
        &self.body["error"][field]
    }
}

impl Sim {
    pub async fn start() -> Self {
        Self {
            handle: start_sandbox(SandboxConfig::default()).await,
            http: client(),
        }
    }

    pub fn base(&self) -> String {
        self.handle.base_url()
    }

    pub fn request(&self, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/charges", self.base()))
            .form(form)
    }

    pub async fn send(req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    /// A charge with the sandbox key, as Stripe's curl examples send it (`-u sk_…:`).
    pub async fn charge(&self, form: &[(&str, &str)], key: Option<&str>) -> Answer {
        let mut req = self
            .request(form)
            .basic_auth(SANDBOX_PAYMENTS_SECRET_KEY, Some(""));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        Self::send(req).await
    }

    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        control(&self.http, &self.base(), method, path, body).await
    }

    pub async fn charges(&self) -> Vec<Value> {
        let v = self.control(Method::GET, "payments/charges", None).await;
        v.as_array().unwrap().clone()
    }

    pub async fn stats(&self) -> Value {
        self.control(Method::GET, "stats", None).await["payments"].clone()
    }

    pub async fn set_card(&self, token: &str, decline: Value) -> Value {
        let body = json!({ "decline": decline });
        self.control(Method::PUT, &format!("payments/cards/{token}"), Some(body))
            .await
    }

    pub async fn fault(&self, rule: Value) {
        control_expect(
            &self.http,
            &self.base(),
            Method::POST,
            "faults",
            Some(&rule),
            StatusCode::CREATED,
        )
        .await;
    }
}

pub fn topup(source: &str) -> Vec<(&str, &str)> {
    vec![("amount", "2000"), ("currency", "usd"), ("source", source)]
}

pub fn is_charge_id(v: &Value) -> bool {
    v.as_str().is_some_and(|id| {
        id.strip_prefix("ch_")
            .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
    })
}
