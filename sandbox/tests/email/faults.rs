//! Fault injection against the email simulator.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Receiver, Sim, TO, keyed_mail, mail, verifies};

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn rate_limit_sets_x_ratelimit_reset() {
    let sim = Sim::start(None).await;
    sim.fault(
        json!({"channel": "email", "match": {"to": TO}, "times": 2, "action": {"status": 429}}),
    )
    .await;
    // Another first recipient is not affected.
    assert_eq!(
        sim.send(&mail("grace@example.com")).await.status(),
        StatusCode::ACCEPTED
    );
    let before = now_secs();
    let resp = sim.send(&mail(TO)).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_none());
    let reset: u64 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((before + 1..=now_secs() + 1).contains(&reset), "{reset}");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"errors": [{"message": "too many requests", "field": null, "help": null}]})
    );

    sim.fault(
        json!({"channel": "email", "times": 1, "action": {"status": 429, "retry_after_s": 30}}),
    )
    .await;
    // The first rule still has one application left and comes first.
    assert_eq!(
        sim.send(&mail(TO)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let resp = sim.send(&mail(TO)).await;
    let reset: u64 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= before + 30);

    sim.fault(json!({"channel": "email", "times": 1, "action": {"status": 503}}))
        .await;
    let resp = sim.send(&mail(TO)).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("x-ratelimit-reset").is_none());
    assert!(resp.json::<Value>().await.unwrap()["errors"][0]["message"].is_string());

    assert_eq!(sim.send(&mail(TO)).await.status(), StatusCode::ACCEPTED);
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(6), Some(2))
    );
}

#[tokio::test]
async fn drop_callbacks_posts_nothing() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;
    let fault = sim
        .fault(json!({"channel": "email", "times": 1, "action": {"drop_callbacks": true}}))
        .await;
    let id = sim.accept(&mail(TO)).await;
    let m = sim.wait_events(&id, 3).await;
    assert_eq!(m["fault_id"], fault.as_str());
    let due: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["processed", "delivered", "open"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(rx.received().is_empty());
    assert!(
        sim.messages().await[0]["callbacks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(sim.stats().await["callbacks_sent"], 0);
}

#[tokio::test]
async fn duplicate_reorder_and_forced_outcome() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;

    sim.fault(json!({"channel": "email", "times": 1, "action": {"duplicate_callbacks": true}}))
        .await;
    sim.accept(&mail(TO)).await;
    let got = rx.wait_for(6).await;
    let kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds,
        [
            "processed",
            "processed",
            "delivered",
            "delivered",
            "open",
            "open"
        ]
    );
    // A duplicate is the same event (same sg_event_id), as when SendGrid retries a POST.
    assert_eq!(got[0].event()["sg_event_id"], got[1].event()["sg_event_id"]);
    rx.got.clear();

    sim.fault(json!({"channel": "email", "times": 1, "action": {
        "reorder_callbacks": true, "callback_status": "bounce"}}))
        .await;
    sim.accept(&mail(TO)).await;
    let got = rx.wait_for(2).await;
    let kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["bounce", "processed"]);
    assert!(
        got.iter()
            .all(|r| verifies(&r.timestamp, &r.body, &r.signature))
    );
    assert_eq!(got[0].event()["status"], "5.1.1");
}

/// Accepted, but the answer is lost: the email exists and Email Activity finds it by its custom
/// arg; a blind retry would be a second email, as at SendGrid.
#[tokio::test]
async fn reset_with_accept_then_the_activity_api_finds_the_email() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;
    sim.fault(json!({"channel": "email", "times": 1, "action": {"reset": true, "accept": true}}))
        .await;
    let body = keyed_mail(TO, "lost-1");
    assert!(sim.send_req(&body).send().await.is_err());
    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 1);
    let rows = sim
        .activity_wait("unique_args['sb_idempotency_key']=\"lost-1\"", 1)
        .await;
    let id = msgs[0]["x_message_id"].as_str().unwrap();
    assert!(rows[0]["msg_id"].as_str().unwrap().starts_with(id));
    let again = sim.accept(&body).await;
    assert_ne!(again, id);
    assert_eq!(sim.messages().await.len(), 2);
    rx.wait_for(6).await;
}
