//! Shared pieces of the AlimTalk simulator tests: a sandbox, a signed-request client, and a
//! small receiver for delivery reports.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use switchboard_sandbox::alimtalk::{auth, time};
use switchboard_sandbox::{
    SANDBOX_ALIMTALK_API_KEY, SANDBOX_ALIMTALK_API_SECRET, SANDBOX_ALIMTALK_PF_ID,
    SANDBOX_ALIMTALK_SENDER, SandboxConfig, SandboxHandle, alimtalk_auth_header,
};

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
    got: Arc<Mutex<Vec<Report>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let got: Arc<Mutex<Vec<Report>>> = Arc::default();
        let sink = got.clone();
        let app = Router::new().route(
            "/reports",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    sink.lock().unwrap().push(Report {
                        authorization: h("authorization"),
                        content_type: h("content-type"),
                        body,
                    });
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/reports"),
            got,
        }
    }

    /// Reports for one message, in arrival order.
    pub fn for_message(&self, id: &str) -> Vec<Report> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.entry()["messageId"] == id)
            .cloned()
            .collect()
    }

    pub async fn wait_for(&self, id: &str, n: usize) -> Vec<Report> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let got = self.for_message(id);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
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
        let handle =
            switchboard_sandbox::start("127.0.0.1:0".parse().unwrap(), SandboxConfig::default())
                .await
                .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
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
        let resp = self
            .http
            .put(self.url("/_sandbox/alimtalk/config"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    pub async fn sim_now(&self) -> u64 {
        let v: Value = self
            .http
            .get(self.url("/_sandbox/clock"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["now_ms"].as_u64().unwrap()
    }

    pub async fn set_clock_offset(&self, offset_ms: i64) {
        let resp = self
            .http
            .put(self.url("/_sandbox/clock"))
            .json(&json!({ "offset_ms": offset_ms }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
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
        self.http
            .get(self.url("/_sandbox/alimtalk/messages"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
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
