//! Retries that run out, and waits a provider asks for that are too long: a message whose
//! attempts ran out is a dead letter (`failed`, `exhausted: true`), listed and redriven once;
//! a `Retry-After` is capped by `--max-retry-after-s`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::history::{attempts, gap_after, outcomes};
use crate::support::{Gateway, sim_messages_to};

const TO: &str = "+14155550188";

#[tokio::test]
async fn retries_run_out_into_a_dead_letter_that_one_redrive_delivers() {
    let gw = Gateway::start("dead-letter", &["--max-attempts", "2"]);
    // Two 503s: both attempts fail, and the second was the last allowed.
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": TO}, "times": 2, "action": {"status": 503}}),
    )
    .await;
    let id = gw.send_sms(TO, "ran out").await;
    let failed = gw.wait_for(&id, "failed", Duration::from_secs(30)).await;
    assert_eq!(failed["exhausted"], true, "{failed:#}");
    let failure = &failed["deliveries"][0]["failure"];
    assert_eq!(
        (
            &failure["reason"],
            &failure["exhausted"],
            &failure["retryable"]
        ),
        (&json!("provider_transient"), &json!(true), &json!(true)),
        "{failed:#}"
    );
    assert_eq!(
        outcomes(&failed),
        [
            (
                "retry_scheduled".to_string(),
                "provider_transient".to_string()
            ),
            ("failed".to_string(), "provider_transient".to_string())
        ]
    );

    // A permanent failure is failed, not exhausted: it is no dead letter.
    let invalid = gw.send_sms("+15005550001", "nobody home").await;
    let permanent = gw
        .wait_for(&invalid, "failed", Duration::from_secs(30))
        .await;
    assert_eq!(permanent["exhausted"], false, "{permanent:#}");

    let (code, page) = gw.get("/v1/messages?status=failed&exhausted=true").await;
    assert_eq!(code, StatusCode::OK, "{page}");
    let listed: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str()], "{page:#}");
    assert_eq!(page["data"][0]["exhausted"], true);
    let (_, others) = gw.get("/v1/messages?status=failed&exhausted=false").await;
    assert_eq!(others["data"][0]["id"], invalid.as_str(), "{others:#}");

    // Nothing reached Twilio yet: the faults answered before it saw the request.
    assert!(sim_messages_to(&gw.sim, TO).await.is_empty());
    let (code, report) = gw.post_json("/v1/messages/redrive", &json!({})).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["matched"], &report["redriven"]),
        (&json!(1), &json!(1)),
        "{report:#}"
    );
    assert_eq!(report["resent"][0]["id"], id.as_str());
    let resent = report["resent"][0]["resent_as"]
        .as_str()
        .unwrap()
        .to_string();
    let delivered = gw
        .wait_for(&resent, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(delivered["resend_of"], id.as_str());
    assert_eq!(sim_messages_to(&gw.sim, TO).await.len(), 1);

    // Once resent it is no longer waiting: the same redrive finds nothing, sends nothing.
    let (code, again) = gw.post_json("/v1/messages/redrive", &json!({})).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(
        (&again["matched"], &again["redriven"]),
        (&json!(0), &json!(0)),
        "{again:#}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim_messages_to(&gw.sim, TO).await.len(), 1);

    // A filter that excludes it, and a bad limit.
    let (_, none) = gw
        .post_json("/v1/messages/redrive", &json!({"channel": "email"}))
        .await;
    assert_eq!(none["matched"], 0);
    let (code, bad) = gw
        .post_json("/v1/messages/redrive", &json!({"limit": 0}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["error"]["field"], "limit");
}

#[tokio::test]
async fn a_day_long_retry_after_is_capped() {
    let gw = Gateway::start("retry-after-cap", &["--max-retry-after-s", "1"]);
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": TO}, "times": 1,
               "action": {"status": 429, "retry_after_s": 86_400}}),
    )
    .await;
    let id = gw.send_sms(TO, "not tomorrow").await;
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(30)).await;
    assert_eq!(
        outcomes(&msg),
        [
            ("retry_scheduled".to_string(), "rate_limited".to_string()),
            ("accepted".to_string(), String::new())
        ]
    );
    // The provider asked for a day (recorded as asked); the retry came after the cap.
    assert_eq!(attempts(&msg)[0]["retry_after_ms"], 86_400_000, "{msg:#}");
    let gap = gap_after(&msg, 0);
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(20), "retried after {gap:?}");
}
