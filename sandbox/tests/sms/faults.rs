//! Fault injection against the SMS simulator.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_AUTH_TOKEN, SANDBOX_FROM_NUMBER, twilio_signature};

use crate::harness::{Receiver, Sim, TO, basic, raw_send};

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
    rx.got.clear();

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

    // The provider accepted but the answer was lost: the message exists, and the list finds it
    // before any retry (a blind retry would be a second message, as at Twilio).
    sim.fault(json!({"channel": "sms", "times": 1, "action": {"reset": true, "accept": true}}))
        .await;
    assert!(sim.send_req(&basic("x")).send().await.is_err());
    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 1);
    let (status, page) = sim.list("?To=%2B15551230000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["messages"][0]["sid"], msgs[0]["sid"]);
    let resp = sim.send_req(&basic("x")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_ne!(body["sid"], msgs[0]["sid"]);
    assert_eq!(sim.messages().await.len(), 2);

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
        (Some(6), Some(3)),
        "the lost acceptance, the blind retry and the slow send"
    );
    // Shutdown releases the request still held by the timeout fault.
    tokio::time::timeout(Duration::from_secs(3), sim.handle.shutdown())
        .await
        .unwrap();
}
