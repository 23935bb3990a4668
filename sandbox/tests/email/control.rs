//! The control API's email parts: runtime config, rule validation and reset.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{Receiver, Sim, TO, mail};

#[tokio::test]
async fn control_api_configures_and_resets() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;
    let base = sim.handle.base_url();
    let cfg = sim
        .control(
            reqwest::Method::PUT,
            "config",
            Some(json!({"email": {"open_delay_ms": 40, "event_webhook_url": ""}})),
        )
        .await;
    assert_eq!(
        cfg["email"],
        json!({"processed_delay_ms": 5, "delivered_delay_ms": 15, "open_delay_ms": 40,
               "event_webhook_url": null})
    );
    assert_eq!(cfg["sms"]["sent_delay_ms"], 20);
    for bad in [
        json!({"email": {"event_webhook_url": "not a url"}}),
        json!({"email": {"event_webhook_url": "ftp://127.0.0.1/x"}}),
        json!({"email": {"open_delay": 1}}),
    ] {
        let resp = sim
            .http
            .put(format!("{base}/_sandbox/config"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let id = sim.accept(&mail(TO)).await;
    sim.wait_events(&id, 3).await;
    assert!(rx.received().is_empty());

    let resp = sim
        .http
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"channel": "email", "match": {"from": TO}, "action": {"status": 503}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    sim.control(reqwest::Method::POST, "reset", None).await;
    assert!(sim.messages().await.is_empty());
    assert_eq!(sim.stats().await["requests"], 0);
    // The start config is back, webhook URL included.
    let cfg = sim.control(reqwest::Method::GET, "config", None).await;
    assert_eq!(cfg["email"]["event_webhook_url"], rx.url.as_str());
    assert_eq!(cfg["email"]["open_delay_ms"], 25);
    sim.accept(&mail(TO)).await;
    assert_eq!(rx.wait_for(3).await.len(), 3);
}
