//! The simulated Twilio Messages API, driven over real HTTP like a gateway would.

// A test crate root resolves modules next to itself; keep them in tests/sms/ so cargo does not
// build each as a separate test binary.
mod common;
#[path = "sms/faults.rs"]
mod faults;
#[path = "sms/harness.rs"]
mod harness;
#[path = "sms/list.rs"]
mod list;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM_NUMBER, twilio_signature,
};

use crate::harness::{Receiver, Sim, TO, basic, is_sid};

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

/// Twilio has no idempotency key, so neither has the sandbox: a repeated send, with or without
/// an `Idempotency-Key` header, is a second message with its own callbacks.
#[tokio::test]
async fn a_repeated_send_is_a_second_message() {
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
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap())
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(
        (first.0, second.0),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_ne!(first.1["sid"], second.1["sid"]);

    let stats = sim.stats().await;
    assert_eq!(
        (
            &stats["requests"],
            &stats["unique_accepted"],
            &stats["duplicates"]
        ),
        (&json!(2), &json!(2), &json!(0))
    );
    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 2);
    assert!(msgs[0].get("idempotency_key").is_none());
    // Each message has its own sent and delivered callbacks.
    rx.wait_for(4).await;
    for m in &msgs {
        sim.wait_status(m["sid"].as_str().unwrap(), "delivered")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(rx.received().len(), 4);
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
        cfg["sms"],
        json!({"sent_delay_ms": 10, "delivered_delay_ms": 500})
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
        sim.control(reqwest::Method::GET, "config", None).await["sms"],
        json!({"sent_delay_ms": 10, "delivered_delay_ms": 30})
    );
    assert_eq!(sim.send(&basic("x")).await.0, StatusCode::CREATED);
}
