//! Conversations fed by a channel (Messenger through the Graph simulator): a customer's
//! message opens the conversation and names the connection it came through; a reply typed in
//! the Page's own inbox comes back as an echo and becomes an `off_platform` agent message that
//! answers the customer's wait; the echo of the gateway's own send adds nothing; a quick-reply
//! or button tap keeps its payload.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_MESSENGER_APP_SECRET, SANDBOX_MESSENGER_PAGES};

use crate::support::{Gateway, wait_until};

fn page() -> &'static str {
    SANDBOX_MESSENGER_PAGES[0].id
}

fn connection() -> String {
    switchboard_gateway::sandbox_setup::messenger_connection_id(0)
}

async fn user_writes(gw: &Gateway, psid: &str, extra: Value) {
    let mut body = json!({"page_id": page(), "psid": psid, "name": "Grace Hopper"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    gw.sim_post("/_sandbox/messenger/inbound", body).await;
}

/// The contact the gateway made for `psid`, once it exists.
async fn contact_of(gw: &Gateway, psid: &str) -> String {
    let mut id = None;
    wait_until(gw, Duration::from_secs(10), async || {
        let (_, page) = gw.get("/v1/contacts?limit=200").await;
        id = page["data"].as_array().unwrap().iter().find_map(|c| {
            let ours = c["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == psid);
            ours.then(|| c["id"].as_str().unwrap().to_string())
        });
        id.is_some()
    })
    .await;
    id.unwrap()
}

/// The contact's conversation once it holds `n` messages.
async fn conversation_with(gw: &Gateway, contact: &str, n: usize) -> Value {
    let mut view = Value::Null;
    wait_until(gw, Duration::from_secs(10), async || {
        let (status, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
        view = v;
        status == 200 && view["messages"].as_array().map_or(0, Vec::len) >= n
    })
    .await;
    view
}

fn kinds(view: &Value) -> Vec<&str> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_customers_messenger_message_opens_the_conversation() {
    let gw = Gateway::start("conv-channel-open", &[]);
    let (code, _) = gw
        .patch_json("/v1/workspace", &json!({"no_reply_alert_minutes": 30}))
        .await;
    assert!(code.is_success());
    user_writes(
        &gw,
        "7300000000000001",
        json!({"text": "Is the red one in stock?"}),
    )
    .await;
    let contact = contact_of(&gw, "7300000000000001").await;
    let view = conversation_with(&gw, &contact, 1).await;
    assert_eq!(view["started_by"], "customer", "{view:#}");
    assert_eq!(view["state"], "unanswered", "{view:#}");
    assert!(view["waiting_since"].is_string(), "{view:#}");
    assert_eq!(view["connection"], connection().as_str(), "{view:#}");
    assert_eq!(view["channel"], "messenger", "{view:#}");
    let m = &view["messages"][0];
    assert_eq!(m["author"], "customer");
    assert_eq!(m["text"], "Is the red one in stock?");
    assert_eq!(m["off_platform"], false);
    assert_eq!(m["connection"], connection().as_str());
    assert!(m.get("payload").is_none(), "typed text has no payload: {m}");
    assert_eq!(kinds(&view), ["opened"]);
}

#[tokio::test]
async fn a_reply_typed_in_the_page_inbox_answers_the_wait_off_platform() {
    let gw = Gateway::start("conv-channel-page-reply", &[]);
    let psid = "7300000000000002";
    user_writes(&gw, psid, json!({"text": "Hello?"})).await;
    let contact = contact_of(&gw, psid).await;
    conversation_with(&gw, &contact, 1).await;

    let reply = gw
        .sim_post(
            "/_sandbox/messenger/page_reply",
            json!({"page_id": page(), "psid": psid, "text": "Hi Grace, yes it is."}),
        )
        .await;
    assert!(reply["mid"].is_string(), "{reply}");
    let view = conversation_with(&gw, &contact, 2).await;
    let m = &view["messages"][1];
    assert_eq!(m["author"], "agent", "{view:#}");
    assert_eq!(m["text"], "Hi Grace, yes it is.");
    assert_eq!(m["off_platform"], true, "{view:#}");
    assert_eq!(view["state"], "active", "{view:#}");
    assert!(
        view.get("owner").is_none(),
        "written by no member: {view:#}"
    );
    assert!(view.get("waiting_since").is_none(), "{view:#}");
    assert_eq!(kinds(&view), ["opened", "taken", "answered"]);

    // Facebook redelivers a webhook it thinks failed: the same echo again counts once.
    let echo = json!({"object": "page", "entry": [{"id": page(), "time": 1, "messaging": [
        {"sender": {"id": page()}, "recipient": {"id": psid}, "timestamp": reply["timestamp"],
         "message": {"is_echo": true, "app_id": 263_902_037_430_900u64, "mid": reply["mid"],
                     "text": "Hi Grace, yes it is."}}
    ]}]})
    .to_string();
    let status = gw
        .http()
        .post(format!("{}/v1/webhooks/{}", gw.url, connection()))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            switchboard_sandbox::messenger_signature(SANDBOX_MESSENGER_APP_SECRET, echo.as_bytes()),
        )
        .body(echo)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let (_, again) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(again["messages"].as_array().unwrap().len(), 2, "{again:#}");
}

#[tokio::test]
async fn the_echo_of_the_gateways_own_send_adds_nothing() {
    let gw = Gateway::start("conv-channel-own-echo", &[]);
    let psid = "7300000000000003";
    user_writes(&gw, psid, json!({"text": "Where is my parcel?"})).await;
    let contact = contact_of(&gw, psid).await;
    conversation_with(&gw, &contact, 1).await;

    let id = gw
        .send(&json!({"channel": "messenger", "to": {"psid": psid}, "content": {"text": "It left today."}}))
        .await;
    gw.wait_for(&id, "seen", Duration::from_secs(20)).await;
    // The simulator echoed the send, with the marker the plugin put on it.
    let sends = gw.sim_get("/_sandbox/messenger/messages").await;
    let ours = sends
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["psid"] == psid)
        .unwrap();
    assert!(
        ours["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "message_echoes"),
        "{ours:#}"
    );
    assert!(
        ours["request"]
            .as_str()
            .unwrap()
            .contains("\"metadata\":\"sb:dlv_"),
        "{ours:#}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, view) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(view["messages"].as_array().unwrap().len(), 1, "{view:#}");
    assert_eq!(view["state"], "unanswered", "still waiting: {view:#}");
    assert!(view["waiting_since"].is_string(), "{view:#}");
}

#[tokio::test]
async fn a_quick_reply_or_button_tap_arrives_with_its_payload() {
    let gw = Gateway::start("conv-channel-payload", &[]);
    let psid = "7300000000000004";
    user_writes(
        &gw,
        psid,
        json!({"text": "Red", "quick_reply": {"payload": "COLOR_RED"}}),
    )
    .await;
    let contact = contact_of(&gw, psid).await;
    let view = conversation_with(&gw, &contact, 1).await;
    let m = &view["messages"][0];
    assert_eq!(
        (&m["text"], &m["payload"]),
        (&json!("Red"), &json!("COLOR_RED")),
        "{view:#}"
    );

    user_writes(
        &gw,
        psid,
        json!({"postback": {"title": "Talk to a person", "payload": "HUMAN"}}),
    )
    .await;
    let view = conversation_with(&gw, &contact, 2).await;
    let m = &view["messages"][1];
    assert_eq!(m["author"], "customer");
    assert_eq!(
        (&m["text"], &m["payload"]),
        (&json!("Talk to a person"), &json!("HUMAN")),
        "{view:#}"
    );
}
