//! The generic webhook channel over real HTTP: a receiver of the test's own on 127.0.0.1,
//! a connection created through the API pointing at it, and an HMAC verifier written here
//! from the Standard Webhooks specification (not the plugin's or the host's code).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Gateway;

const SECRET: &str = "e2e-webhook-signing-secret";

/// A business endpoint answering from a script (then 200), recording every request.
#[derive(Clone)]
struct ScriptedReceiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl ScriptedReceiver {
    async fn start(script: &[u16]) -> (ScriptedReceiver, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let g = got.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let (g, script) = (g.clone(), script.clone());
            async move {
                g.lock().unwrap().push((headers, body));
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
            }
        };
        let app = axum::Router::new().route("/hooks/in", axum::routing::post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let url = format!("http://127.0.0.1:{port}/hooks/in");
        (ScriptedReceiver { url, got }, port)
    }

    fn received(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
}

/// The Standard Webhooks check, from the specification: HMAC-SHA256 keyed by the secret over
/// `id.timestamp.body`, base64, any of the space-separated `v1,` signatures.
fn signature_valid(headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, ts, sigs) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    signed_with(SECRET, [id, ts, sigs], body)
}

/// `[webhook-id, webhook-timestamp, webhook-signature]` as received.
fn signed_with(key: &str, [id, timestamp, signatures]: [&str; 3], body: &[u8]) -> bool {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures.split(' ').any(|s| s == format!("v1,{expected}"))
}

fn sign(id: &str, ts: u64, body: &str, key: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A gateway whose operator allows the receiver (its origin, and its loopback address),
/// a fresh workspace, and a webhook connection created through the API.
async fn setup(name: &str, receiver: &ScriptedReceiver, port: u16) -> (Gateway, String, Value) {
    let origin = format!("http://127.0.0.1:{port}");
    let private = format!("127.0.0.1:{port}");
    let gw = Gateway::start(
        name,
        &["--allow-origin", &origin, "--allow-private-net", &private],
    );
    let (_ws, key) = gw.new_workspace(name).await;
    let (s, conn) = gw
        .call(
            Method::POST,
            "/v1/connections",
            &key,
            Some(&json!({"plugin": "generic-webhook", "name": "Our hooks",
                "config": {"url": receiver.url}, "secrets": {"signing_secret": SECRET}})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{conn}");
    (gw, key, conn)
}

async fn send(gw: &Gateway, key: &str, text: &str) -> String {
    let (s, m) = gw
        .call(
            Method::POST,
            "/v1/messages",
            key,
            Some(
                &json!({"channel": "webhook", "to": {"email": "ada@example.com"},
                "content": {"text": text}}),
            ),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::ACCEPTED, "{m}");
    m["id"].as_str().unwrap().to_string()
}

async fn wait_status(gw: &Gateway, key: &str, id: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = gw
            .call(Method::GET, &format!("/v1/messages/{id}"), key, None)
            .await;
        if m["status"] == want {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not {want}: {m:#}\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The receiver's status callback for a delivery, signed with `key`; returns the answer.
async fn callback(gw: &Gateway, url: &str, delivery: &Value, key: &str) -> reqwest::StatusCode {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({"id": delivery, "status": "delivered"}).to_string();
    gw.http()
        .post(url)
        .header("webhook-id", "cb_1")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sign("cb_1", now, &body, key))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn messages_are_signed_and_retried_through_5xx() {
    let (receiver, port) = ScriptedReceiver::start(&[503, 503]).await;
    let (gw, key, conn) = setup("webhook-retry", &receiver, port).await;
    let id = send(&gw, &key, "hello over a webhook").await;
    let m = wait_status(&gw, &key, &id, "sent").await;

    let delivery = &m["deliveries"][0];
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "503, 503, then 200: {m:#}");
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    for (headers, body) in &got {
        assert!(
            signature_valid(headers, body),
            "signature must verify independently"
        );
        assert_eq!(headers["content-type"], "application/json");
        // Every attempt of one delivery carries the same webhook-id, so a receiver can
        // deduplicate a retry after a lost answer.
        assert_eq!(headers["webhook-id"], got[0].0["webhook-id"]);
    }
    let (headers, body) = &got[2];
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["message_id"], id.as_str());
    assert_eq!(body["id"], headers["webhook-id"].to_str().unwrap());
    assert_eq!(body["to"]["email"], "ada@example.com");
    assert_eq!(body["content"]["text"], "hello over a webhook");
    assert_eq!(delivery["provider_message_id"], body["id"]);
    // A body changed in transit no longer verifies.
    assert!(!signature_valid(headers, b"{\"id\":\"forged\"}"));

    let url = conn["webhook_url"].as_str().unwrap();
    assert_eq!(
        callback(&gw, url, &body["id"], SECRET).await,
        reqwest::StatusCode::OK
    );
    let m = wait_status(&gw, &key, &id, "delivered").await;
    assert_eq!(m["deliveries"][0]["attempts"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn status_callbacks_are_verified_before_they_count() {
    let (receiver, port) = ScriptedReceiver::start(&[]).await;
    let (gw, key, conn) = setup("webhook-callback", &receiver, port).await;
    let id = send(&gw, &key, "tell me when it arrives").await;
    wait_status(&gw, &key, &id, "sent").await;
    let got = receiver.received();
    let sent: Value = serde_json::from_slice(&got[0].1).unwrap();
    let callback_url = conn["webhook_url"].as_str().unwrap();
    assert_eq!(sent["callback_url"], callback_url);

    let forged = callback(&gw, callback_url, &sent["id"], "not-the-secret").await;
    assert_eq!(forged, reqwest::StatusCode::UNAUTHORIZED);
    let (_, m) = gw
        .call(Method::GET, &format!("/v1/messages/{id}"), &key, None)
        .await;
    assert_eq!(
        m["status"], "sent",
        "a forged callback changes nothing: {m:#}"
    );
    let timeline = m["deliveries"][0]["timeline"].as_array().unwrap().len();

    let genuine = callback(&gw, callback_url, &sent["id"], SECRET).await;
    assert_eq!(genuine, reqwest::StatusCode::OK);
    let m = wait_status(&gw, &key, &id, "delivered").await;
    assert_eq!(
        m["deliveries"][0]["timeline"].as_array().unwrap().len(),
        timeline + 1
    );
}

/// `serve --sandbox` alone: the sandbox connection posts to the simulators' receiver.
#[tokio::test]
async fn the_sandbox_connection_posts_to_the_simulators_receiver() {
    let gw = Gateway::start("webhook-sandbox", &[]);
    let id = gw
        .send(
            &json!({"channel": "webhook", "to": {"phone": "+15551234567"},
            "content": {"text": "to the sandbox"}}),
        )
        .await;
    gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    let got = gw.sim_get("/_sandbox/webhook/received").await;
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let body = got[0]["body"].as_str().unwrap();
    let headers = &got[0]["headers"];
    let h = |n: &str| headers[n].as_str().unwrap_or("");
    let signed = [
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    ];
    let key = switchboard_sandbox::SANDBOX_WEBHOOK_SIGNING_SECRET;
    assert!(signed_with(key, signed, body.as_bytes()), "{headers}");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["message_id"],
        id.as_str()
    );
}
