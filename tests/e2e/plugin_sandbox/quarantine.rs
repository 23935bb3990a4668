//! A connection whose plugin faults call after call is quarantined: its calls stop, the
//! period doubles with each faulting probe, a good call ends it, and SMS and email carry on.
//! The gateway's clock is moved forward instead of waiting out the periods.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, test_plugins_dir};

fn to_phone(channel: &str, text: &str) -> Value {
    json!({"channel": channel, "to": {"phone": "+14155550120"}, "content": {"text": text}})
}

/// The connection's quarantined calls of one export, if any.
async fn quarantine_of(gw: &Gateway, connection: &str, calls: &str) -> Option<Value> {
    let (status, conn) = gw.get(&format!("/v1/connections/{connection}")).await;
    assert_eq!(status, StatusCode::OK, "{conn}");
    conn["quarantine"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|q| q["calls"] == calls)
        .cloned()
}

async fn metric(gw: &Gateway, name: &str) -> String {
    let text = gw
        .http()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .to_string()
}

/// Both channels that are not under test still deliver.
async fn others_deliver(gw: &Gateway, n: usize) {
    let sms = gw.send_sms(&format!("+1415555040{n}"), "unaffected").await;
    let email = gw
        .send(&json!({"channel": "email", "to": {"email": format!("q{n}@example.com")}, "content": {"subject": "s", "text": "unaffected"}}))
        .await;
    gw.wait_for(&sms, "delivered", Duration::from_secs(30))
        .await;
    // The email simulator opens what it delivers.
    gw.wait_for(&email, "seen", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_faulting_plugin_is_quarantined_with_growing_backoff_and_recovers() {
    let gw = Gateway::start(
        "plugin-quarantine",
        &[
            "--plugins-dir",
            test_plugins_dir(),
            "--quarantine-after",
            "3",
        ],
    );
    let trap_conn = "con_sandbox_test_trap";

    // `test-trap` traps in `validate`: three faults in a row, each a plugin_error.
    for _ in 0..3 {
        let (status, body) = gw.post_message(&to_phone("test-trap", "hi")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["error"]["code"], "plugin_error", "{body}");
    }
    // Then the calls stop: refused with 503 and a Retry-After, and not counted as faults
    // since they were never made.
    for _ in 0..3 {
        let resp = gw
            .http()
            .post(format!("{}/v1/messages", gw.url))
            .bearer_auth(&gw.key)
            .json(&to_phone("test-trap", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry_after: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=30).contains(&retry_after), "{retry_after}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "plugin_quarantined", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("validate is quarantined on connection con_sandbox_test_trap")
                && message.contains("unreachable"),
            "{message}"
        );
    }
    let q = quarantine_of(&gw, trap_conn, "validate").await.unwrap();
    assert_eq!(q["backoff_ms"], 30_000, "{q}");
    assert_eq!(
        q["consecutive_faults"], 3,
        "refused calls are not made: {q}"
    );
    assert!(
        q["last_fault"].as_str().unwrap().contains("unreachable"),
        "{q}"
    );
    assert!(
        metric(&gw, "switchboard_plugin_quarantined_connections")
            .await
            .ends_with(" 1")
    );
    assert!(gw.log().contains("plugin quarantined"), "logged");
    others_deliver(&gw, 1).await;

    // Past the period, one probe is let through; it traps, and the period doubles.
    let mut offset = 31_000;
    gw.set_clock(offset).await;
    let (status, body) = gw.post_message(&to_phone("test-trap", "hi")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "the probe runs: {body}");
    let (status, _) = gw.post_message(&to_phone("test-trap", "hi")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let q = quarantine_of(&gw, trap_conn, "validate").await.unwrap();
    assert_eq!(q["backoff_ms"], 60_000, "{q}");
    assert_eq!(q["consecutive_faults"], 4, "{q}");
    // Half the new period is not enough; all of it is, and it doubles again.
    offset += 31_000;
    gw.set_clock(offset).await;
    let (status, _) = gw.post_message(&to_phone("test-trap", "hi")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    offset += 30_000;
    gw.set_clock(offset).await;
    let (status, _) = gw.post_message(&to_phone("test-trap", "hi")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let q = quarantine_of(&gw, trap_conn, "validate").await.unwrap();
    assert_eq!(q["backoff_ms"], 120_000, "{q}");
    others_deliver(&gw, 2).await;

    // `test-flaky` panics in `send` on request: its messages fail with plugin_error until
    // the connection's sends are quarantined, while its `validate` keeps answering.
    let flaky_conn = "con_sandbox_test_flaky";
    for _ in 0..3 {
        let id = gw.send(&to_phone("test-flaky", "panic")).await;
        let f = gw.failure_of(&id).await;
        assert_eq!(f["reason"], "plugin_error", "{f}");
        assert!(
            f["detail"].as_str().unwrap().contains("send trapped"),
            "{f}"
        );
    }
    let q = quarantine_of(&gw, flaky_conn, "send").await.unwrap();
    assert_eq!(q["backoff_ms"], 30_000, "{q}");
    assert!(quarantine_of(&gw, flaky_conn, "validate").await.is_none());
    // A good message is accepted but not sent: its attempt is refused and retried later.
    let good = gw.send(&to_phone("test-flaky", "fine")).await;
    let refused = loop {
        let (_, msg) = gw.get(&format!("/v1/messages/{good}")).await;
        if let Some(a) = msg["deliveries"][0]["attempts"].get(0) {
            break a.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused["reason"], "plugin_quarantined", "{refused}");
    assert!(
        refused["retry_after_ms"].as_u64().unwrap() > 20_000,
        "retried when the quarantine lets a probe through: {refused}"
    );
    others_deliver(&gw, 3).await;
    let (_, msg) = gw.get(&format!("/v1/messages/{good}")).await;
    assert_eq!(
        msg["deliveries"][0]["attempts"].as_array().unwrap().len(),
        1,
        "no attempt while quarantined: {msg:#}"
    );

    // When the period is over the retry is the probe; it succeeds and ends the quarantine.
    offset += 31_000;
    gw.set_clock(offset).await;
    let msg = gw.wait_for(&good, "sent", Duration::from_secs(20)).await;
    assert_eq!(
        msg["deliveries"][0]["attempts"].as_array().unwrap().len(),
        2,
        "{msg:#}"
    );
    assert!(quarantine_of(&gw, flaky_conn, "send").await.is_none());
    assert!(gw.log().contains("quarantine lifted"), "logged");
    let again = gw.send(&to_phone("test-flaky", "fine")).await;
    gw.wait_for(&again, "sent", Duration::from_secs(20)).await;
    // The trap plugin's own quarantine is untouched by the other connection's recovery.
    assert!(quarantine_of(&gw, trap_conn, "validate").await.is_some());

    gw.assert_healthy().await;
    let rss = gw.rss_bytes();
    assert!(rss < 1 << 30, "gateway resident memory {rss} bytes");
}
