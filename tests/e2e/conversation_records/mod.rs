//! Conversation records over HTTP, with the sandbox clock: message counts and first response
//! times against figures computed by hand, reception filters, the dashboard's totals and
//! tags; a member's data scope and how their lists name a contact are in [`scope`].

mod scope;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::joined;
use crate::support::Gateway;

pub(super) use crate::conversations::contact;

/// At script time `at_s` (seconds past the start), `who` writes to the contact.
pub(super) async fn writes(gw: &Gateway, at_s: i64, contact: &str, who: Option<&str>) {
    let (s, b) = crate::conversations::writes(gw, at_s, contact, who).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

pub(super) fn contacts_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|c| c["contact"].as_str().unwrap().to_string())
        .collect()
}

pub(super) fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

pub(super) fn record<'a>(page: &'a Value, contact: &str) -> &'a Value {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact"] == contact)
        .unwrap_or_else(|| panic!("{contact} in {page}"))
}

#[tokio::test]
async fn counts_first_responses_receptions_totals_and_tags() {
    let gw = Gateway::start("conversation-records", &[]);
    let ada = joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = joined(&gw, "bob@example.com", "agent", "Bob").await;
    let (c1, c2, c3) = (
        contact(&gw, "+14155550111").await,
        contact(&gw, "+14155550112").await,
        contact(&gw, "+14155550113").await,
    );
    // c1: the visitor writes at 0 and 30 s; Ada answers at 90 s (taking it: she received
    // it); the visitor writes at 100 s; Ada at 120 s; a bot message at no cost to either.
    writes(&gw, 0, &c1, None).await;
    writes(&gw, 30, &c1, None).await;
    writes(&gw, 90, &c1, Some(&ada)).await;
    writes(&gw, 100, &c1, None).await;
    writes(&gw, 120, &c1, Some(&ada)).await;
    // c2: the visitor at 200 s; Bob takes it at 260 s and answers at 300 s.
    writes(&gw, 200, &c2, None).await;
    gw.set_clock(260_000).await;
    let (s, b) = gw
        .post_json(
            &format!("/v1/conversations/{c2}/take"),
            &json!({"member": bob}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    writes(&gw, 300, &c2, Some(&bob)).await;
    // c3: the visitor only.
    writes(&gw, 400, &c3, None).await;

    let (s, page) = gw.get("/v1/conversations").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let r1 = record(&page, &c1);
    assert_eq!(
        (
            r1["message_count"].as_i64(),
            r1["visitor_messages"].as_i64(),
            r1["agent_messages"].as_i64()
        ),
        (Some(5), Some(3), Some(2)),
        "{r1}"
    );
    // By hand: the wait began at 0 s and Ada's first answer came at 90 s.
    assert_eq!(r1["first_response_ms"].as_i64().unwrap() / 1000, 90, "{r1}");
    assert_eq!(r1["received_by"], json!(ada), "{r1}");
    let r2 = record(&page, &c2);
    assert_eq!(
        (
            r2["message_count"].as_i64(),
            r2["visitor_messages"].as_i64(),
            r2["agent_messages"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{r2}"
    );
    // Taking is not answering: the first response is Bob's message at 300 s, 100 s on.
    assert_eq!(
        r2["first_response_ms"].as_i64().unwrap() / 1000,
        100,
        "{r2}"
    );
    assert_eq!(r2["received_by"], json!(bob), "{r2}");
    let r3 = record(&page, &c3);
    assert_eq!(r3["message_count"], 1, "{r3}");
    assert!(r3.get("first_response_ms").is_none(), "{r3}");
    assert!(r3.get("received_by").is_none(), "{r3}");
    // The received times are 170 s apart.
    let at = |r: &Value| {
        humantime::parse_rfc3339(r["received_at"].as_str().unwrap())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    assert_eq!((at(r2) - at(r1)) / 1000, 170, "{r1} {r2}");
    // The record view carries the same figures.
    let (_, one) = gw.get(&format!("/v1/conversations/{c1}")).await;
    assert_eq!(one["message_count"], 5, "{one}");
    assert_eq!(one["received_by"], json!(ada), "{one}");
    // ... and is found by the conversation's own id too.
    let conv1 = r1["id"].as_str().unwrap();
    let (s, by_id) = gw.get(&format!("/v1/conversations/{conv1}")).await;
    assert_eq!(
        (s, by_id["contact"].as_str()),
        (StatusCode::OK, Some(c1.as_str()))
    );

    // Filters: by the receiving member, and by reception time.
    let (_, adas) = gw
        .get(&format!("/v1/conversations?received_by={ada}"))
        .await;
    assert_eq!(contacts_of(&adas), vec![c1.clone()]);
    let since = urlencode(r2["received_at"].as_str().unwrap());
    let (_, later) = gw
        .get(&format!("/v1/conversations?received_since={since}"))
        .await;
    assert_eq!(contacts_of(&later), vec![c2.clone()]);
    let (_, earlier) = gw
        .get(&format!("/v1/conversations?received_until={since}"))
        .await;
    assert_eq!(contacts_of(&earlier), vec![c1.clone()]);
    let (s, e) = gw.get("/v1/conversations?received_since=yesterday").await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("received_since")),
        "{e}"
    );

    // The dashboard: Ada finishes c1.
    gw.set_clock(500_000).await;
    let (s, b) = gw
        .post_json(
            &format!("/v1/conversations/{c1}/finish"),
            &json!({"member": ada}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, totals) = gw.get("/v1/conversations/summary").await;
    assert_eq!(totals, json!({"ongoing": 2, "ended": 1, "total": 3}));
    let (_, bobs) = gw
        .get(&format!("/v1/conversations/summary?received_by={bob}"))
        .await;
    assert_eq!(bobs, json!({"ongoing": 1, "ended": 0, "total": 1}));

    // Tags: the catalogue, then on conversations, then the filter.
    let (s, vip) = gw
        .post_json(
            "/v1/conversation-tags",
            &json!({"name": "vip", "color": "#d97706"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{vip}");
    let (s, e) = gw
        .post_json("/v1/conversation-tags", &json!({"name": "vip"}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate_tag"))
    );
    let (s, e) = gw
        .post_json(
            "/v1/conversation-tags",
            &json!({"name": "x", "color": "red"}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("color"))
    );
    gw.post_json("/v1/conversation-tags", &json!({"name": "refund"}))
        .await;
    let (s, tagged) = gw
        .post_json(
            &format!("/v1/conversations/{c2}/tags"),
            &json!({"tags": ["vip", "refund"]}),
        )
        .await;
    assert_eq!(
        (s, &tagged["tags"]),
        (StatusCode::OK, &json!(["refund", "vip"]))
    );
    gw.post_json(
        &format!("/v1/conversations/{c3}/tags"),
        &json!({"tags": ["refund"]}),
    )
    .await;
    let (s, e) = gw
        .post_json(
            &format!("/v1/conversations/{c3}/tags"),
            &json!({"tags": ["nope"]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unknown_reference"),
            Some("tags")
        )
    );
    let (_, vips) = gw.get("/v1/conversations?tag=vip").await;
    assert_eq!(contacts_of(&vips), vec![c2.clone()]);
    let (_, refunds) = gw.get("/v1/conversations?tag=refund").await;
    assert_eq!(contacts_of(&refunds), vec![c2.clone(), c3.clone()]);
    let (_, refund_totals) = gw.get("/v1/conversations/summary?tag=refund").await;
    assert_eq!(refund_totals["total"], 2, "{refund_totals}");
    // A rename follows the tag onto its conversations; the count is the catalogue's.
    let vip_id = vip["id"].as_str().unwrap();
    let (s, gold) = gw
        .patch_json(
            &format!("/v1/conversation-tags/{vip_id}"),
            &json!({"name": "gold"}),
        )
        .await;
    assert_eq!(
        (s, gold["conversations"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{gold}"
    );
    assert_eq!(gold["color"], "#d97706", "left-out fields stay: {gold}");
    let (_, golds) = gw.get("/v1/conversations?tag=gold").await;
    assert_eq!(contacts_of(&golds), vec![c2.clone()]);
    let (_, none) = gw.get("/v1/conversations?tag=vip").await;
    assert!(contacts_of(&none).is_empty(), "{none}");
    // Off one conversation, then out of the catalogue (and off every conversation).
    let (s, left) = gw
        .call(
            Method::DELETE,
            &format!("/v1/conversations/{c3}/tags/refund"),
            &gw.key,
            None,
        )
        .await;
    assert_eq!((s, &left["tags"]), (StatusCode::OK, &json!([])));
    let (s, _) = gw
        .call(
            Method::DELETE,
            &format!("/v1/conversations/{c3}/tags/refund"),
            &gw.key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        gw.delete(&format!("/v1/conversation-tags/{vip_id}")).await,
        StatusCode::NO_CONTENT
    );
    let (_, r2) = gw.get(&format!("/v1/conversations/{c2}")).await;
    assert_eq!(r2["tags"], json!(["refund"]), "{r2}");
    let (_, catalogue) = gw.get("/v1/conversation-tags").await;
    let names: Vec<&str> = catalogue
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["refund"]);
    // Only admins manage the catalogue.
    let (_, send_only) = gw
        .post_json(
            "/v1/keys",
            &json!({"name": "app", "scopes": ["send", "read"]}),
        )
        .await;
    let (s, _) = gw
        .call(
            Method::POST,
            "/v1/conversation-tags",
            send_only["key"].as_str().unwrap(),
            Some(&json!({"name": "spam"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
