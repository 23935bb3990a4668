//! Shared pieces of the SMS simulator tests: a sandbox with short delays, a callback receiver
//! and a raw-socket client for the connection-level faults.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;
use switchboard_sandbox::{
    SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM_NUMBER, SandboxConfig, SandboxHandle,
    SmsSimConfig,
};

use crate::common::{Inbox, client, control, start_sandbox};

pub type Form = Vec<(String, String)>;

/// A callback as the test receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub uri: String,
    pub content_type: String,
    pub signature: String,
    pub form: Form,
}

impl Received {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Receiver {
    pub url: String,
    pub got: Inbox<Received>,
}

impl Receiver {
    pub async fn start() -> Self {
        let (got, base) = Inbox::serve("/cb", StatusCode::NO_CONTENT, |hit| Received {
            uri: hit.uri.to_string(),
            content_type: hit.header("content-type"),
            signature: hit.header("x-twilio-signature"),
            form: form_urlencoded::parse(&hit.body).into_owned().collect(),
        })
        .await;
        Self {
            url: format!("{base}/cb?tenant=t1&x=%20y"),
            got,
        }
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
        let cfg = SandboxConfig {
            sms: SmsSimConfig {
                sent_delay: Duration::from_millis(10),
                delivered_delay: Duration::from_millis(30),
            },
            ..SandboxConfig::default()
        };
        Self {
            handle: start_sandbox(cfg).await,
            http: client(),
        }
    }

    pub fn messages_url(&self, account: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{account}/Messages.json",
            self.handle.base_url()
        )
    }

    pub fn send_req(&self, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(self.messages_url(SANDBOX_ACCOUNT_SID))
            .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
            .form(form)
    }

    pub async fn send(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let resp = self.send_req(form).send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
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
        self.control(reqwest::Method::GET, "stats", None).await["sms"].clone()
    }

    pub async fn messages(&self) -> Vec<Value> {
        let v = self
            .control(reqwest::Method::GET, "sms/messages", None)
            .await;
        v.as_array().unwrap().clone()
    }

    /// Waits until the stored message reaches `status` (callbacks or not).
    pub async fn wait_status(&self, sid: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let msgs = self.messages().await;
            let msg = msgs.iter().find(|m| m["sid"] == sid).unwrap();
            if msg["status"] == status {
                return;
            }
            assert!(Instant::now() < deadline, "stuck at {}", msg["status"]);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

pub const TO: &str = "+15551230000";

pub fn basic(body: &str) -> Vec<(&str, &str)> {
    vec![("To", TO), ("From", SANDBOX_FROM_NUMBER), ("Body", body)]
}

pub fn is_sid(v: &Value, prefix: &str) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 34
            && s.starts_with(prefix)
            && s[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Sends one request over a bare socket and reads until EOF or error.
pub async fn raw_send(base_url: &str) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base_url.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    let body = "To=%2B15551230000&From=%2B15005550006&Body=x";
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{SANDBOX_ACCOUNT_SID}:{SANDBOX_AUTH_TOKEN}"),
    );
    let req = format!(
        "POST /2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Basic {auth}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await?;
    Ok(out)
}
