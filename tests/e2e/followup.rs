//! Follow-up triggers end to end: presence from `/v1/activity`, the 4 min 30 s offline
//! deadline on the controllable clock, tab-hidden and left taking effect at once, the two
//! exclusions (an agent's opener never answered, marketing), and one follow-up per reply,
//! carrying the reply to the simulators.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn contact(gw: &Gateway, phone: &str, email: &str) -> String {
    let (status, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [
                {"kind": "phone", "address": phone},
                {"kind": "email", "address": email}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn say(gw: &Gateway, contact: &str, author: &str, text: &str, marketing: bool) -> i64 {
    let (status, r) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/messages"),
            &json!({"author": author, "text": text, "marketing": marketing}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    r["id"].as_i64().unwrap()
}

async fn activity(gw: &Gateway, contact: &str, kind: &str) -> Value {
    let (status, r) = gw
        .post_json("/v1/activity", &json!({"contact": contact, "kind": kind}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

async fn conversation(gw: &Gateway, contact: &str) -> Value {
    let (status, c) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

/// What the SMS and email simulators received that mentions `needle`.
async fn delivered_texts(gw: &Gateway, needle: &str) -> (usize, usize) {
    let count = |v: Value| {
        v.as_array()
            .cloned()
            .or_else(|| v["messages"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|m| m.to_string().contains(needle))
            .count()
    };
    (
        count(gw.sim_get("/_sandbox/sms/messages").await),
        count(gw.sim_get("/_sandbox/email/messages").await),
    )
}

/// Waits until the simulators hold exactly `want` (SMS, email) mentioning `needle`.
async fn wait_delivered(gw: &Gateway, needle: &str, want: (usize, usize)) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = delivered_texts(gw, needle).await;
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "expected {want:?} sends of {needle:?}, got {got:?}\n--- log ---\n{}",
                gw.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_customer_silent_for_4_29_is_online_and_at_4_31_gets_the_unseen_reply() {
    let gw = Gateway::start("followup-offline", &[]);
    let c = contact(&gw, "+821033330001", "f1@example.com").await;
    say(&gw, &c, "customer", "Where is my order?", false).await;
    let before = wall_ms();
    assert_eq!(activity(&gw, &c, "page_view").await["presence"], "online");
    let after = wall_ms();
    let reply = say(&gw, &c, "agent", "It shipped today, tracking 4417", false).await;

    // The deadline is 4 min 30 s after the page view, which happened between `before` and
    // `after`; the clock is set against those bounds so real time spent cannot blur them.
    gw.set_clock(before + 269_000 - wall_ms()).await;
    // Long enough for the presence loop (100 ms) to look at 4:29, short of 4:30.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let conv = conversation(&gw, &c).await;
    assert_eq!(conv["presence"], "online", "{conv:#}");
    assert!(conv["messages"][1].get("follow_up").is_none(), "{conv:#}");
    assert_eq!(delivered_texts(&gw, "tracking 4417").await, (0, 0));

    gw.set_clock(after + 271_000 - wall_ms()).await;
    wait_delivered(&gw, "tracking 4417", (1, 1)).await;
    let conv = conversation(&gw, &c).await;
    assert_eq!(conv["presence"], "offline", "{conv:#}");
    assert_eq!(conv["messages"][1]["id"], reply);
    let follow_up = conv["messages"][1]["follow_up"]
        .as_str()
        .unwrap()
        .to_string();

    // The follow-up is an ordinary routed message: the built-in policy, no push token, so
    // step 0 is skipped and the text (SMS: no AlimTalk template) and email went together.
    let (_, msg) = gw.get(&format!("/v1/messages/{follow_up}")).await;
    assert_eq!(msg["route"]["policy"], "follow-up", "{msg:#}");
    assert_eq!(msg["route"]["steps"][0]["state"], "skipped", "{msg:#}");
    assert_eq!(msg["category"], "follow_up", "{msg:#}");

    // Coming back and leaving again does not follow up the same reply twice.
    activity(&gw, &c, "heartbeat").await;
    let r = activity(&gw, &c, "left").await;
    assert_eq!(r["presence"], "offline");
    assert!(r.get("follow_up").is_none(), "{r}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivered_texts(&gw, "tracking 4417").await, (1, 1));
}

#[tokio::test]
async fn hiding_the_tab_or_leaving_follows_up_at_once_but_never_an_unanswered_opener_or_marketing()
{
    let gw = Gateway::start("followup-exclusions", &[]);

    // Tab hidden: offline now, the unseen reply follows.
    let a = contact(&gw, "+821033330002", "f2@example.com").await;
    say(&gw, &a, "customer", "Can I change the size?", false).await;
    activity(&gw, &a, "tab_visible").await;
    say(&gw, &a, "agent", "Yes, size swap ref 7731", false).await;
    let r = activity(&gw, &a, "tab_hidden").await;
    assert_eq!(r["presence"], "offline");
    assert!(r["follow_up"].is_string(), "{r}");
    wait_delivered(&gw, "size swap ref 7731", (1, 1)).await;

    // A reply the customer saw is not followed up.
    activity(&gw, &a, "tab_visible").await;
    let seen = say(&gw, &a, "agent", "Anything else? ref 7732", false).await;
    let (status, _) = gw
        .post_json(
            &format!("/v1/conversations/{a}/seen"),
            &json!({"up_to": seen}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let r = activity(&gw, &a, "left").await;
    assert!(r.get("follow_up").is_none(), "{r}");

    // An agent's opener that the customer never answered.
    let b = contact(&gw, "+821033330003", "f3@example.com").await;
    say(&gw, &b, "agent", "Hello from the shop, opener 8801", false).await;
    activity(&gw, &b, "page_view").await;
    let r = activity(&gw, &b, "left").await;
    assert!(r.get("follow_up").is_none(), "{r}");
    assert_eq!(conversation(&gw, &b).await["started_by"], "agent");

    // Marketing is never followed up; the real reply after it is, alone.
    let c = contact(&gw, "+821033330004", "f4@example.com").await;
    say(&gw, &c, "customer", "Is the shop open on Sunday?", false).await;
    say(&gw, &c, "agent", "Sunday sale promo 9901", true).await;
    activity(&gw, &c, "page_view").await;
    let r = activity(&gw, &c, "left").await;
    assert!(r.get("follow_up").is_none(), "{r}");
    activity(&gw, &c, "page_view").await;
    say(&gw, &c, "agent", "Open 10 to 4, hours 9902", false).await;
    let r = activity(&gw, &c, "left").await;
    assert!(r["follow_up"].is_string(), "{r}");
    wait_delivered(&gw, "hours 9902", (1, 1)).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivered_texts(&gw, "ref 7732").await, (0, 0));
    assert_eq!(delivered_texts(&gw, "opener 8801").await, (0, 0));
    assert_eq!(delivered_texts(&gw, "promo 9901").await, (0, 0));
    assert_eq!(delivered_texts(&gw, "size swap ref 7731").await, (1, 1));
}

#[tokio::test]
async fn conversation_input_is_checked() {
    let gw = Gateway::start("followup-input", &[]);
    let (status, e) = gw
        .post_json(
            "/v1/activity",
            &json!({"contact": "ct_nobody", "kind": "heartbeat"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["field"], "contact", "{e}");

    let c = contact(&gw, "+821033330005", "f5@example.com").await;
    let (status, e) = gw
        .post_json("/v1/activity", &json!({"contact": c, "kind": "dancing"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["field"], "kind", "{e}");

    let (status, e) = gw
        .post_json(
            &format!("/v1/conversations/{c}/messages"),
            &json!({"author": "agent", "text": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "text", "{e}");
}

#[tokio::test]
async fn a_follow_up_pushes_first_to_the_contacts_app_with_the_reply() {
    let gw = Gateway::start("followup-push", &[]);
    let (status, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [
                {"kind": "push", "address": "silent-f6", "platform": "android"},
                {"kind": "phone", "address": "+821033330006"},
                {"kind": "email", "address": "f6@example.com"}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let c = c["id"].as_str().unwrap().to_string();
    say(&gw, &c, "customer", "Is it waterproof?", false).await;
    say(&gw, &c, "agent", "Yes, rated IPX7 ref 5501", false).await;
    let r = activity(&gw, &c, "left").await;
    let id = r["follow_up"].as_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(20);
    let msg = loop {
        let (_, msg) = gw.get(&format!("/v1/messages/{id}")).await;
        if msg["deliveries"][0]["status"] == "sent" {
            break msg;
        }
        assert!(Instant::now() < deadline, "{msg:#}\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let push = &msg["route"]["steps"][0]["channels"][0];
    assert_eq!(push["channel"], "push", "{msg:#}");
    assert_eq!(msg["route"]["steps"][0]["state"], "running", "{msg:#}");
    let sent = gw.sim_get("/_sandbox/push/messages").await;
    assert!(sent.to_string().contains("IPX7 ref 5501"), "{sent:#}");
    // Until the push times out, no text and no email.
    assert_eq!(delivered_texts(&gw, "IPX7 ref 5501").await, (0, 0));
}
