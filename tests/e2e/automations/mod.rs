//! Automations over real HTTP with the sandbox clock: the no-reply recall (returning or new
//! visitors, unassigned or assigned conversations, N minutes and not N−1), a flow that asks
//! for an email and branches, bot hosting deciding who gets the bot's answers, an agent
//! taking over, editing while runs go, and the figures against hand-computed ones.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Gateway;

mod crash;
mod flows;
mod off_platform;

pub const MINUTE: i64 = 60_000;

/// A new contact (a phone of its own) and its id.
pub async fn contact(gw: &Gateway, phone: &str) -> String {
    let (s, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

/// Post a message to the contact's conversation at clock offset `at`.
pub async fn say(gw: &Gateway, at: i64, contact: &str, body: Value) {
    gw.set_clock(at).await;
    let (s, b) = gw
        .post_json(&format!("/v1/conversations/{contact}/messages"), &body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

pub async fn customer(gw: &Gateway, at: i64, contact: &str, text: &str) {
    say(gw, at, contact, json!({"author": "customer", "text": text})).await;
}

pub async fn agent(gw: &Gateway, at: i64, contact: &str, member: Option<&str>) {
    let mut body = json!({"author": "agent", "text": "an agent's answer"});
    if let Some(m) = member {
        body["member"] = json!(m);
    }
    say(gw, at, contact, body).await;
}

pub async fn create(gw: &Gateway, body: Value) -> String {
    let (s, a) = gw.post_json("/v1/automations", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    a["id"].as_str().unwrap().to_string()
}

/// The bot's messages in the contact's conversation.
pub async fn bot_said(gw: &Gateway, contact: &str) -> Vec<String> {
    let (s, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "bot")
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Wait (real time) until the bot said `n` things to the contact, then make sure no more
/// come in two more rounds of the engine.
pub async fn bot_says_exactly(gw: &Gateway, contact: &str, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while bot_said(gw, contact).await.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the bot never said {n} things: {:?}",
            bot_said(gw, contact).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = bot_said(gw, contact).await;
    assert_eq!(got.len(), n, "{got:?}");
    got
}

/// Let the engine run two more rounds at the current clock.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

pub async fn hosting(gw: &Gateway, ids: &[&str], hosted: bool) -> u64 {
    let (s, v) = gw
        .post_json(
            "/v1/conversations/hosting",
            &json!({"ids": ids, "hosted": hosted}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["changed"].as_u64().unwrap()
}

pub async fn runs(gw: &Gateway, automation: &str) -> Vec<Value> {
    let (s, v) = gw
        .get(&format!("/v1/automations/{automation}/runs?limit=200"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().clone()
}

/// The conversation's id.
pub async fn conversation(gw: &Gateway, contact: &str) -> String {
    let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    v["id"].as_str().unwrap().to_string()
}

/// Finish a round as `member`, then the customer comes back at `at`.
async fn comes_back(gw: &Gateway, at: i64, contact: &str, member: &str) {
    customer(gw, at, contact, "hello").await;
    agent(gw, at, contact, Some(member)).await;
    let (s, v) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/finish"),
            &json!({"member": member}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    customer(gw, at + MINUTE, contact, "me again").await;
}

#[tokio::test]
async fn a_returning_visitor_left_in_the_queue_is_recalled_at_n_minutes_and_nobody_else() {
    let gw = Gateway::start("automations-recall", &[]);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let recall = create(
        &gw,
        json!({"name": "recall", "trigger": {"type": "visitor.no_reply", "minutes": 30,
            "visitor": "returning", "states": ["unassigned"]},
            "steps": [{"id": "s1", "send": {"text": "Still there?"}}]}),
    )
    .await;

    // Returning, unassigned: a round Ada finished; the customer came back, Ada gave the
    // conversation back to the team, and the team's integration answered (no member).
    let back = contact(&gw, "+14155550401").await;
    comes_back(&gw, 0, &back, &ada).await;
    let (s, v) = gw
        .post_json(
            &format!("/v1/conversations/{back}/release"),
            &json!({"member": ada}),
        )
        .await;
    assert_eq!((s, v["owner"].is_null()), (StatusCode::OK, true), "{v}");
    // Returning, assigned: Ada answers the second round (below).
    let owned = contact(&gw, "+14155550403").await;
    comes_back(&gw, 2 * MINUTE, &owned, &ada).await;
    agent(&gw, 11 * MINUTE, &back, None).await;

    // New, unassigned: a first round answered without a member.
    let first = contact(&gw, "+14155550402").await;
    customer(&gw, 11 * MINUTE, &first, "hi").await;
    agent(&gw, 11 * MINUTE, &first, None).await;

    agent(&gw, 11 * MINUTE, &owned, Some(&ada)).await;

    // 29 minutes after the answers: nothing.
    gw.set_clock(40 * MINUTE).await;
    settle().await;
    for c in [&back, &first, &owned] {
        assert!(bot_said(&gw, c).await.is_empty(), "nothing at N-1 minutes");
    }
    // 30 minutes: the returning visitor in the queue, once.
    gw.set_clock(41 * MINUTE).await;
    assert_eq!(bot_says_exactly(&gw, &back, 1).await, ["Still there?"]);
    assert!(bot_said(&gw, &first).await.is_empty(), "a new visitor");
    assert!(
        bot_said(&gw, &owned).await.is_empty(),
        "an assigned conversation"
    );
    // Clock jumps fire nothing again.
    gw.set_clock(400 * MINUTE).await;
    settle().await;
    assert_eq!(bot_said(&gw, &back).await.len(), 1);

    let rows = runs(&gw, &recall).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["contact"], back.as_str());
    assert_eq!(rows[0]["run"]["state"], "completed");
    assert_eq!(rows[0]["status"], "completed");
    assert_eq!(rows[0]["channel"], "chat");
    assert_eq!(rows[0]["trigger_count"], 1);

    // A customer's answer before the time cancels the timer.
    customer(&gw, 401 * MINUTE, &back, "thanks").await;
    agent(&gw, 402 * MINUTE, &back, None).await;
    customer(&gw, 420 * MINUTE, &back, "ok").await;
    gw.set_clock(500 * MINUTE).await;
    settle().await;
    assert_eq!(bot_said(&gw, &back).await.len(), 1, "the visitor answered");
}

/// The tenancy matrix covers these endpoints; here, the input they refuse.
#[tokio::test]
async fn stats_and_runs_check_their_input() {
    let gw = Gateway::start("automations-input", &[]);
    let id = create(
        &gw,
        json!({"name": "started", "trigger": {"type": "conversation.started"},
            "steps": [{"id": "hi", "send": {"text": "Hello!"}}]}),
    )
    .await;
    let (s, e) = gw
        .get(&format!("/v1/automations/{id}/stats?since=yesterday"))
        .await;
    assert!(s.is_client_error(), "{e}");
    assert_eq!(e["error"]["field"], "since", "{e}");
    let (s, e) = gw
        .get(&format!("/v1/automations/{id}/runs?status=happy"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _) = gw.get("/v1/automations/aut_nope/stats").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = gw
        .call(
            Method::GET,
            &format!("/v1/automations/{id}/stats"),
            &gw.key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["triggers"], 0);
    assert_eq!(v["participation"]["denominator"], 0);
}
