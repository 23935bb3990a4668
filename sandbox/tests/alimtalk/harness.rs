//! Shared pieces of the AlimTalk simulator tests: a sandbox, a signed-request client, and a
//! small receiver for delivery reports.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_sandbox::alimtalk::{auth, time};
use switchboard_sandbox::{
    SANDBOX_ALIMTALK_API_KEY, SANDBOX_ALIMTALK_API_SECRET, SANDBOX_ALIMTALK_PF_ID,
    SANDBOX_ALIMTALK_SENDER, SandboxConfig, SandboxHandle, alimtalk_auth_header,
};

use crate::common::{Inbox, client, control_expect, get_json, set_clock, start_sandbox};

pub const TO: &str = "01012345678";

/// One report POST as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Report {
    pub authorization: String,
    pub content_type: String,
    pub body: Bytes,
}

impl Report {
    pub fn entry(&self) -> Value {
        let entries: Vec<Value> = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }

    pub fn code(&self) -> String {
        self.entry()["statusCode"].as_str().unwrap().to_owned()
    }

    /// Verifies like a gateway would: same key, date + salt + raw body, fresh date.
    pub fn verifies(&self, now_ms: u64) -> bool {
        let Some(p) = auth::parse(&self.authorization) else {
            return false;
        };
        let expected = alimtalk_auth_header(
            SANDBOX_ALIMTALK_API_KEY,
            SANDBOX_ALIMTALK_API_SECRET,
            &p.date,
            &p.salt,
            Some(&self.body),
        );
        let fresh = time::parse_iso(&p.date).is_some_and(|d| d.abs_diff(now_ms) < 60_000);
        expected == self.authorization && fresh && p.api_key == SANDBOX_ALIMTALK_API_KEY
    }
}

pub struct Receiver {
    pub url: String,
    got: Inbox<Report>,
}

impl Receiver {
    pub async fn start() -> Self {
        let (got, base) = Inbox::serve("/reports", StatusCode::OK, |hit| Report {
            authorization: hit.header("authorization"),
            content_type: hit.header("content-type"),
            body: hit.body,
        })
        .await;
        Self {
            url: format!("{base}/reports"),
            got,
        }
    }

    /// Reports for one message, in arrival order.
    pub fn for_message(&self, id: &str) -> Vec<Report> {
        self.got.matching(|r| r.entry()["messageId"] == id)
    }

    pub async fn wait_for(&self, id: &str, n: usize) -> Vec<Report> {
        self.got
            .wait_matching(n, |r| r.entry()["messageId"] == id)
            .await
    }
}

pub struct Sim {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
    pub receiver: Receiver,
}

impl Sim {
    /// A sandbox whose reports go to a fresh receiver, with short delays.
    pub async fn start() -> Self {
        let handle = start_sandbox(SandboxConfig::default()).await;
        let http = client();
        let receiver = Receiver::start().await;
        let sim = Self {
            handle,
            http,
            receiver,
        };
        let cfg = sim
            .put_config(json!({"webhook_url": sim.receiver.url, "sent_delay_ms": 10, "delivered_delay_ms": 30}))
            .await;
        assert_eq!(cfg["webhook_url"], sim.receiver.url.as_str());
        sim
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub async fn put_config(&self, body: Value) -> Value {
        let base = self.handle.base_url();
        let (put, ok) = (reqwest::Method::PUT, StatusCode::OK);
        let resp = control_expect(&self.http, &base, put, "alimtalk/config", Some(&body), ok).await;
        resp.json().await.unwrap()
    }

    pub async fn sim_now(&self) -> u64 {
        let v: Value = get_json(&self.http, &self.url("/_sandbox/clock")).await;
        v["now_ms"].as_u64().unwrap()
    }

    pub async fn set_clock_offset(&self, offset_ms: i64) {
        set_clock(&self.http, &self.handle.base_url(), offset_ms).await;
    }

    /// A valid request header signed at the simulator's "now" with a fresh random salt.
    pub async fn auth(&self) -> String {
        let date = time::format_iso(self.sim_now().await);
        let salt: String = rand::random::<[u8; 12]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        alimtalk_auth_header(
            SANDBOX_ALIMTALK_API_KEY,
            SANDBOX_ALIMTALK_API_SECRET,
            &date,
            &salt,
            None,
        )
    }

    pub async fn send_with(
        &self,
        authorization: &str,
        body: &Value,
    ) -> (StatusCode, Value, HeaderMap) {
        let resp = self
            .http
            .post(self.url("/messages/v4/send"))
            .header("authorization", authorization)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json, headers)
    }

    pub async fn send(&self, body: &Value) -> (StatusCode, Value) {
        let auth = self.auth().await;
        let (s, v, _) = self.send_with(&auth, body).await;
        (s, v)
    }

    pub async fn received(&self) -> Vec<Value> {
        get_json(&self.http, &self.url("/_sandbox/alimtalk/messages")).await
    }
}

/// An order-shipped ATA send as the plugin builds it.
pub fn order_shipped(to: &str) -> Value {
    json!({"message": {
        "to": to,
        "from": SANDBOX_ALIMTALK_SENDER,
        "type": "ATA",
        "kakaoOptions": {
            "pfId": SANDBOX_ALIMTALK_PF_ID,
            "templateId": "KA01TP_SB_ORDER_SHIPPED",
            "variables": {"#{name}": "지수", "#{order}": "A-1001"},
            "disableSms": true,
        },
        "customFields": {"sb_message_id": "msg_1"},
    }})
}
