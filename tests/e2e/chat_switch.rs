//! The two-way chat switch over real HTTP, with customers writing through the Messenger
//! simulator: on a `one_way` page a customer's message opens no conversation and starts no
//! automation, is kept as the contact's `inbound_refused` event with what it said, and gets
//! the page's auto-reply once in 24 hours (two messages at once get one, at the simulator);
//! sends still go out; back on `two_way` the next message opens the conversation. Only admins
//! switch it (API keys and console members), and each change says who made it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_MESSENGER_PAGES;

use crate::console::{csrf_of, sign_in_sandbox};
use crate::support::{Gateway, wait_until};

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;
pub(crate) const AUTO_REPLY: &str =
    "Chat is closed this week; we read nothing here. Call +1 415 555 0100.";

pub(crate) fn connection() -> String {
    switchboard_gateway::sandbox_setup::messenger_connection_id(0)
}

/// The customer writes to page 0.
pub(crate) async fn user_writes(gw: &Gateway, psid: &str, extra: Value) {
    let mut body =
        json!({"page_id": SANDBOX_MESSENGER_PAGES[0].id, "psid": psid, "name": "Grace Hopper"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    gw.sim_post("/_sandbox/messenger/inbound", body).await;
}

/// The contact behind `psid` once the gateway has `n` messages from them: its view.
pub(crate) async fn contact_with(gw: &Gateway, psid: &str, n: u64) -> Value {
    let find = async || {
        let (_, page) = gw.get("/v1/contacts?limit=200").await;
        page["data"].as_array().unwrap().iter().find_map(|c| {
            let ours = c["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == psid);
            (ours && c["inbound_messages"].as_u64() >= Some(n)).then(|| c.clone())
        })
    };
    wait_until(gw, Duration::from_secs(20), async || find().await.is_some()).await;
    find().await.unwrap()
}

pub(crate) async fn events(gw: &Gateway, contact: &str) -> Vec<Value> {
    let (s, v) = gw.get(&format!("/v1/contacts/{contact}/events")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

/// The texts the Messenger simulator accepted for `psid`, oldest first.
pub(crate) async fn texts_to(gw: &Gateway, psid: &str) -> Vec<String> {
    let all = gw.sim_get("/_sandbox/messenger/messages").await;
    let list = all
        .as_array()
        .cloned()
        .or_else(|| all["messages"].as_array().cloned())
        .unwrap_or_default();
    list.into_iter()
        .filter(|m| m["psid"] == psid)
        .filter_map(|m| {
            let r = &m["request"];
            let r: Value = match r.as_str() {
                Some(s) => serde_json::from_str(s).ok()?,
                None => r.clone(),
            };
            r["message"]["text"].as_str().map(str::to_string)
        })
        .collect()
}

pub(crate) fn count(texts: &[String], text: &str) -> usize {
    texts.iter().filter(|t| *t == text).count()
}

/// Wait until the simulator holds `n` copies of `text` for `psid`, then make sure no more
/// come within two of the auto-reply loop's polls.
pub(crate) async fn exactly(gw: &Gateway, psid: &str, text: &str, n: usize) {
    wait_until(gw, Duration::from_secs(20), async || {
        count(&texts_to(gw, psid).await, text) >= n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let texts = texts_to(gw, psid).await;
    assert_eq!(count(&texts, text), n, "{texts:?}");
}

/// The message once Messenger reported it delivered (or already read): its view.
async fn reached_the_customer(gw: &Gateway, id: &str) -> Value {
    let mut view = Value::Null;
    wait_until(gw, Duration::from_secs(20), async || {
        view = gw.get(&format!("/v1/messages/{id}")).await.1;
        view["status"] == "delivered" || view["status"] == "seen"
    })
    .await;
    view
}

async fn set_chat(gw: &Gateway, key: &str, body: Value) -> (StatusCode, Value) {
    gw.call(
        Method::PATCH,
        &format!("/v1/connections/{}", connection()),
        key,
        Some(&body),
    )
    .await
}

async fn chat_changes(gw: &Gateway) -> Vec<Value> {
    let (s, v) = gw
        .get(&format!("/v1/connections/{}/chat-changes", connection()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

async fn runs(gw: &Gateway, automation: &str) -> Vec<Value> {
    let (s, v) = gw
        .get(&format!("/v1/automations/{automation}/runs?limit=200"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn one_way_keeps_messages_as_contact_events_and_answers_once_a_day() {
    let gw = Gateway::start("chat-one-way", &[]);
    // Everything a customer's message could set going, were it to open a conversation: a
    // bot that greets every new conversation (hosted), and no-reply alerts.
    let (s, v) = gw
        .patch_json(
            "/v1/workspace",
            &json!({"hosting_default": true, "no_reply_alert_minutes": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, bot) = gw
        .post_json(
            "/v1/automations",
            &json!({"name": "greeter", "trigger": {"type": "conversation.started"},
                "steps": [{"id": "hi", "send": {"text": "Welcome! A bot here."}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bot}");
    let bot = bot["id"].as_str().unwrap().to_string();

    let (s, view) = set_chat(
        &gw,
        &gw.key,
        json!({"chat": "one_way", "chat_auto_reply": AUTO_REPLY}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(
        (&view["chat"], &view["chat_auto_reply"]),
        (&json!("one_way"), &json!(AUTO_REPLY))
    );

    let psid = "7400000000000001";
    user_writes(&gw, psid, json!({"text": "Is the red one in stock?"})).await;
    let c = contact_with(&gw, psid, 1).await;
    let contact = c["id"].as_str().unwrap().to_string();
    exactly(&gw, psid, AUTO_REPLY, 1).await;
    let ev = events(&gw, &contact).await;
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(
        (&ev[0]["kind"], &ev[0]["reason"], &ev[0]["text"]),
        (
            &json!("inbound_refused"),
            &json!("chat_disabled"),
            &json!("Is the red one in stock?")
        ),
        "{ev:#?}"
    );
    assert_eq!(ev[0]["connection"], connection(), "{ev:#?}");
    assert!(ev[0]["provider_message_id"].is_string(), "{ev:#?}");
    assert_eq!(ev[0]["auto_reply"]["state"], "sent", "{ev:#?}");
    // The auto-reply is a message like any other: durable, with its statuses.
    let reply = ev[0]["auto_reply"]["message"].as_str().unwrap().to_string();
    let m = reached_the_customer(&gw, &reply).await;
    assert_eq!(m["metadata"]["kind"], "chat_auto_reply", "{m:#}");
    assert_eq!(m["metadata"]["contact_event"], ev[0]["id"], "{m:#}");
    // Nothing is lost: the contact's history has the message too; no conversation opened.
    let (_, history) = gw.get(&format!("/v1/contacts/{contact}/messages")).await;
    assert_eq!(history[0]["text"], "Is the red one in stock?", "{history}");
    let (s, conv) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{conv}");

    // Two more at once, the same day, a quick-reply tap among them: kept, not answered.
    tokio::join!(
        user_writes(&gw, psid, json!({"text": "Hello??"})),
        user_writes(
            &gw,
            psid,
            json!({"text": "Red", "quick_reply": {"payload": "COLOR_RED"}})
        ),
    );
    contact_with(&gw, psid, 3).await;
    exactly(&gw, psid, AUTO_REPLY, 1).await;
    let ev = events(&gw, &contact).await;
    assert_eq!(ev.len(), 3, "{ev:#?}");
    assert!(
        ev[1..].iter().all(|e| e.get("auto_reply").is_none()),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|e| e["payload"] == "COLOR_RED" && e["text"] == "Red"),
        "{ev:#?}"
    );
    let (_, refused) = gw
        .get("/v1/events?type=contact.inbound_refused&limit=50")
        .await;
    let refused = refused["data"].as_array().unwrap();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    assert_eq!(
        refused
            .iter()
            .filter(|e| e["data"]["auto_reply"] == true)
            .count(),
        1
    );

    // Sends still go out.
    let sent = gw
        .send(&json!({"channel": "messenger", "to": {"psid": psid},
            "content": {"text": "We are back on Monday."}}))
        .await;
    reached_the_customer(&gw, &sent).await;

    // A day and a minute later the contact is answered again, once.
    gw.set_clock(DAY + MINUTE).await;
    user_writes(&gw, psid, json!({"text": "Still closed?"})).await;
    contact_with(&gw, psid, 4).await;
    exactly(&gw, psid, AUTO_REPLY, 2).await;
    assert_eq!(
        events(&gw, &contact).await[3]["auto_reply"]["state"],
        "sent"
    );

    // Not one conversation, run or alert came of four messages.
    let (_, convs) = gw.get("/v1/conversations").await;
    assert_eq!(convs["data"], json!([]), "{convs}");
    assert!(runs(&gw, &bot).await.is_empty());
    assert_eq!(count(&texts_to(&gw, psid).await, "Welcome! A bot here."), 0);

    // The console shows the refused messages on the contact's page.
    let mut admin = sign_in_sandbox(&gw, "admin").await;
    let page = admin.get(&format!("/console/contacts/{contact}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"contact-events\""), "{}", page.body);
    assert!(page.body.contains("Still closed?"), "{}", page.body);

    // Back to two-way: the very next message opens the conversation, and the bot greets it;
    // no auto-reply.
    let (s, view) = set_chat(&gw, &gw.key, json!({"chat": "two_way"})).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(view["chat"], "two_way");
    user_writes(&gw, psid, json!({"text": "Are you open now?"})).await;
    let mut conv = Value::Null;
    wait_until(&gw, Duration::from_secs(20), async || {
        let (s, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
        conv = v;
        s == StatusCode::OK
    })
    .await;
    assert_eq!(conv["messages"][0]["text"], "Are you open now?", "{conv:#}");
    assert_eq!(conv["messages"][0]["author"], "customer", "{conv:#}");
    exactly(&gw, psid, "Welcome! A bot here.", 1).await;
    assert_eq!(runs(&gw, &bot).await.len(), 1);
    assert_eq!(count(&texts_to(&gw, psid).await, AUTO_REPLY), 2);
    assert_eq!(events(&gw, &contact).await.len(), 4);
}

#[tokio::test]
async fn only_admins_switch_chat_and_each_change_says_who() {
    let gw = Gateway::start("chat-admins", &[]);
    let mut keys = std::collections::BTreeMap::new();
    for scope in ["send", "read", "admin"] {
        let (s, k) = gw
            .post_json("/v1/keys", &json!({"name": scope, "scopes": [scope]}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{k}");
        keys.insert(
            scope,
            (
                k["id"].as_str().unwrap().to_string(),
                k["key"].as_str().unwrap().to_string(),
            ),
        );
    }
    for scope in ["send", "read"] {
        let (s, v) = set_chat(&gw, &keys[scope].1, json!({"chat": "one_way"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{scope}: {v}");
        assert_eq!(v["error"]["code"], "forbidden", "{v}");
    }
    assert!(chat_changes(&gw).await.is_empty());

    // An admin key switches it off with an auto-reply; the change names the key.
    let (admin_id, admin_key) = keys["admin"].clone();
    let (s, v) = set_chat(
        &gw,
        &admin_key,
        json!({"chat": "one_way", "chat_auto_reply": AUTO_REPLY}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let changes = chat_changes(&gw).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(
        (
            &changes[0]["chat"],
            &changes[0]["chat_auto_reply"],
            &changes[0]["by"],
            &changes[0]["api_key"]
        ),
        (
            &json!("one_way"),
            &json!(AUTO_REPLY),
            &json!("api_key"),
            &json!(admin_id)
        ),
        "{changes:#?}"
    );
    assert!(changes[0].get("member").is_none(), "{changes:#?}");
    // The same setting again is no change; a read key sees the history.
    let (s, _) = set_chat(&gw, &admin_key, json!({"chat": "one_way"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, seen) = gw
        .call(
            Method::GET,
            &format!("/v1/connections/{}/chat-changes", connection()),
            &keys["read"].1,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{seen}");
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    // Removing the auto-reply keeps the mode.
    let (s, v) = set_chat(&gw, &gw.key, json!({"chat_auto_reply": null})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["chat"], "one_way", "{v}");
    assert!(v.get("chat_auto_reply").is_none(), "{v}");

    // Bad input names its field and changes nothing.
    for (body, field) in [
        (json!({"chat": "off"}), "chat"),
        (json!({"chat_auto_reply": "   "}), "chat_auto_reply"),
        (
            json!({"chat_auto_reply": "x".repeat(1001)}),
            "chat_auto_reply",
        ),
        (json!({"chat_auto_reply": 7}), "chat_auto_reply"),
    ] {
        let (s, v) = set_chat(&gw, &gw.key, body.clone()).await;
        assert!(s.is_client_error(), "{body}: {s} {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    assert_eq!(chat_changes(&gw).await.len(), 2);
    let (s, v) = gw.get("/v1/connections/con_nope/chat-changes").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Each change is a workspace event, for webhooks and the feed.
    let (_, feed) = gw
        .get("/v1/events?type=connection.chat_changed&limit=50")
        .await;
    let feed = feed["data"].as_array().unwrap();
    assert_eq!(feed.len(), 2, "{feed:#?}");
    assert!(
        feed.iter()
            .any(|e| e["data"]["api_key"] == json!(admin_id) && e["data"]["chat"] == "one_way"),
        "{feed:#?}"
    );

    // A console admin switches it back; the change names the member. Billing members may
    // not, and a form without its token is refused.
    let (_, members) = gw.get("/v1/members").await;
    let admin_member = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "admin@sandbox.test")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let form_path = format!("/console/connections/{}/chat", connection());
    let mut billing = sign_in_sandbox(&gw, "billing").await;
    let csrf = csrf_of(&billing.get("/console/billing").await.body);
    let refused = billing
        .post(&form_path, &[("csrf", &csrf), ("chat", "two_way")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let mut admin = sign_in_sandbox(&gw, "admin").await;
    let page = admin.get("/console/connections").await;
    assert!(page.body.contains(&form_path), "{}", page.body);
    let forged = admin
        .post(&form_path, &[("csrf", "forged"), ("chat", "two_way")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let saved = admin
        .post(
            &form_path,
            &[
                ("csrf", &csrf_of(&page.body)),
                ("chat", "two_way"),
                ("auto_reply", "Back soon."),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let changes = chat_changes(&gw).await;
    assert_eq!(changes.len(), 3, "{changes:#?}");
    assert_eq!(
        (
            &changes[2]["chat"],
            &changes[2]["chat_auto_reply"],
            &changes[2]["by"],
            &changes[2]["member"]
        ),
        (
            &json!("two_way"),
            &json!("Back soon."),
            &json!("member"),
            &json!(admin_member)
        ),
        "{changes:#?}"
    );
    let (_, view) = gw.get(&format!("/v1/connections/{}", connection())).await;
    assert_eq!(view["chat"], "two_way", "{view}");
}
