//! The console's admin and agent pages over HTTP: contact edits that reach the contact API,
//! API keys shown once and revoked, webhook endpoints (deliveries, replay, rotation), and the
//! plugin page; each against what the API says.

use reqwest::StatusCode;
use serde_json::json;

use crate::console::{csrf_of, sign_in_sandbox};
use crate::support::Gateway;

#[tokio::test]
async fn an_agent_edits_a_contact_and_the_api_sees_it() {
    let gw = Gateway::start("console-contacts", &[]);
    let (s, ada) = gw
        .post_json(
            "/v1/contacts",
            &json!({"name": "Ada", "addresses": [{"kind": "phone", "address": "+14155550100"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ada}");
    let (_, bob) = gw
        .post_json(
            "/v1/contacts",
            &json!({"name": "Bob", "addresses": [{"kind": "email", "address": "bob@example.com"}]}),
        )
        .await;
    let ada_id = ada["id"].as_str().unwrap();
    let mut b = sign_in_sandbox(&gw, "admin").await;
    let page = b.get(&format!("/console/contacts/{ada_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // A phone typed as people write it, a new email, a note name.
    let saved = b
        .post(
            &format!("/console/contacts/{ada_id}"),
            &[
                ("csrf", &csrf_of(&page.body)),
                ("name", "Ada L. (VIP)"),
                ("phone", "+1 (415) 555-0199"),
                ("email", "ada@example.com"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, seen) = gw.get(&format!("/v1/contacts/{ada_id}")).await;
    assert_eq!(seen["name"], "Ada L. (VIP)", "{seen}");
    let addresses: Vec<String> = seen["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["kind"].as_str().unwrap(),
                a["address"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(addresses.len(), 2, "{seen}");
    assert!(
        addresses.contains(&"phone:+14155550199".to_string()),
        "{seen}"
    );
    assert!(
        addresses.contains(&"email:ada@example.com".to_string()),
        "{seen}"
    );
    // Found by its note name, on the page and in the API.
    let found = b.get("/console/contacts?name=vip").await;
    assert!(found.body.contains(ada_id) && !found.body.contains(bob["id"].as_str().unwrap()));
    let (_, listed) = gw.get("/v1/contacts?name=VIP").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    // `q` searches the note name and the addresses.
    for (q, who) in [
        ("0199", ada_id),
        ("BOB%40example", bob["id"].as_str().unwrap()),
        ("l.%20(vip", ada_id),
    ] {
        let (_, found) = gw.get(&format!("/v1/contacts?q={q}")).await;
        let ids: Vec<&str> = found["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![who], "q={q}: {found}");
    }
    let (_, literal) = gw.get("/v1/contacts?q=%25").await;
    assert_eq!(
        literal["data"].as_array().unwrap().len(),
        0,
        "a typed % is literal: {literal}"
    );
    // Bob's email is Bob's: refused, on the page and in the API, and nothing changes.
    let page = b.get(&format!("/console/contacts/{ada_id}")).await;
    let taken = b
        .post(
            &format!("/console/contacts/{ada_id}"),
            &[
                ("csrf", &csrf_of(&page.body)),
                ("name", "Ada L. (VIP)"),
                ("phone", "+14155550199"),
                ("email", "bob@example.com"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("belongs to contact"), "{}", taken.body);
    let (s, err) = gw
        .patch_json(
            &format!("/v1/contacts/{ada_id}"),
            &json!({"email": "bob@example.com"}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["field"].as_str()),
        (StatusCode::CONFLICT, Some("email"))
    );
    let (s, err) = gw
        .patch_json(
            &format!("/v1/contacts/{ada_id}"),
            &json!({"phone": "555-0100"}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("phone"))
    );
    // The API removes with null and leaves absent fields alone.
    let (s, after) = gw
        .patch_json(&format!("/v1/contacts/{ada_id}"), &json!({"email": null}))
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["name"], "Ada L. (VIP)");
    assert_eq!(after["addresses"].as_array().unwrap().len(), 1, "{after}");
    let (s, _) = gw
        .patch_json("/v1/contacts/ct_nobody", &json!({"name": "x"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn keys_webhooks_and_plugins_pages_act_as_the_api_does() {
    let rx = crate::receiver::Receiver::start().await;
    let allow = format!("127.0.0.1:{}", rx.port);
    let gw = Gateway::start("console-admin", &["--allow-private-net", &allow]);
    let mut b = sign_in_sandbox(&gw, "admin").await;

    // A key is shown once, works, and stops working when revoked.
    let keys = b.get("/console/keys").await;
    assert_eq!(keys.status, StatusCode::OK);
    let created = b
        .post(
            "/console/keys",
            &[
                ("csrf", &csrf_of(&keys.body)),
                ("name", "reporting"),
                ("scope:read", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let at = created.body.find("id=\"new-key\">").unwrap() + 13;
    let key = created.body[at..at + 67].to_string();
    assert!(key.starts_with("sk_"), "{key}");
    let (s, _) = gw
        .call(reqwest::Method::GET, "/v1/messages", &key, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let again = b.get("/console/keys").await;
    assert!(!again.body.contains(&key), "a key is shown once");
    let (_, listed) = gw.get("/v1/keys").await;
    let id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "reporting")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = b
        .post(
            &format!("/console/keys/{id}/revoke"),
            &[("csrf", &csrf_of(&again.body))],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let (s, _) = gw
        .call(reqwest::Method::GET, "/v1/messages", &key, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let empty = b
        .post(
            "/console/keys",
            &[("csrf", &csrf_of(&again.body)), ("name", "no scopes")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A webhook endpoint: its deliveries show, one replays, the secret rotates.
    let receiver = format!("{}/hooks", rx.url);
    let (s, endpoint) = gw
        .post_json(
            "/v1/webhook-endpoints",
            &json!({"url": receiver, "description": "ops"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let message = gw.send_sms("+14155550142", "hook me").await;
    gw.wait_for(&message, "delivered", std::time::Duration::from_secs(30))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = b.get("/console/webhooks").await;
        if page.body.contains("message.delivered") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (_, deliveries) = gw
        .get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"))
        .await;
    let event = deliveries[0]["event_id"].as_str().unwrap().to_string();
    assert!(page.body.contains(&event));
    let replayed = b
        .post(
            &format!("/console/webhooks/{endpoint_id}/replay"),
            &[("csrf", &csrf_of(&page.body)), ("event", &event)],
        )
        .await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER);
    let (_, after) = gw
        .get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"))
        .await;
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["event_id"] == event && d["replay"] == true),
        "{after}"
    );
    let rotated = b
        .post(
            &format!("/console/webhooks/{endpoint_id}/rotate"),
            &[("csrf", &csrf_of(&page.body))],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let at = rotated.body.find("id=\"new-secret\">").unwrap() + 16;
    assert!(rotated.body[at..].starts_with("whsec_"), "{}", rotated.body);

    // The plugin page lists what /v1/plugins lists, and the policies.
    let plugins = b.get("/console/plugins").await;
    assert_eq!(plugins.status, StatusCode::OK);
    let (_, api) = gw.get("/v1/plugins").await;
    for p in api["data"].as_array().unwrap() {
        let row = format!("id=\"plugin-{}\"", p["name"].as_str().unwrap());
        assert!(plugins.body.contains(&row), "{row}");
        assert!(plugins.body.contains(p["version"].as_str().unwrap()));
    }
    assert!(
        plugins.body.contains("follow-up"),
        "the built-in policy is listed"
    );

    // The billing role opens none of these.
    let mut billing = sign_in_sandbox(&gw, "billing").await;
    for path in [
        "/console/keys",
        "/console/webhooks",
        "/console/plugins",
        "/console/connections",
        "/console/contacts",
    ] {
        assert_eq!(
            billing.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}

/// An admin of another workspace sees none of the sandbox's rows and can act on none of them.
#[tokio::test]
async fn another_workspaces_admin_sees_and_touches_nothing_here() {
    let gw = Gateway::start("console-tenants", &[]);
    let message = gw.send_sms("+14155550166", "sandbox only").await;
    let (_, ada) = gw
        .post_json(
            "/v1/contacts",
            &json!({"name": "Ada", "addresses": [{"kind": "phone", "address": "+14155550167"}]}),
        )
        .await;
    let ada = ada["id"].as_str().unwrap().to_string();
    let (_, keys) = gw.get("/v1/keys").await;
    let key_id = keys[0]["id"].as_str().unwrap().to_string();
    let conn = switchboard_gateway::sandbox_setup::connection_id("twilio-sms");

    let (_, other_key) = gw.new_workspace("other").await;
    crate::console::member(&gw, &other_key, "eve@other.test", "admin", "Eve").await;
    let mut eve = crate::console::Browser::new(&gw);
    let login = eve.get("/console/login").await;
    let signed = eve
        .post(
            "/console/login",
            &[
                ("csrf", &csrf_of(&login.body)),
                ("email", "eve@other.test"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    for path in [
        "/console/messages",
        "/console/contacts",
        "/console/connections",
        "/console/keys",
    ] {
        let page = eve.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for foreign in [&message, &ada, &conn, &key_id] {
            assert!(
                !page.body.contains(foreign.as_str()),
                "{path} shows {foreign}"
            );
        }
    }
    assert_eq!(
        eve.get(&format!("/console/messages/{message}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        eve.get(&format!("/console/contacts/{ada}")).await.status,
        StatusCode::NOT_FOUND
    );
    let csrf = csrf_of(&eve.get("/console/keys").await.body);
    for path in [
        format!("/console/keys/{key_id}/revoke"),
        format!("/console/connections/{conn}/disable"),
    ] {
        assert_eq!(
            eve.post(&path, &[("csrf", &csrf)]).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let edit = eve
        .post(
            &format!("/console/contacts/{ada}"),
            &[("csrf", &csrf), ("name", "stolen")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    let (_, still) = gw.get(&format!("/v1/contacts/{ada}")).await;
    assert_eq!(still["name"], "Ada");
    let (_, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(c["status"], "active");
}

/// Signed in as a member (the e2e invitation password).
async fn signed_in(gw: &Gateway, email: &str) -> crate::console::Browser {
    let mut b = crate::console::Browser::new(gw);
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
async fn agents_take_overtake_and_finish_conversations_as_themselves() {
    let gw = Gateway::start("console-conversations", &[]);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let bob = crate::console::joined(&gw, "bob@example.com", "agent", "Bob").await;
    let (_, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": "+14155550601"}]}),
        )
        .await;
    let contact = c["id"].as_str().unwrap().to_string();
    gw.post_json(
        &format!("/v1/conversations/{contact}/messages"),
        &json!({"author": "customer", "text": "hello?"}),
    )
    .await;
    let (_, conv) = gw.get(&format!("/v1/conversations/{contact}")).await;
    let conv = conv["id"].as_str().unwrap().to_string();

    let mut a = signed_in(&gw, "ada@example.com").await;
    let page = a.get("/console/conversations?state=unanswered").await;
    assert!(page.body.contains(&conv), "{}", page.body);
    let took = a
        .post(
            &format!("/console/conversations/{conv}/take"),
            &[("csrf", &csrf_of(&page.body))],
        )
        .await;
    assert_eq!(took.status, StatusCode::SEE_OTHER);
    let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(
        (v["state"].as_str(), v["owner"].as_str()),
        (Some("active"), Some(ada.as_str()))
    );

    // Bob is warned first, then overtakes.
    let mut b = signed_in(&gw, "bob@example.com").await;
    let page = b.get("/console/conversations").await;
    let warned = b
        .post(
            &format!("/console/conversations/{conv}/take"),
            &[("csrf", &csrf_of(&page.body))],
        )
        .await;
    assert_eq!(warned.status, StatusCode::SEE_OTHER);
    let location = warned.headers["location"].to_str().unwrap().to_string();
    assert!(location.contains("taken="), "{location}");
    let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(v["owner"], ada.as_str(), "the warning changed nothing");
    let confirm = b.get(&location).await;
    assert!(
        confirm.body.contains("confirm-overtake"),
        "{}",
        confirm.body
    );
    let over = b
        .post(
            &format!("/console/conversations/{conv}/take"),
            &[("csrf", &csrf_of(&confirm.body)), ("overtake", "on")],
        )
        .await;
    assert_eq!(over.status, StatusCode::SEE_OTHER);
    let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(v["owner"], bob.as_str());
    // Ada may not finish it now; Bob does.
    let page = a.get("/console/conversations").await;
    let refused = a
        .post(
            &format!("/console/conversations/{conv}/finish"),
            &[("csrf", &csrf_of(&page.body))],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let page = b.get("/console/conversations?mine=on").await;
    assert!(page.body.contains(&conv));
    let done = b
        .post(
            &format!("/console/conversations/{conv}/finish"),
            &[("csrf", &csrf_of(&page.body))],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let (_, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(v["state"], "finished");
    let kinds: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opened", "taken", "overtaken", "finished"], "{v}");
}
