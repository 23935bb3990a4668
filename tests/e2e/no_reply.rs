//! No-reply alerts with the sandbox clock: none before the delay, exactly one after it (to
//! the owner, or to every member of an unassigned conversation), none when the agent answered
//! in time, and exactly one when the gateway was SIGKILLed inside the window.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

const MINUTE: i64 = 60_000;

/// A contact whose customer writes at clock offset `at_ms`: its conversation's id.
async fn customer_writes(gw: &Gateway, at_ms: i64, phone: &str) -> (String, String) {
    let (_, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone}]}),
        )
        .await;
    let contact = c["id"].as_str().unwrap().to_string();
    write(gw, at_ms, &contact, None).await;
    let (_, conv) = gw.get(&format!("/v1/conversations/{contact}")).await;
    (contact, conv["id"].as_str().unwrap().to_string())
}

async fn write(gw: &Gateway, at_ms: i64, contact: &str, member: Option<&str>) {
    gw.set_clock(at_ms).await;
    let body = match member {
        None => json!({"author": "customer", "text": "anyone there?"}),
        Some(m) => json!({"author": "agent", "text": "here", "member": m}),
    };
    let (s, b) = gw
        .post_json(&format!("/v1/conversations/{contact}/messages"), &body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

/// Alerts the email simulator received for a conversation, by recipient.
async fn alerts(sim: &str, conversation: &str) -> Vec<String> {
    let all: Value = sim_get(sim, "/_sandbox/email/messages").await;
    let mut to: Vec<String> = all
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.to_string().contains(conversation))
        .map(|m| {
            m["to"]
                .as_str()
                .or(m["to"][0].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    to.sort();
    to
}

/// Wait until `n` alerts of the conversation arrived, then make sure no more come.
async fn exactly(sim: &str, conversation: &str, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while alerts(sim, conversation).await.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} alerts never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The loop runs every second: two more rounds send nothing more.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = alerts(sim, conversation).await;
    assert_eq!(got.len(), n, "{got:?}");
    got
}

#[tokio::test]
async fn owners_and_everyone_are_alerted_once_and_an_answer_in_time_cancels() {
    let gw = Gateway::start("no-reply", &[]);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = crate::console::joined(&gw, "bob@example.com", "agent", "Bob").await;
    let (s, w) = gw
        .call(
            reqwest::Method::PATCH,
            "/v1/workspace",
            &gw.key,
            Some(&json!({"no_reply_alert_minutes": 10})),
        )
        .await;
    assert_eq!(
        (s, w["no_reply_alert_minutes"].as_i64()),
        (StatusCode::OK, Some(10)),
        "{w}"
    );
    let (s, e) = gw
        .call(
            reqwest::Method::PATCH,
            "/v1/workspace",
            &gw.key,
            Some(&json!({"no_reply_alert_minutes": 0})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("no_reply_alert_minutes")
        )
    );

    // Ada's conversation: the customer writes again after her answer.
    let (c1, conv1) = customer_writes(&gw, 0, "+14155550301").await;
    write(&gw, MINUTE, &c1, Some(&ada)).await;
    write(&gw, 2 * MINUTE, &c1, None).await;
    gw.set_clock(11 * MINUTE).await; // 9 minutes into the wait
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        alerts(&gw.sim, &conv1).await.is_empty(),
        "nothing before the delay"
    );
    gw.set_clock(13 * MINUTE).await; // 11 minutes into the wait
    assert_eq!(exactly(&gw.sim, &conv1, 1).await, vec!["ada@example.com"]);

    // Nobody's conversation: every member hears of it, once.
    let (_, conv2) = customer_writes(&gw, 20 * MINUTE, "+14155550302").await;
    gw.set_clock(31 * MINUTE).await;
    assert_eq!(
        exactly(&gw.sim, &conv2, 4).await,
        vec![
            "ada@example.com",
            "admin@sandbox.test",
            "billing@sandbox.test",
            "bob@example.com"
        ]
    );

    // Answered in time: nothing.
    let (c3, conv3) = customer_writes(&gw, 40 * MINUTE, "+14155550303").await;
    write(&gw, 45 * MINUTE, &c3, Some(&bob)).await;
    gw.set_clock(60 * MINUTE).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(alerts(&gw.sim, &conv3).await.is_empty());
}

#[tokio::test]
async fn a_sigkill_inside_the_window_still_alerts_exactly_once() {
    let sim = SandboxProcess::start();
    let dir = fresh_dir("no-reply-crash");
    let listen = format!("127.0.0.1:{}", free_port());
    let args = ["--sandbox-url", sim.url.as_str()];
    let mut gw = Gateway::start_in(&dir, &listen, &args);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    gw.call(
        reqwest::Method::PATCH,
        "/v1/workspace",
        &gw.key,
        Some(&json!({"no_reply_alert_minutes": 10})),
    )
    .await;
    let (c, conv) = customer_writes(&gw, 0, "+14155550311").await;
    let (s, _) = gw
        .post_json(
            &format!("/v1/conversations/{c}/take"),
            &json!({"member": ada}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    gw.set_clock(5 * MINUTE).await;
    gw.kill();

    let gw = Gateway::start_in(&dir, &listen, &args);
    // The clock offset lives in the process; the restarted gateway moves it past the delay.
    gw.set_clock(11 * MINUTE).await;
    assert_eq!(exactly(&sim.url, &conv, 1).await, vec!["ada@example.com"]);
}
