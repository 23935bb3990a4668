//! A contact's activity times: `first_active_at` is its earliest interaction and never moves
//! later, `last_active_at` its latest and never moves earlier, both from the provider's own
//! event times (a message or a postback; not our own sends nor their receipts); `inactive`
//! after 24 hours without one.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_MESSENGER_PAGES;

use crate::support::{Gateway, wait_until};

const HOUR: i64 = 3_600_000;

/// The user writes to page 0; the provider's timestamp of that message (ms).
async fn user_writes(gw: &Gateway, psid: &str, text: &str) -> i64 {
    let answer = gw
        .sim_post(
            "/_sandbox/messenger/inbound",
            json!({"page_id": SANDBOX_MESSENGER_PAGES[0].id, "psid": psid, "name": "Grace", "text": text}),
        )
        .await;
    answer["timestamp"]
        .as_i64()
        .expect("the simulator's timestamp")
}

async fn contact(gw: &Gateway, psid: &str) -> Option<Value> {
    let (_, page) = gw.get("/v1/contacts?limit=200").await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == psid)
        })
        .cloned()
}

fn ms(v: &Value) -> i64 {
    let t =
        humantime::parse_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn wait_inbound(gw: &Gateway, psid: &str, n: u64) -> Value {
    wait_until(gw, Duration::from_secs(20), async || {
        contact(gw, psid)
            .await
            .is_some_and(|c| c["inbound_messages"].as_u64() >= Some(n))
    })
    .await;
    contact(gw, psid).await.unwrap()
}

#[tokio::test]
async fn first_and_last_active_follow_the_contacts_own_messages() {
    let gw = Gateway::start("contact-activity", &[]);
    let psid = "24000000000000771";
    let first = user_writes(&gw, psid, "hello").await;
    let c = wait_inbound(&gw, psid, 1).await;
    assert_eq!(ms(&c["first_active_at"]), first, "{c:#}");
    assert_eq!(ms(&c["last_active_at"]), first, "{c:#}");
    assert_eq!(c["inactive"], false, "{c:#}");

    // Three hours later (the gateway's and the provider's clocks move together).
    gw.set_clock(3 * HOUR).await;
    let later = user_writes(&gw, psid, "still there?").await;
    assert!(later >= first + 3 * HOUR);
    let c = wait_inbound(&gw, psid, 2).await;
    assert_eq!(
        ms(&c["first_active_at"]),
        first,
        "the first never moves: {c:#}"
    );
    assert_eq!(ms(&c["last_active_at"]), later, "{c:#}");

    // Our reply, and its delivery and read receipts, are not the contact's activity.
    let (code, sent) = gw
        .post_message(
            &json!({"channel": "messenger", "to": {"psid": psid}, "content": {"text": "yes"}}),
        )
        .await;
    assert_eq!(code, reqwest::StatusCode::ACCEPTED, "{sent}");
    let id = sent["id"].as_str().unwrap();
    gw.wait_for(id, "seen", Duration::from_secs(30)).await;
    let c = contact(&gw, psid).await.unwrap();
    assert_eq!(ms(&c["first_active_at"]), first, "{c:#}");
    assert_eq!(ms(&c["last_active_at"]), later, "{c:#}");
    assert_eq!(c["inbound_messages"], 2, "{c:#}");

    // A day without a word from the contact: inactive, the times unchanged.
    gw.set_clock(3 * HOUR + 25 * HOUR).await;
    let c = contact(&gw, psid).await.unwrap();
    assert_eq!(c["inactive"], true, "{c:#}");
    assert_eq!(ms(&c["first_active_at"]), first, "{c:#}");
    assert_eq!(ms(&c["last_active_at"]), later, "{c:#}");
}
