//! The simulated Twilio Messages API, driven over real HTTP like a gateway would.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM_NUMBER, SandboxConfig, SandboxHandle,
    SmsSimConfig, twilio_signature,
};

type Form = Vec<(String, String)>;

/// A callback as the test receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    uri: String,
    content_type: String,
    signature: String,
    form: Form,
}

impl Received {
    fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = got.clone();
        let app = Router::new().route(
            "/cb",
            post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    sink.lock().unwrap().push(Received {
                        uri: uri.to_string(),
                        content_type: header("content-type"),
                        signature: header("x-twilio-signature"),
                        form: form_urlencoded::parse(&body).into_owned().collect(),
                    });
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/cb?tenant=t1&x=%20y"),
            got,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

struct Sim {
    handle: SandboxHandle,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Self {
        let cfg = SandboxConfig {
            sms: SmsSimConfig {
                sent_delay: Duration::from_millis(10),
                delivered_delay: Duration::from_millis(30),
            },
        };
        let handle = switchboard_sandbox::start("127.0.0.1:0".parse().unwrap(), cfg)
            .await
            .unwrap();
        Self {
            handle,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn messages_url(&self, account: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{account}/Messages.json",
            self.handle.base_url()
        )
    }

    fn send_req(&self, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(self.messages_url(SANDBOX_ACCOUNT_SID))
            .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
            .form(form)
    }

    async fn send(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let resp = self.send_req(form).send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(
            method,
            format!("{}/_sandbox/{path}", self.handle.base_url()),
        );
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    async fn fault(&self, rule: Value) -> String {
        let v = self
            .control(reqwest::Method::POST, "faults", Some(rule))
            .await;
        v["id"].as_str().unwrap().to_owned()
    }

    async fn stats(&self) -> Value {
        self.control(reqwest::Method::GET, "stats", None).await["sms"].clone()
    }

    async fn messages(&self) -> Vec<Value> {
        let v = self
            .control(reqwest::Method::GET, "sms/messages", None)
            .await;
        v.as_array().unwrap().clone()
    }

    /// Waits until the stored message reaches `status` (callbacks or not).
    async fn wait_status(&self, sid: &str, status: &str) {
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

const TO: &str = "+15551230000";

fn basic(body: &str) -> Vec<(&str, &str)> {
    vec![("To", TO), ("From", SANDBOX_FROM_NUMBER), ("Body", body)]
}

fn is_sid(v: &Value, prefix: &str) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 34
            && s.starts_with(prefix)
            && s[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[tokio::test]
async fn good_send_returns_twilio_resource_and_records_form() {
    let sim = Sim::start().await;
    let form = [
        ("To", TO),
        ("From", SANDBOX_FROM_NUMBER),
        ("Body", "Hello {world}"),
        ("MediaUrl", "https://example.com/a.png"),
        ("MediaUrl", "https://example.com/b.png"),
    ];
    let (status, body) = sim.send(&form).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(is_sid(&body["sid"], "SM"), "{body}");
    let sid = body["sid"].as_str().unwrap();
    assert!(is_sid(&json!(SANDBOX_ACCOUNT_SID), "AC"));
    assert_eq!(body["account_sid"], SANDBOX_ACCOUNT_SID);
    assert_eq!(body["to"], TO);
    assert_eq!(body["from"], SANDBOX_FROM_NUMBER);
    assert_eq!(body["body"], "Hello {world}");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["num_segments"], "1");
    assert_eq!(body["num_media"], "2");
    assert_eq!(body["direction"], "outbound-api");
    assert_eq!(body["api_version"], "2010-04-01");
    assert!(body["date_created"].as_str().unwrap().ends_with(" +0000"));
    assert_eq!(body["date_created"], body["date_updated"]);
    for null in [
        "date_sent",
        "price",
        "error_code",
        "error_message",
        "messaging_service_sid",
    ] {
        assert!(body[null].is_null(), "{null}");
    }
    assert_eq!(body["price_unit"], "USD");
    let uri = format!("/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages/{sid}.json");
    assert_eq!(body["uri"], uri);
    assert_eq!(
        body["subresource_uris"]["media"],
        uri.replace(".json", "/Media.json")
    );

    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["sid"], sid);
    assert_eq!(
        msgs[0]["media_urls"],
        json!(["https://example.com/a.png", "https://example.com/b.png"])
    );
    let recorded: Vec<(String, String)> = serde_json::from_value(msgs[0]["form"].clone()).unwrap();
    let sent: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(recorded, sent);
    assert_eq!(msgs[0]["times_requested"], 1);
    assert!(msgs[0]["status_callback"].is_null());

    // Long UCS-2 body: 71 units → 2 segments.
    let long = "ж".repeat(71);
    let (_, body) = sim.send(&basic(&long)).await;
    assert_eq!(body["num_segments"], "2");

    // Fetch reflects the progressing status.
    sim.wait_status(sid, "delivered").await;
    let fetched: Value = sim
        .http
        .get(format!("{}{uri}", sim.handle.base_url()))
        .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["status"], "delivered");
    assert!(fetched["date_sent"].is_string());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn status_callbacks_are_signed_and_ordered() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    let mut form = basic("hi");
    form.push(("StatusCallback", &rx.url));
    let (status, body) = sim.send(&form).await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = body["sid"].as_str().unwrap();

    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    for (cb, expected) in got.iter().zip(["sent", "delivered"]) {
        assert_eq!(cb.uri, "/cb?tenant=t1&x=%20y");
        assert_eq!(cb.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            cb.signature,
            twilio_signature(SANDBOX_AUTH_TOKEN, &rx.url, &cb.form)
        );
        assert_ne!(
            cb.signature,
            twilio_signature("wrong-token", &rx.url, &cb.form)
        );
        assert_eq!(cb.get("MessageSid"), Some(sid));
        assert_eq!(cb.get("SmsSid"), Some(sid));
        assert_eq!(cb.get("MessageStatus"), Some(expected));
        assert_eq!(cb.get("SmsStatus"), Some(expected));
        assert_eq!(cb.get("AccountSid"), Some(SANDBOX_ACCOUNT_SID));
        assert_eq!(cb.get("From"), Some(SANDBOX_FROM_NUMBER));
        assert_eq!(cb.get("To"), Some(TO));
        assert_eq!(cb.get("ApiVersion"), Some("2010-04-01"));
        assert_eq!(cb.get("ErrorCode"), None);
    }
    sim.wait_status(sid, "delivered").await;
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["callbacks_sent"].as_u64(),
            stats["callbacks_failed"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let msgs = sim.messages().await;
    let cbs = msgs[0]["callbacks"].as_array().unwrap();
    assert_eq!(cbs.len(), 2);
    assert_eq!(cbs[0]["http_status"], 204);
    assert_eq!(cbs[1]["event"], "delivered");
}

#[tokio::test]
async fn failed_callbacks_are_counted() {
    let sim = Sim::start().await;
    // Nothing listens on port 9 of localhost.
    let mut form = basic("hi");
    form.push(("StatusCallback", "http://127.0.0.1:9/cb"));
    let (_, body) = sim.send(&form).await;
    sim.wait_status(body["sid"].as_str().unwrap(), "delivered")
        .await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while sim.stats().await["callbacks_failed"] != 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let msgs = sim.messages().await;
    assert!(msgs[0]["callbacks"][0]["error"].is_string());
}

#[tokio::test]
async fn magic_numbers_and_validation() {
    let sim = Sim::start().await;
    for (to, code) in [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
        ("5551230000", 21211),
        ("+1234", 21211),
    ] {
        let (status, body) = sim
            .send(&[("To", to), ("From", SANDBOX_FROM_NUMBER), ("Body", "x")])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{to}");
        assert_eq!(body["code"], code, "{to}");
        assert_eq!(body["status"], 400);
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}")
        );
    }
    for (form, code) in [
        (vec![("From", SANDBOX_FROM_NUMBER), ("Body", "x")], 21604),
        (vec![("To", TO), ("Body", "x")], 21603),
        (vec![("To", TO), ("From", SANDBOX_FROM_NUMBER)], 21602),
    ] {
        let (status, body) = sim.send(&form).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(code))
        );
    }
    let (status, body) = sim
        .send(&[
            ("To", "+15005550006"),
            ("From", SANDBOX_FROM_NUMBER),
            ("Body", "x"),
        ])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"], "queued");
    // Messaging Service send: Twilio answers "accepted" with no sender chosen yet.
    let (status, body) = sim
        .send(&[
            ("To", TO),
            ("MessagingServiceSid", "MG00000000000000000000000000000001"),
            ("Body", "x"),
        ])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (body["status"].as_str(), body["from"].as_str()),
        (Some("accepted"), None)
    );
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(11), Some(2))
    );
}

#[tokio::test]
async fn bad_auth_is_401_authenticate() {
    let sim = Sim::start().await;
    let expected = json!({
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401
    });
    let form = basic("x");
    let other_account = format!("AC{}", "1".repeat(32));
    let attempts = [
        sim.http
            .post(sim.messages_url(SANDBOX_ACCOUNT_SID))
            .form(&form),
        sim.http
            .post(sim.messages_url(SANDBOX_ACCOUNT_SID))
            .basic_auth(SANDBOX_ACCOUNT_SID, Some("nope"))
            .form(&form),
        sim.http
            .post(sim.messages_url(&other_account))
            .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
            .form(&form),
        sim.http
            .post(sim.messages_url(SANDBOX_ACCOUNT_SID))
            .header("authorization", "Basic !!!not-base64")
            .form(&form),
    ];
    for req in attempts {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.json::<Value>().await.unwrap(), expected);
    }
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(4), Some(0))
    );
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    let mut form = basic("once");
    form.push(("StatusCallback", &rx.url));
    let send = || async {
        let resp = sim
            .send_req(&form)
            .header("Idempotency-Key", "k-1")
            .send()
            .await
            .unwrap();
        (resp.status(), resp.bytes().await.unwrap())
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(first, second);

    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["unique_accepted"], 1);
    assert_eq!(stats["duplicates"], 1);
    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["times_requested"], 2);
    assert_eq!(msgs[0]["idempotency_key"], "k-1");

    // Only the first request's callbacks.
    rx.wait_for(2).await;
    sim.wait_status(msgs[0]["sid"].as_str().unwrap(), "delivered")
        .await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(rx.received().len(), 2);

    // A validation failure is stored too; without a key every request is new.
    let bad = || sim.send_req(&[("To", TO)]).header("Idempotency-Key", "k-2");
    assert_eq!(
        bad().send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        bad().send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    sim.send(&basic("a")).await;
    sim.send(&basic("a")).await;
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["unique_accepted"].as_u64(),
            stats["duplicates"].as_u64()
        ),
        (Some(3), Some(2))
    );
}

#[tokio::test]
async fn unavailable_twice_then_success_and_rule_exhausted() {
    let sim = Sim::start().await;
    let id = sim
        .fault(
            json!({"channel": "sms", "match": {"to": TO}, "times": 2, "action": {"status": 503}}),
        )
        .await;
    // Another recipient is not affected.
    let (status, _) = sim
        .send(&[
            ("To", "+15005550006"),
            ("From", SANDBOX_FROM_NUMBER),
            ("Body", "x"),
        ])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..2 {
        let (status, body) = sim.send(&basic("x")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            json!({"code": 20500, "message": "Service Unavailable",
                   "more_info": "https://www.twilio.com/docs/errors/20500", "status": 503})
        );
    }
    let (status, _) = sim.send(&basic("x")).await;
    assert_eq!(status, StatusCode::CREATED);

    let rules = sim.control(reqwest::Method::GET, "faults", None).await;
    assert_eq!(rules[0]["id"], id.as_str());
    assert_eq!(
        (rules[0]["remaining"].as_u64(), rules[0]["hits"].as_u64()),
        (Some(0), Some(2))
    );
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(4), Some(2))
    );

    // Provider error with an explicit code, then clearing the book.
    sim.fault(json!({"channel": "sms", "action": {"status": 400, "code": 30007}}))
        .await;
    let (status, body) = sim.send(&basic("x")).await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(30007))
    );
    sim.control(reqwest::Method::DELETE, "faults", None).await;
    assert_eq!(sim.send(&basic("x")).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn rate_limit_sets_retry_after() {
    let sim = Sim::start().await;
    sim.fault(json!({"channel": "sms", "times": 1, "action": {"status": 429, "retry_after_s": 2}}))
        .await;
    let resp = sim.send_req(&basic("x")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["code"].as_u64(), body["status"].as_u64()),
        (Some(20429), Some(429))
    );
}

#[tokio::test]
async fn callback_faults_drop_duplicate_reorder_and_fail() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    let send = |body: &'static str| {
        let mut form = basic(body);
        form.push(("StatusCallback", rx.url.as_str()));
        let req = sim.send_req(&form);
        async move {
            let v: Value = req.send().await.unwrap().json().await.unwrap();
            v["sid"].as_str().unwrap().to_owned()
        }
    };

    sim.fault(json!({"channel": "sms", "times": 1, "action": {"drop_callbacks": true}}))
        .await;
    let sid = send("dropped").await;
    sim.wait_status(&sid, "delivered").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(rx.received().is_empty());

    sim.fault(json!({"channel": "sms", "times": 1, "action": {"duplicate_callbacks": true}}))
        .await;
    send("twice").await;
    let got = rx.wait_for(4).await;
    let statuses: Vec<_> = got
        .iter()
        .map(|c| c.get("MessageStatus").unwrap())
        .collect();
    assert_eq!(statuses, ["sent", "sent", "delivered", "delivered"]);
    rx.got.lock().unwrap().clear();

    sim.fault(json!({"channel": "sms", "times": 1, "action": {
        "reorder_callbacks": true, "callback_status": "undelivered", "callback_error_code": 30003}}))
        .await;
    let sid = send("reordered").await;
    let got = rx.wait_for(2).await;
    let statuses: Vec<_> = got
        .iter()
        .map(|c| c.get("MessageStatus").unwrap())
        .collect();
    assert_eq!(statuses, ["undelivered", "sent"]);
    assert_eq!(got[0].get("ErrorCode"), Some("30003"));
    assert_eq!(got[1].get("ErrorCode"), None);
    for cb in &got {
        assert_eq!(
            cb.signature,
            twilio_signature(SANDBOX_AUTH_TOKEN, &rx.url, &cb.form)
        );
    }
    sim.wait_status(&sid, "undelivered").await;
}

/// Sends one request over a bare socket and reads until EOF or error.
async fn raw_send(base_url: &str) -> std::io::Result<Vec<u8>> {
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

#[tokio::test]
async fn reset_timeout_and_latency() {
    let sim = Sim::start().await;

    sim.fault(json!({"channel": "sms", "times": 2, "action": {"reset": true}}))
        .await;
    let err = sim.send_req(&basic("x")).send().await.unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    // On the wire it is an RST, not an orderly close and not an HTTP response.
    let reply = raw_send(&sim.handle.base_url()).await;
    assert_eq!(
        reply.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );

    // The provider accepted but the answer was lost; the retry with the same key finds it.
    sim.fault(json!({"channel": "sms", "times": 1, "action": {"reset": true, "accept": true}}))
        .await;
    let keyed = || sim.send_req(&basic("x")).header("Idempotency-Key", "lost");
    assert!(keyed().send().await.is_err());
    let resp = keyed().send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 1);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["sid"], msgs[0]["sid"]);

    sim.fault(json!({"channel": "sms", "times": 1, "action": {"timeout": true}}))
        .await;
    let started = Instant::now();
    let err = sim
        .send_req(&basic("x"))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    sim.fault(json!({"channel": "sms", "times": 1, "action": {"latency_ms": 150}}))
        .await;
    let started = Instant::now();
    assert_eq!(sim.send(&basic("x")).await.0, StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(150));

    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(6), Some(2))
    );
    // Shutdown releases the request still held by the timeout fault.
    tokio::time::timeout(Duration::from_secs(3), sim.handle.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn control_api_validates_configures_and_resets() {
    let sim = Sim::start().await;
    let base = sim.handle.base_url();
    let resp = sim
        .http
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"channel": "sms", "match": {"too": TO}, "action": {"status": 503}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["error"].is_string());

    let cfg = sim
        .control(
            reqwest::Method::PUT,
            "config",
            Some(json!({"sms": {"delivered_delay_ms": 500}})),
        )
        .await;
    assert_eq!(
        cfg,
        json!({"sms": {"sent_delay_ms": 10, "delivered_delay_ms": 500}})
    );
    let (_, body) = sim.send(&basic("x")).await;
    let sid = body["sid"].as_str().unwrap();
    sim.wait_status(sid, "sent").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sim.messages().await[0]["status"], "sent");

    sim.fault(json!({"channel": "sms", "action": {"status": 500}}))
        .await;
    sim.control(reqwest::Method::POST, "reset", None).await;
    assert!(sim.messages().await.is_empty());
    let stats = sim.stats().await;
    assert_eq!(stats["requests"], 0);
    assert_eq!(
        sim.control(reqwest::Method::GET, "faults", None).await,
        json!([])
    );
    assert_eq!(
        sim.control(reqwest::Method::GET, "config", None).await,
        json!({"sms": {"sent_delay_ms": 10, "delivered_delay_ms": 30}})
    );
    assert_eq!(sim.send(&basic("x")).await.0, StatusCode::CREATED);
}
