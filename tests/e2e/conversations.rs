//! Conversations with owners over HTTP, with the sandbox clock: the states, taking and
//! overtaking, finishing and reopening, and the statistics of a scripted day against figures
//! computed by hand.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

pub(crate) async fn contact(gw: &Gateway, phone: &str) -> String {
    let (s, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

/// At script time `at_s` (seconds past the start), `who` writes to the contact.
pub(crate) async fn writes(
    gw: &Gateway,
    at_s: i64,
    contact: &str,
    who: Option<&str>,
) -> (StatusCode, Value) {
    gw.set_clock(at_s * 1000).await;
    let body = match who {
        None => json!({"author": "customer", "text": "hello?"}),
        Some(m) => json!({"author": "agent", "text": "on it", "member": m}),
    };
    gw.post_json(&format!("/v1/conversations/{contact}/messages"), &body)
        .await
}

async fn act(
    gw: &Gateway,
    at_s: i64,
    contact: &str,
    action: &str,
    body: Value,
) -> (StatusCode, Value) {
    gw.set_clock(at_s * 1000).await;
    gw.post_json(&format!("/v1/conversations/{contact}/{action}"), &body)
        .await
}

async fn state(gw: &Gateway, contact: &str) -> (String, Option<String>) {
    let (_, c) = gw.get(&format!("/v1/conversations/{contact}")).await;
    (
        c["state"].as_str().unwrap().to_string(),
        c["owner"].as_str().map(str::to_string),
    )
}

#[tokio::test]
async fn states_ownership_and_the_stats_of_a_scripted_day() {
    let gw = Gateway::start("conversations", &[]);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = crate::console::joined(&gw, "bob@example.com", "agent", "Bob").await;
    let (c1, c2, c3) = (
        contact(&gw, "+14155550101").await,
        contact(&gw, "+14155550102").await,
        contact(&gw, "+14155550103").await,
    );
    let start = writes(&gw, 0, &c1, None).await;
    assert_eq!(start.0, StatusCode::CREATED, "{}", start.1);
    assert_eq!(state(&gw, &c1).await, ("unanswered".into(), None));
    // Ada's first message takes it.
    writes(&gw, 60, &c1, Some(&ada)).await;
    assert_eq!(state(&gw, &c1).await, ("active".into(), Some(ada.clone())));
    // Bob is told it is Ada's, then overtakes.
    let (s, e) = act(&gw, 90, &c1, "take", json!({"member": bob})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conversation_taken"))
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("Ada"),
        "{e}"
    );
    let (s, taken) = act(
        &gw,
        100,
        &c1,
        "take",
        json!({"member": bob, "overtake": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{taken}");
    assert_eq!(taken["owner"], bob.as_str());
    // Only the owner finishes.
    let (s, _) = act(&gw, 200, &c1, "finish", json!({"member": ada})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = act(&gw, 300, &c1, "finish", json!({"member": bob})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(state(&gw, &c1).await.0, "finished");
    let (s, e) = act(&gw, 301, &c1, "finish", json!({"member": bob})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conversation_finished"))
    );
    // An unknown member is named.
    let (s, e) = act(&gw, 302, &c2, "take", json!({"member": "mem_nobody"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no conversation yet: {e}");

    // The rest of the day.
    writes(&gw, 1000, &c2, None).await;
    writes(&gw, 1120, &c2, Some(&bob)).await;
    act(&gw, 1600, &c2, "finish", json!({"member": bob})).await;
    writes(&gw, 2000, &c3, None).await;
    writes(&gw, 2030, &c3, Some(&ada)).await;
    let (s, e) = act(&gw, 2040, &c3, "take", json!({"member": "mem_nobody"})).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::NOT_FOUND, Some("member"))
    );
    // The customer of the first conversation writes again: unanswered, Bob still its owner.
    writes(&gw, 3000, &c1, None).await;
    assert_eq!(
        state(&gw, &c1).await,
        ("unanswered".into(), Some(bob.clone()))
    );

    // By hand: answers 60 s (c1, Ada), 120 s (c2, Bob), 30 s (c3, Ada); finishes 300 s (c1,
    // Bob, from the first message) and 600 s (c2, Bob); c3 is active (Ada), c1 waits.
    gw.set_clock(3600 * 1000).await;
    let (_, all) = gw.get("/v1/conversations/stats").await;
    assert_eq!(
        (
            all["finished"].as_i64(),
            all["answered"].as_i64(),
            all["active"].as_i64()
        ),
        (Some(2), Some(3), Some(1)),
        "{all}"
    );
    assert_eq!(
        all["average_response_ms"].as_i64().unwrap() / 1000,
        70,
        "{all}"
    );
    assert_eq!(
        all["average_handling_ms"].as_i64().unwrap() / 1000,
        450,
        "{all}"
    );
    let (_, a) = gw
        .get(&format!("/v1/conversations/stats?member={ada}"))
        .await;
    assert_eq!(
        (
            a["finished"].as_i64(),
            a["answered"].as_i64(),
            a["active"].as_i64()
        ),
        (Some(0), Some(2), Some(1)),
        "{a}"
    );
    assert_eq!(a["average_response_ms"].as_i64().unwrap() / 1000, 45, "{a}");
    assert!(a["average_handling_ms"].is_null(), "{a}");
    let (_, b) = gw
        .get(&format!("/v1/conversations/stats?member={bob}"))
        .await;
    assert_eq!(
        (
            b["finished"].as_i64(),
            b["answered"].as_i64(),
            b["active"].as_i64()
        ),
        (Some(2), Some(1), Some(0)),
        "{b}"
    );
    assert_eq!(
        b["average_response_ms"].as_i64().unwrap() / 1000,
        120,
        "{b}"
    );
    assert_eq!(
        b["average_handling_ms"].as_i64().unwrap() / 1000,
        450,
        "{b}"
    );
    // A window that ends before the day began holds nothing.
    let (_, none) = gw
        .get("/v1/conversations/stats?since=2000-01-01&until=2000-01-02")
        .await;
    assert_eq!(
        (none["finished"].as_i64(), none["answered"].as_i64()),
        (Some(0), Some(0)),
        "{none}"
    );

    // Listing by state and owner.
    let (_, waiting) = gw.get("/v1/conversations?state=unanswered").await;
    let ids: Vec<&str> = waiting["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![c1.as_str()], "{waiting}");
    let (_, adas) = gw
        .get(&format!("/v1/conversations?owner={ada}&state=active"))
        .await;
    assert_eq!(adas["data"][0]["contact"], c3.as_str(), "{adas}");
    let (s, _) = gw.get("/v1/conversations?state=lost").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Every transition is an event in the feed, and the history says who did what.
    let (_, events) = gw.get("/v1/events?type=conversation.overtaken").await;
    assert_eq!(
        events["data"][0]["data"]["previous_owner"],
        ada.as_str(),
        "{events}"
    );
    let (_, view) = gw.get(&format!("/v1/conversations/{c1}")).await;
    let kinds: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "taken",
            "answered",
            "overtaken",
            "finished",
            "reopened"
        ],
        "{view}"
    );
}
