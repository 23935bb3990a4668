//! Shared pieces of the push simulator tests: a sandbox with short device delays whose
//! receipts go to a local receiver that checks their signatures, HTTP/1.1 and HTTP/2 clients,
//! and provider JWTs signed like the gateway signs them.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_APNS_KEY_ID, SANDBOX_APNS_PRIVATE_KEY_PEM, SANDBOX_APNS_TEAM_ID,
    SANDBOX_FCM_CLIENT_EMAIL, SANDBOX_FCM_PRIVATE_KEY_PEM, SANDBOX_FCM_PROJECT_ID, SandboxConfig,
    SandboxHandle, push_receipt_signature,
};

use crate::common::{
    Hit, Inbox, client_builder, control_expect, get_json, set_clock, start_sandbox,
};

pub const RECEIPT_KEY: &str = "receipt-key-for-tests";

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

pub fn rs256_jwt(pem: &str, claims: Value) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let input = format!(
        "{}.{}",
        b64(&json!({"alg":"RS256","typ":"JWT"})),
        b64(&claims)
    );
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
    let sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

pub fn es256_jwt(pem: &str, kid: &str, iss: &str, iat: u64) -> String {
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::DecodePrivateKey;
    let input = format!(
        "{}.{}",
        b64(&json!({"alg":"ES256","kid":kid})),
        b64(&json!({"iss":iss,"iat":iat}))
    );
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = p256::ecdsa::SigningKey::from_pkcs8_der(&STANDARD.decode(der).unwrap()).unwrap();
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

pub fn apns_jwt() -> String {
    es256_jwt(
        SANDBOX_APNS_PRIVATE_KEY_PEM,
        SANDBOX_APNS_KEY_ID,
        SANDBOX_APNS_TEAM_ID,
        now_secs(),
    )
}

/// One receipt as the receiver saw it, signature already checked.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub body: Value,
    pub verified: bool,
}

/// A gateway stand-in: verifies each receipt like `/v1/receipts` would.
fn receive(hit: Hit) -> Receipt {
    let (sig, body) = (hit.header("x-switchboard-signature"), hit.body);
    let sig = sig.as_str();
    let verified = sig
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse::<u64>().ok())
        .is_some_and(|t| push_receipt_signature(RECEIPT_KEY, t, &body) == sig);
    let tampered = {
        let mut b = body.to_vec();
        b.push(b' ');
        b
    };
    // The same header never verifies another body, nor the same body under another key.
    let t = sig
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    assert_ne!(push_receipt_signature(RECEIPT_KEY, t, &tampered), sig);
    assert_ne!(push_receipt_signature("other", t, &body), sig);
    Receipt {
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
    }
}

pub struct Sim {
    pub sandbox: SandboxHandle,
    /// HTTP/1.1 only.
    pub http: reqwest::Client,
    /// HTTP/2 with prior knowledge (cleartext h2), as APNs needs.
    pub h2: reqwest::Client,
    pub receipts: Inbox<Receipt>,
}

impl Sim {
    pub async fn start() -> Self {
        let sandbox = start_sandbox(SandboxConfig::default()).await;
        let (receipts, base) = Inbox::serve("/v1/receipts", StatusCode::OK, receive).await;
        let receiver = format!("{base}/v1/receipts");
        let sim = Sim {
            sandbox,
            http: client_builder().http1_only().build().unwrap(),
            h2: client_builder().http2_prior_knowledge().build().unwrap(),
            receipts,
        };
        let config = json!({
            "receipt_url": receiver,
            "receipt_key": RECEIPT_KEY,
            "connection_id": "conn_push",
            "received_delay_ms": 10,
            "opened_delay_ms": 30,
        });
        sim.control(Method::PUT, "push/config", Some(&config), StatusCode::OK)
            .await;
        sim
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    pub fn token_url(&self) -> String {
        self.url("/token")
    }

    pub fn fcm_url(&self) -> String {
        self.url(&format!(
            "/v1/projects/{SANDBOX_FCM_PROJECT_ID}/messages:send"
        ))
    }

    pub fn assertion(&self) -> String {
        let now = now_secs();
        rs256_jwt(
            SANDBOX_FCM_PRIVATE_KEY_PEM,
            json!({
                "iss": SANDBOX_FCM_CLIENT_EMAIL,
                "scope": "https://www.googleapis.com/auth/firebase.messaging",
                "aud": self.token_url(),
                "iat": now,
                "exp": now + 3600,
            }),
        )
    }

    /// The raw token endpoint answer for `assertion`.
    pub async fn exchange(&self, assertion: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(self.token_url())
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion),
            ])
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn access_token(&self) -> String {
        let (status, body) = self.exchange(&self.assertion()).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn fcm_send(&self, access: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.fcm_url())
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub fn apns(&self, token: &str) -> reqwest::RequestBuilder {
        self.h2
            .post(self.url(&format!("/3/device/{token}")))
            .header("apns-topic", switchboard_sandbox::SANDBOX_APNS_TOPIC)
            .header("apns-push-type", "alert")
    }

    pub async fn get(&self, path: &str) -> Value {
        get_json(&self.http, &self.url(path)).await
    }

    /// A control request that must answer `expected`.
    async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: StatusCode,
    ) {
        control_expect(
            &self.http,
            &self.sandbox.base_url(),
            method,
            path,
            body,
            expected,
        )
        .await;
    }

    pub async fn set_clock(&self, offset_ms: i64) {
        set_clock(&self.http, &self.sandbox.base_url(), offset_ms).await;
    }

    pub async fn fault(&self, rule: Value) {
        self.control(Method::POST, "faults", Some(&rule), StatusCode::CREATED)
            .await;
    }

    /// Waits until `n` receipts arrived (or fails after 3 s).
    pub async fn receipts(&self, n: usize) -> Vec<Receipt> {
        let got = self.receipts.wait_for(n).await;
        assert!(got.len() >= n, "only {got:?}");
        got
    }
}

pub fn fcm_body(token: &str, message_id: &str) -> Value {
    json!({"message": {
        "token": token,
        "notification": {"title": "Shipped", "body": "Your order shipped"},
        "data": {"order": "42", "sb_message_id": message_id},
        "android": {"priority": "high"},
    }})
}

pub fn apns_body(message_id: &str) -> Value {
    json!({"aps": {"alert": {"title": "Shipped", "body": "On its way"}, "sound": "default"},
           "sb_message_id": message_id})
}
