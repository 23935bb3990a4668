//! `Idempotency-Key` replays and conflicts, and faults, which must never be stored for a key
//! unless the processor took the charge.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;
use switchboard_sandbox::SANDBOX_PAYMENTS_SECRET_KEY;

use crate::common::control_expect;
use crate::harness::{Sim, topup};

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let sim = Sim::start().await;
    let first = sim.charge(&topup("tok_visa"), Some("topup-1")).await;
    // Same parameters in another order are the same request.
    let form = [
        ("source", "tok_visa"),
        ("currency", "usd"),
        ("amount", "2000"),
    ];
    let second = sim.charge(&form, Some("topup-1")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!((second.status, &second.body), (first.status, &first.body));
    assert!(!first.headers.contains_key("idempotent-replayed"));
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(second.headers["idempotency-key"], "topup-1");
    // A decline is replayed too, with the same failed charge.
    let declined = sim
        .charge(&topup("tok_chargeDeclined"), Some("topup-2"))
        .await;
    let again = sim
        .charge(&topup("tok_chargeDeclined"), Some("topup-2"))
        .await;
    assert_eq!(again.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(declined.body, again.body);

    let charges = sim.charges().await;
    assert_eq!(charges.len(), 2, "one charge per key");
    assert_eq!(charges[0]["id"], first.body["id"]);
    assert_eq!(
        (
            &charges[0]["idempotency_key"],
            &charges[0]["times_requested"]
        ),
        (&json!("topup-1"), &json!(2))
    );
    assert_eq!(
        sim.stats().await,
        json!({"requests": 4, "charges_succeeded": 1, "charges_declined": 1, "duplicates": 2})
    );
}

#[tokio::test]
async fn idempotency_key_with_other_parameters_is_refused() {
    let sim = Sim::start().await;
    // Refused parameters are not stored: the corrected request may use the key.
    let bad = sim
        .charge(&[("amount", "2000"), ("currency", "usd")], Some("k1"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = sim.charge(&topup("tok_visa"), Some("k1")).await;
    assert_eq!(ok.status, StatusCode::OK);
    let mut other = topup("tok_visa");
    other[0] = ("amount", "5000");
    let conflict = sim.charge(&other, Some("k1")).await;
    assert_eq!(conflict.status, StatusCode::BAD_REQUEST);
    assert_eq!(conflict.error("type"), "idempotency_error");
    let message = conflict.error("message").as_str().unwrap();
    assert!(message.starts_with(
        "Keys for idempotent requests can only be used with the same parameters they were first used with"
    ));
    let long = "k".repeat(256);
    let too_long = sim.charge(&topup("tok_visa"), Some(&long)).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert_eq!(sim.charges().await.len(), 1);
    assert_eq!(sim.stats().await["duplicates"], 0);
}

#[tokio::test]
async fn faults_never_reach_the_processor_unless_accepted() {
    let sim = Sim::start().await;
    sim.fault(json!({"channel": "payments", "times": 1, "action": {"status": 503}}))
        .await;
    let a = sim.charge(&topup("tok_visa"), Some("f1")).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.error("type"), "api_error");
    assert!(sim.charges().await.is_empty());
    // Not stored for the key: the retry is processed.
    let retry = sim.charge(&topup("tok_visa"), Some("f1")).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert!(retry.headers.get("idempotent-replayed").is_none());

    // Charged, but the answer is lost: the retry must get the same charge back.
    sim.fault(
        json!({"channel": "payments", "match": {"amount": "777"}, "times": 1,
        "action": {"status": 502, "accept": true}}),
    )
    .await;
    let form = [
        ("amount", "777"),
        ("currency", "usd"),
        ("source", "tok_visa"),
    ];
    let lost = sim.charge(&form, Some("f2")).await;
    assert_eq!(lost.status, StatusCode::BAD_GATEWAY);
    let retry = sim.charge(&form, Some("f2")).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    let charges = sim.charges().await;
    assert_eq!(charges.len(), 2);
    assert_eq!(charges[1]["id"], retry.body["id"]);
    assert!(
        charges[1]["fault_id"]
            .as_str()
            .unwrap()
            .starts_with("fault-")
    );

    sim.fault(json!({"channel": "payments", "times": 1,
        "action": {"status": 429, "retry_after_s": 3}}))
        .await;
    let limited = sim.charge(&topup("tok_visa"), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error("code"), "rate_limit");
    assert_eq!(limited.headers["retry-after"], "3");

    // There are no payment callbacks to shape.
    let rule = json!({"channel": "payments", "action": {"drop_callbacks": true}});
    control_expect(
        &sim.http,
        &sim.base(),
        Method::POST,
        "faults",
        Some(&rule),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn charged_then_reset_connection_is_recovered_by_the_key() {
    let sim = Sim::start().await;
    sim.fault(json!({"channel": "payments", "times": 1,
        "action": {"reset": true, "accept": true, "latency_ms": 5}}))
        .await;
    let sent = sim
        .request(&topup("tok_visa"))
        .basic_auth(SANDBOX_PAYMENTS_SECRET_KEY, Some(""))
        .header("Idempotency-Key", "lost-1")
        .send()
        .await;
    assert!(sent.is_err(), "the connection must drop without an answer");
    let retry = sim.charge(&topup("tok_visa"), Some("lost-1")).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    let charges = sim.charges().await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["id"], retry.body["id"]);
}
