//! What a member sees: a data scope of `own` through API keys that act as them and through
//! the console, and how their lists name a contact.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{contact, contacts_of, ids_of, record, writes};
use crate::console::{Browser, csrf_of, joined};
use crate::support::Gateway;

/// A key that acts as `member`, with `scopes`.
async fn member_key(gw: &Gateway, member: &str, scopes: Value) -> String {
    let (s, k) = gw
        .post_json(
            "/v1/keys",
            &json!({"name": format!("key of {member}"), "scopes": scopes, "member": member}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    assert_eq!(k["member"], member, "{k}");
    k["key"].as_str().unwrap().to_string()
}

async fn get_as(gw: &Gateway, key: &str, path: &str) -> (StatusCode, Value) {
    gw.call(Method::GET, path, key, None).await
}

async fn sign_in(gw: &Gateway, email: &str) -> Browser {
    let mut b = Browser::new(gw);
    let login = b.get("/console/login").await;
    let signed = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf_of(&login.body)),
                ("email", email),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    b
}

#[tokio::test]
async fn a_member_with_own_data_sees_only_their_conversations_everywhere() {
    let gw = Gateway::start("data-scope", &[]);
    let ada = joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = joined(&gw, "bob@example.com", "agent", "Bob").await;
    let eve = joined(&gw, "eve@example.com", "admin", "Eve").await;
    let (c1, c2, c3) = (
        contact(&gw, "+14155550121").await,
        contact(&gw, "+14155550122").await,
        contact(&gw, "+14155550123").await,
    );
    // Ada receives c1, Bob c2; c3 waits for anyone.
    writes(&gw, 0, &c1, None).await;
    writes(&gw, 10, &c1, Some(&ada)).await;
    writes(&gw, 20, &c2, None).await;
    writes(&gw, 30, &c2, Some(&bob)).await;
    writes(&gw, 40, &c3, None).await;
    // A message to each contact, through the SMS channel.
    let m1 = gw.send_sms("+14155550121", "for c1").await;
    let m2 = gw.send_sms("+14155550122", "for c2").await;

    // Ada sees only her own; Eve too, but she is an admin; Bob sees everything.
    for m in [&ada, &eve] {
        let (s, v) = gw
            .patch_json(&format!("/v1/members/{m}"), &json!({"data_scope": "own"}))
            .await;
        assert_eq!(
            (s, v["data_scope"].as_str()),
            (StatusCode::OK, Some("own")),
            "{v}"
        );
    }
    let (s, e) = gw
        .patch_json(
            &format!("/v1/members/{ada}"),
            &json!({"data_scope": "mine"}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("data_scope")),
        "{e}"
    );
    let ada_key = member_key(&gw, &ada, json!(["read", "send"])).await;
    let bob_key = member_key(&gw, &bob, json!(["read"])).await;
    let eve_key = member_key(&gw, &eve, json!(["read", "admin"])).await;
    // A key holds no scope its member's role does not give.
    let (s, e) = gw
        .post_json(
            "/v1/keys",
            &json!({"name": "too much", "scopes": ["read", "admin"], "member": ada}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("scopes")),
        "{e}"
    );
    let (s, e) = gw
        .post_json(
            "/v1/keys",
            &json!({"name": "nobody", "scopes": ["read"], "member": "mem_nobody"}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_reference")),
        "{e}"
    );

    // The list, the record, the summary, the stats.
    let (_, list) = get_as(&gw, &ada_key, "/v1/conversations").await;
    assert_eq!(contacts_of(&list), vec![c1.clone()]);
    let (s, _) = get_as(&gw, &ada_key, &format!("/v1/conversations/{c1}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = get_as(&gw, &ada_key, &format!("/v1/conversations/{c2}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = get_as(&gw, &ada_key, &format!("/v1/conversations/{c3}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, totals) = get_as(&gw, &ada_key, "/v1/conversations/summary").await;
    assert_eq!(totals["total"], 1, "{totals}");
    gw.set_clock(60_000).await;
    let (_, stats) = get_as(&gw, &ada_key, "/v1/conversations/stats").await;
    assert_eq!(
        (stats["member"].as_str(), stats["answered"].as_i64()),
        (Some(ada.as_str()), Some(1)),
        "{stats}"
    );
    let (s, e) = get_as(
        &gw,
        &ada_key,
        &format!("/v1/conversations/stats?member={bob}"),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope")),
        "{e}"
    );
    let (_, everyone) = gw.get("/v1/conversations/stats").await;
    assert_eq!(everyone["answered"], 2, "{everyone}");
    // Messages and contacts follow the conversations.
    let (_, msgs) = get_as(&gw, &ada_key, "/v1/messages").await;
    assert_eq!(ids_of(&msgs), vec![m1.clone()]);
    let (s, _) = get_as(&gw, &ada_key, &format!("/v1/messages/{m2}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get_as(&gw, &ada_key, &format!("/v1/messages/{m1}")).await;
    assert_eq!(s, StatusCode::OK);
    let (_, contacts) = get_as(&gw, &ada_key, "/v1/contacts").await;
    assert_eq!(ids_of(&contacts), vec![c1.clone()]);
    let (s, _) = get_as(&gw, &ada_key, &format!("/v1/contacts/{c2}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get_as(&gw, &ada_key, &format!("/v1/contacts/{c2}/messages")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Taking c3 makes it hers: she received it.
    let (s, b) = gw
        .call(
            Method::POST,
            &format!("/v1/conversations/{c3}/take"),
            &ada_key,
            Some(&json!({"member": ada})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, list) = get_as(&gw, &ada_key, "/v1/conversations").await;
    assert_eq!(contacts_of(&list), vec![c1.clone(), c3.clone()]);

    // Bob (all) and Eve (an admin, whatever her scope) see everything.
    for key in [&bob_key, &eve_key] {
        let (_, list) = get_as(&gw, key, "/v1/conversations").await;
        assert_eq!(contacts_of(&list).len(), 3, "{list}");
        let (_, msgs) = get_as(&gw, key, "/v1/messages").await;
        assert_eq!(ids_of(&msgs).len(), 2, "{msgs}");
    }

    // The console applies the same rule.
    let mut b = sign_in(&gw, "ada@example.com").await;
    let page = b.get("/console/conversations").await;
    assert_eq!(page.status, StatusCode::OK);
    let conv2 = record(&list_all(&gw).await, &c2)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !page.body.contains(&conv2),
        "Bob's conversation shows for Ada"
    );
    assert!(
        page.body.contains("id=\"totals-total\">2<"),
        "{}",
        page.body
    );
    assert_eq!(
        b.get(&format!("/console/contacts/{c2}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(&format!("/console/contacts/{c1}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get(&format!("/console/messages/{m2}")).await.status,
        StatusCode::NOT_FOUND
    );
    let msgs = b.get("/console/messages").await;
    assert!(
        msgs.body.contains(&m1) && !msgs.body.contains(&m2),
        "{}",
        msgs.body
    );
    let mut bb = sign_in(&gw, "bob@example.com").await;
    let page = bb.get("/console/conversations").await;
    assert!(page.body.contains(&conv2), "{}", page.body);

    // A member's keys go with them.
    let (s, _) = get_as(&gw, &bob_key, "/v1/conversations").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        gw.delete(&format!("/v1/members/{bob}")).await,
        StatusCode::NO_CONTENT
    );
    let (s, _) = get_as(&gw, &bob_key, "/v1/conversations").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, keys) = gw.get("/v1/keys").await;
    let bobs = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["member"] == bob)
        .unwrap();
    assert!(bobs["revoked_at"].is_string(), "{bobs}");
}

async fn list_all(gw: &Gateway) -> Value {
    gw.get("/v1/conversations").await.1
}

#[tokio::test]
async fn each_member_names_contacts_their_own_way() {
    let gw = Gateway::start("list-label", &[]);
    let ada = joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = joined(&gw, "bob@example.com", "agent", "Bob").await;
    let c1 = contact(&gw, "+14155550131").await;
    writes(&gw, 0, &c1, None).await;
    let (s, b) = gw
        .patch_json(
            &format!("/v1/contacts/{c1}"),
            &json!({"name": "Grace <VIP>"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Bob wants the visitor label first; Ada keeps the default, the note name.
    let (_, prefs) = gw.get(&format!("/v1/members/{bob}/preferences")).await;
    assert_eq!(prefs["list_label"], "note_name", "{prefs}");
    let mut changed = prefs.clone();
    changed["list_label"] = json!("visitor_label");
    let (s, saved) = gw
        .call(
            Method::PUT,
            &format!("/v1/members/{bob}/preferences"),
            &gw.key,
            Some(&changed),
        )
        .await;
    assert_eq!(
        (s, saved["list_label"].as_str()),
        (StatusCode::OK, Some("visitor_label"))
    );
    let ada_key = member_key(&gw, &ada, json!(["read"])).await;
    let bob_key = member_key(&gw, &bob, json!(["read"])).await;
    let (_, as_ada) = get_as(&gw, &ada_key, "/v1/conversations").await;
    assert_eq!(record(&as_ada, &c1)["display_name"], "Grace <VIP>");
    let (_, as_bob) = get_as(&gw, &bob_key, "/v1/conversations").await;
    assert_eq!(record(&as_bob, &c1)["display_name"], "+14155550131");
    let (_, one) = get_as(&gw, &bob_key, &format!("/v1/conversations/{c1}")).await;
    assert_eq!(one["display_name"], "+14155550131");
    // A workspace key names by note name.
    let (_, as_app) = gw.get("/v1/conversations").await;
    assert_eq!(record(&as_app, &c1)["display_name"], "Grace <VIP>");
    // And so do their consoles, escaped.
    let mut a = sign_in(&gw, "ada@example.com").await;
    let page = a.get("/console/conversations").await;
    assert!(page.body.contains("Grace &#60;VIP&#62;"), "{}", page.body);
    assert!(!page.body.contains("Grace <VIP>"));
    // Ada changes her own choice in the console; Bob's list is not hers to change.
    let saved = a
        .post(
            "/console/conversations/list-label",
            &[
                ("csrf", &csrf_of(&page.body)),
                ("list_label", "visitor_label"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let forged = a
        .post(
            "/console/conversations/list-label",
            &[("csrf", "forged"), ("list_label", "note_name")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let (_, as_ada) = get_as(&gw, &ada_key, "/v1/conversations").await;
    assert_eq!(record(&as_ada, &c1)["display_name"], "+14155550131");
    let mut b = sign_in(&gw, "bob@example.com").await;
    let page = b.get("/console/conversations").await;
    assert!(
        page.body.contains("class=\"display-name\">+14155550131<"),
        "{}",
        page.body
    );
}
