//! Provider faults: retries with backoff that honour Retry-After, and no retry for a
//! permanent error.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::Gateway;

fn at(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn two_503s_then_success_takes_exactly_three_attempts() {
    let gw = Gateway::start("faults-503", &[]);
    let to = "+14155550110";
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": to}, "times": 2, "action": {"status": 503}}),
    )
    .await;
    let id = gw.send_sms(to, "persist").await;
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(30)).await;
    let attempts = msg["deliveries"][0]["attempts"].as_array().unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["retry_scheduled", "retry_scheduled", "accepted"],
        "{msg:#}"
    );
    assert_eq!(attempts[0]["reason"], "provider_transient");
    let stats = gw.sim_get("/_sandbox/stats").await;
    assert_eq!(stats["sms"]["requests"], 3, "{stats}");
    assert_eq!(stats["sms"]["unique_accepted"], 1, "{stats}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let gw = Gateway::start("faults-429", &[]);
    let to = "+14155550111";
    gw.sim_post("/_sandbox/faults", json!({"channel": "sms", "match": {"to": to}, "times": 1, "action": {"status": 429, "retry_after_s": 2}})).await;
    let id = gw.send_sms(to, "patience").await;
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(30)).await;
    let attempts = msg["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{msg:#}");
    assert_eq!(attempts[0]["reason"], "rate_limited");
    assert_eq!(attempts[0]["retry_after_ms"], 2000);
    let waited = at(&attempts[1]["started_at"])
        .duration_since(at(&attempts[0]["finished_at"]))
        .unwrap();
    assert!(
        waited >= Duration::from_secs(2),
        "second attempt came after {waited:?}"
    );
}

#[tokio::test]
async fn invalid_number_fails_once_and_is_not_retried() {
    let gw = Gateway::start("faults-21211", &[]);
    // Twilio's magic number for "invalid To".
    let id = gw.send_sms("+15005550001", "nobody home").await;
    let msg = gw.wait_for(&id, "failed", Duration::from_secs(20)).await;
    let d = &msg["deliveries"][0];
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{msg:#}");
    assert_eq!(d["attempts"][0]["outcome"], "failed");
    assert_eq!(d["failure"]["reason"], "recipient_invalid");
    assert_eq!(d["failure"]["provider_code"], "21211");
    assert_eq!(d["failure"]["retryable"], false);
    assert_eq!(d["failure"]["resend"]["allowed"], false);
    assert_eq!(d["failure"]["resend"]["when"], "never");
    // Give a wrong retry time to show itself, then check nothing more was sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = gw.sim_get("/_sandbox/stats").await;
    assert_eq!(stats["sms"]["requests"], 1, "{stats}");
}
