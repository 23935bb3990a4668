//! Off-platform triggering: a reply typed in the Messenger Page's own inbox is an agent
//! message that starts the `visitor.no_reply` timer of an automation that counts such
//! replies (and not of one that does not); the recall goes out on Messenger, and the echo of
//! that send is never taken for another agent message.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_MESSENGER_PAGES;

use super::{MINUTE, create, runs, settle};
use crate::support::{Gateway, wait_until};

/// What the Graph simulator received for `psid` through the Send API: the texts.
async fn sent_to(gw: &Gateway, psid: &str) -> Vec<String> {
    let sends = gw.sim_get("/_sandbox/messenger/messages").await;
    sends
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["psid"] == psid)
        .map(|m| {
            let request: Value =
                serde_json::from_str(m["request"].as_str().unwrap_or("{}")).unwrap_or_default();
            request["message"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_reply_typed_in_the_page_inbox_starts_the_no_reply_timer_and_its_echo_counts_once() {
    let gw = Gateway::start("automations-off-platform", &[]);
    let page = SANDBOX_MESSENGER_PAGES[0].id;
    let counting = create(
        &gw,
        json!({"name": "recall (off platform too)", "trigger": {"type": "visitor.no_reply",
            "minutes": 30, "states": ["unassigned"], "off_platform": true},
            "steps": [{"id": "s1", "send": {"text": "Still there? We can help."}}]}),
    )
    .await;
    let ignoring = create(
        &gw,
        json!({"name": "recall (here only)", "trigger": {"type": "visitor.no_reply",
            "minutes": 30, "states": ["unassigned"]},
            "steps": [{"id": "s1", "send": {"text": "Only for replies written here"}}]}),
    )
    .await;

    let psid = "7300000000000101";
    gw.set_clock(0).await;
    gw.sim_post(
        "/_sandbox/messenger/inbound",
        json!({"page_id": page, "psid": psid, "name": "Ada", "text": "Is it in stock?"}),
    )
    .await;
    // The contact's conversation holds the customer's message.
    let mut contact = String::new();
    wait_until(&gw, Duration::from_secs(10), async || {
        let (_, page) = gw.get("/v1/contacts?limit=200").await;
        if let Some(c) = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c.to_string().contains(psid))
        {
            contact = c["id"].as_str().unwrap().to_string();
        }
        !contact.is_empty()
    })
    .await;

    // Someone answers in Facebook's Page inbox: an off-platform agent message.
    gw.sim_post(
        "/_sandbox/messenger/page_reply",
        json!({"page_id": page, "psid": psid, "text": "Yes, it is."}),
    )
    .await;
    wait_until(&gw, Duration::from_secs(10), async || {
        let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
        v["messages"].as_array().is_some_and(|m| m.len() == 2)
    })
    .await;

    gw.set_clock(29 * MINUTE).await;
    settle().await;
    assert!(
        sent_to(&gw, psid).await.is_empty(),
        "nothing at N-1 minutes"
    );
    gw.set_clock(31 * MINUTE).await;
    wait_until(&gw, Duration::from_secs(20), async || {
        !sent_to(&gw, psid).await.is_empty()
    })
    .await;
    // The recall went out once, on Messenger; its echo came back and was recognised: the
    // conversation holds no third agent message, and no timer started again from it.
    gw.set_clock(120 * MINUTE).await;
    settle().await;
    settle().await;
    assert_eq!(sent_to(&gw, psid).await, ["Still there? We can help."]);
    let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    let authors: Vec<_> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"].as_str().unwrap().to_string(),
                m["off_platform"].clone(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        [
            ("customer".to_string(), json!(false)),
            ("agent".to_string(), json!(true))
        ],
        "{v:#}"
    );
    let rows = runs(&gw, &counting).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["channel"], "messenger");
    assert_eq!(rows[0]["trigger_count"], 1);
    assert!(
        runs(&gw, &ignoring).await.is_empty(),
        "off-platform replies do not count for it"
    );
}
