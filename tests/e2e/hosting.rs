//! Bot hosting over HTTP: batch switches by id and on every assigned conversation, counted
//! against a scripted set of conversations by hand; the history of who switched what when;
//! the signed `conversation.hosting_changed` events a webhook endpoint receives; bad input
//! refused by field with nothing changed; and the workspace's `hosting_default`.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::outbound_webhooks::{endpoint, gateway_now_s, verify_received};
use crate::receiver::Receiver;
use crate::support::Gateway;

async fn contact(gw: &Gateway, phone: &str) -> String {
    let (s, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn customer_writes(gw: &Gateway, contact: &str) {
    let (s, b) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/messages"),
            &json!({"author": "customer", "text": "hello?"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn act(gw: &Gateway, contact: &str, action: &str, member: &str) {
    let (s, b) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/{action}"),
            &json!({"member": member}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{action}: {b}");
}

async fn switch(gw: &Gateway, body: Value) -> (StatusCode, Value) {
    gw.post_json("/v1/conversations/hosting", &body).await
}

async fn changed(gw: &Gateway, body: Value) -> i64 {
    let (s, b) = switch(gw, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}: {b}");
    b["changed"].as_i64().unwrap()
}

/// Each contact's conversation's `hosted`, as the list shows it.
async fn hosted(gw: &Gateway, contacts: &[&String]) -> Vec<bool> {
    let (_, page) = gw.get("/v1/conversations?limit=200").await;
    contacts
        .iter()
        .map(|c| {
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["contact"] == c.as_str())
                .unwrap_or_else(|| panic!("{c} listed: {page}"))["hosted"]
                .as_bool()
                .unwrap()
        })
        .collect()
}

async fn hosting_events(gw: &Gateway) -> usize {
    let (_, events) = gw
        .get("/v1/events?type=conversation.hosting_changed&limit=200")
        .await;
    events["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn batch_and_all_assigned_switches_count_record_and_announce_changes() {
    let rx = Receiver::start().await;
    let allow = format!("127.0.0.1:{}", rx.port);
    let gw = Gateway::start("hosting", &["--allow-private-net", &allow]);
    let (_, secret) = endpoint(
        &gw,
        &format!("{}/hooks", rx.url),
        json!(["conversation.hosting_changed"]),
    )
    .await;
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = crate::console::joined(&gw, "bob@example.com", "agent", "Bob").await;
    let mut cs = Vec::new();
    for i in 1..=5 {
        let c = contact(&gw, &format!("+1415555030{i}")).await;
        customer_writes(&gw, &c).await;
        cs.push(c);
    }
    let [c1, c2, c3, c4, c5] = [&cs[0], &cs[1], &cs[2], &cs[3], &cs[4]];
    // c1: Ada's, active. c2: nobody's. c3: Bob's, finished. c4: Bob's, active. c5: Bob
    // finished it and the customer wrote again: unanswered, still Bob's.
    act(&gw, c1, "take", &ada).await;
    act(&gw, c3, "take", &bob).await;
    act(&gw, c3, "finish", &bob).await;
    act(&gw, c4, "take", &bob).await;
    act(&gw, c5, "take", &bob).await;
    act(&gw, c5, "finish", &bob).await;
    customer_writes(&gw, c5).await;
    assert_eq!(hosted(&gw, &[c1, c2, c3, c4, c5]).await, [false; 5]);

    // By ids, as Ada: c4 by its contact, c2 by its conversation id. Twice: the second time
    // nothing differs.
    let (_, v2) = gw.get(&format!("/v1/conversations/{c2}")).await;
    let conv2 = v2["id"].as_str().unwrap().to_string();
    assert_eq!(v2["hosted"], false, "{v2}");
    gw.set_clock(60_000).await;
    let by_ids = json!({"ids": [c4, conv2], "hosted": true, "member": ada});
    assert_eq!(changed(&gw, by_ids.clone()).await, 2);
    assert_eq!(changed(&gw, by_ids).await, 0);
    // The same conversation named twice changes once.
    assert_eq!(
        changed(&gw, json!({"ids": [c2, conv2], "hosted": true})).await,
        0
    );

    // Every assigned one (an owner, not finished: c1, c4, c5), by the API: c4 already is.
    gw.set_clock(120_000).await;
    assert_eq!(
        changed(
            &gw,
            json!({"all_assigned": true, "hosted": true, "member": null})
        )
        .await,
        2
    );
    assert_eq!(
        hosted(&gw, &[c1, c2, c3, c4, c5]).await,
        [true, true, false, true, true]
    );
    // Agents come online, Bob switches the assigned ones off: c2 (nobody's) stays hosted.
    gw.set_clock(180_000).await;
    assert_eq!(
        changed(
            &gw,
            json!({"all_assigned": true, "hosted": false, "member": bob})
        )
        .await,
        3
    );
    assert_eq!(
        changed(&gw, json!({"ids": [c2, c3], "hosted": false})).await,
        1
    );
    assert_eq!(hosted(&gw, &[c1, c2, c3, c4, c5]).await, [false; 5]);

    // c4's history: who switched it, how and when (by the gateway's clock, 2 minutes apart).
    let (_, v4) = gw.get(&format!("/v1/conversations/{c4}")).await;
    assert_eq!(v4["hosted"], false, "{v4}");
    let h = v4["hosting"].as_array().unwrap();
    let who: Vec<(bool, Option<&str>, &str)> = h
        .iter()
        .map(|e| {
            (
                e["hosted"].as_bool().unwrap(),
                e["member"].as_str(),
                e["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            (true, Some(ada.as_str()), "member"),
            (false, Some(bob.as_str()), "member")
        ],
        "{v4}"
    );
    let at = |e: &Value| humantime::parse_rfc3339(e["at"].as_str().unwrap()).unwrap();
    let apart = at(&h[1]).duration_since(at(&h[0])).unwrap().as_secs();
    assert!((115..=180).contains(&apart), "{apart} s apart: {v4}");
    let (_, v1) = gw.get(&format!("/v1/conversations/{c1}")).await;
    let by: Vec<&str> = v1["hosting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["api", "member"], "{v1}");
    assert!(v1["hosting"][0].get("member").is_none(), "{v1}");

    // One signed event per change: 2 + 2 + 3 + 1. Delivery is at least once (a jump of the
    // sandbox clock can make an attempt in flight look overdue), so the receiver counts
    // events by `webhook-id`, as the docs tell receivers to.
    assert_eq!(hosting_events(&gw).await, 8);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = rx.received();
        let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
        if ids.len() >= 8 || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut seen = HashSet::new();
    let mut on_c4 = Vec::new();
    for r in &got {
        assert!(
            verify_received(&secret, r, gateway_now_s(180_000)),
            "bad signature: {r:?}"
        );
        let v = r.json();
        assert_eq!(v["type"], "conversation.hosting_changed", "{v}");
        if seen.insert(r.header("webhook-id").to_string()) && v["data"]["contact_id"] == c4.as_str()
        {
            on_c4.push(v["data"].clone());
        }
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(on_c4.len(), 2, "{on_c4:?}");
    let first = on_c4
        .iter()
        .find(|d| d["hosted"] == true)
        .expect("switched on");
    assert_eq!(first["member"], ada.as_str());
    assert_eq!(first["by"], "member");
    assert_eq!(first["conversation_id"], v4["id"]);
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let gw = Gateway::start("hosting-bad-input", &[]);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let c1 = contact(&gw, "+14155550311").await;
    customer_writes(&gw, &c1).await;
    act(&gw, &c1, "take", &ada).await;
    let c2 = contact(&gw, "+14155550312").await; // no conversation yet
    let too_many: Vec<String> = (0..1001).map(|_| c1.clone()).collect();
    let cases = [
        (
            json!({"ids": [c1, "conv_nowhere"], "hosted": true}),
            StatusCode::NOT_FOUND,
            "ids[1]",
        ),
        (
            json!({"ids": [c1, c2], "hosted": true}),
            StatusCode::NOT_FOUND,
            "ids[1]",
        ),
        (
            json!({"ids": [c1], "hosted": true, "member": "mem_nobody"}),
            StatusCode::NOT_FOUND,
            "member",
        ),
        (
            json!({"all_assigned": true, "hosted": true, "member": "mem_nobody"}),
            StatusCode::NOT_FOUND,
            "member",
        ),
        (
            json!({"ids": [], "hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ids",
        ),
        (
            json!({"ids": too_many, "hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ids",
        ),
        (
            json!({"ids": [c1], "all_assigned": true, "hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "all_assigned",
        ),
        (
            json!({"all_assigned": false, "hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "all_assigned",
        ),
        (
            json!({"hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ids",
        ),
        (
            json!({"ids": null, "hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ids",
        ),
        (
            json!({"ids": [c1], "all_assigned": null, "hosted": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "all_assigned",
        ),
        (json!({"ids": [c1]}), StatusCode::BAD_REQUEST, "hosted"),
        (
            json!({"ids": [c1, 7], "hosted": true}),
            StatusCode::BAD_REQUEST,
            "ids[1]",
        ),
        (
            json!({"ids": [c1], "hosted": "yes"}),
            StatusCode::BAD_REQUEST,
            "hosted",
        ),
        (
            json!({"ids": [c1], "hosted": true, "owner": ada}),
            StatusCode::BAD_REQUEST,
            "owner",
        ),
    ];
    for (body, status, field) in cases {
        let (s, e) = switch(&gw, body.clone()).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}: {e}"
        );
        assert!(e["error"]["code"].is_string() && e["error"]["message"].is_string());
    }
    assert_eq!(hosted(&gw, &[&c1]).await, [false]);
    let (_, v1) = gw.get(&format!("/v1/conversations/{c1}")).await;
    assert_eq!(v1["hosting"], json!([]), "{v1}");
    assert_eq!(hosting_events(&gw).await, 0);
    // A read key may not switch: the send scope, as taking and finishing.
    let (_, key) = gw
        .post_json("/v1/keys", &json!({"name": "reader", "scopes": ["read"]}))
        .await;
    let (s, _) = gw
        .call(
            reqwest::Method::POST,
            "/v1/conversations/hosting",
            key["key"].as_str().unwrap(),
            Some(&json!({"all_assigned": true, "hosted": true})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn hosting_default_applies_to_new_conversations() {
    let gw = Gateway::start("hosting-default", &[]);
    let (_, ws) = gw.get("/v1/workspace").await;
    assert_eq!(ws["hosting_default"], false, "{ws}");
    let before = contact(&gw, "+14155550321").await;
    customer_writes(&gw, &before).await;

    let (s, ws) = gw
        .patch_json("/v1/workspace", &json!({"hosting_default": true}))
        .await;
    assert_eq!((s, &ws["hosting_default"]), (StatusCode::OK, &json!(true)));
    let (s, e) = gw
        .patch_json("/v1/workspace", &json!({"hosting_default": "on"}))
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("hosting_default"))
    );
    let during = contact(&gw, "+14155550322").await;
    customer_writes(&gw, &during).await;
    // An agent's opener starts a conversation too.
    let agent_first = contact(&gw, "+14155550323").await;
    let (s, _) = gw
        .post_json(
            &format!("/v1/conversations/{agent_first}/messages"),
            &json!({"author": "agent", "text": "hi there"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (_, ws) = gw
        .patch_json("/v1/workspace", &json!({"hosting_default": null}))
        .await;
    assert_eq!(ws["hosting_default"], false, "{ws}");
    let after = contact(&gw, "+14155550324").await;
    customer_writes(&gw, &after).await;

    assert_eq!(
        hosted(&gw, &[&before, &during, &agent_first, &after]).await,
        [false, true, true, false]
    );
    // Starting hosted is no switch: no history, no event.
    let (_, v) = gw.get(&format!("/v1/conversations/{during}")).await;
    assert_eq!((&v["hosted"], &v["hosting"]), (&json!(true), &json!([])));
    assert_eq!(hosting_events(&gw).await, 0);
}
