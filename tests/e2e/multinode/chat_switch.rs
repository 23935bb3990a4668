//! The two-way chat switch on two nodes of one database: a burst of one customer's messages
//! spread over both nodes right after the switch (before the other node's cache could know
//! of it) is refused on both and answered once, and switching back through the other node
//! applies to the very next message, whichever node takes it.

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_sandbox::{
    SANDBOX_MESSENGER_APP_SECRET, SANDBOX_MESSENGER_PAGES, messenger_signature,
};

use super::Cluster;
use crate::chat_switch::{
    AUTO_REPLY, connection, contact_with, count, events, exactly, texts_to, user_writes,
};
use crate::support::{Gateway, wait_until};

/// The provider's signed callback for one message, posted to one node directly (the
/// balancer would choose the node itself): its HTTP status.
async fn webhook_to(node: &Gateway, psid: &str, mid: &str, text: &str) -> String {
    let page = SANDBOX_MESSENGER_PAGES[0].id;
    let now = switchboard_gateway::model::now_ms();
    let body = json!({"object": "page", "entry": [{"id": page, "time": now, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": page}, "timestamp": now,
         "message": {"mid": mid, "text": text}}
    ]}]})
    .to_string();
    node.http()
        .post(format!("{}/v1/webhooks/{}", node.url, connection()))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            messenger_signature(SANDBOX_MESSENGER_APP_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
        .to_string()
}

async fn conversation_messages(gw: &Gateway, contact: &str) -> usize {
    let (s, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["messages"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_two_nodes_is_refused_and_answered_once_and_switching_back_is_immediate() {
    let cluster = tokio::task::block_in_place(|| Cluster::start("mn-chat", 2, &[]));
    let (a, b) = (cluster.node(0), cluster.node(1));
    // The customer wrote while chat was two-way: a conversation, and Messenger's window open.
    let psid = "7600000000000001";
    user_writes(a, psid, json!({"text": "hi"})).await;
    let contact = contact_with(b, psid, 1).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_until(b, std::time::Duration::from_secs(20), async || {
        b.get(&format!("/v1/conversations/{contact}")).await.0 == StatusCode::OK
    })
    .await;

    let (s, v) = a
        .call(
            Method::PATCH,
            &format!("/v1/connections/{}", connection()),
            &a.key,
            Some(&json!({"chat": "one_way", "chat_auto_reply": AUTO_REPLY})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // At once, ten messages, five through each node, all at the same time.
    let burst = (0..10).map(|i| {
        let node = if i % 2 == 0 { a } else { b };
        let (mid, text) = (format!("m_burst_{i}"), format!("burst {i}"));
        async move { webhook_to(node, psid, &mid, &text).await }
    });
    let statuses = crate::wallet::futures_join(burst).await;
    assert!(statuses.iter().all(|s| s == "200"), "{statuses:?}");
    contact_with(a, psid, 11).await;
    assert_eq!(events(b, &contact).await.len(), 10);
    assert_eq!(
        conversation_messages(a, &contact).await,
        1,
        "none joined the conversation"
    );
    exactly(a, psid, AUTO_REPLY, 1).await;
    let answered = events(a, &contact)
        .await
        .iter()
        .filter(|e| e.get("auto_reply").is_some())
        .count();
    assert_eq!(answered, 1);

    // Back to two-way through B; the next message, taken by A, joins the conversation.
    let (s, v) = b
        .call(
            Method::PATCH,
            &format!("/v1/connections/{}", connection()),
            &b.key,
            Some(&json!({"chat": "two_way"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(webhook_to(a, psid, "m_after", "open again?").await, "200");
    assert_eq!(conversation_messages(b, &contact).await, 2);
    assert_eq!(events(b, &contact).await.len(), 10);
    assert_eq!(count(&texts_to(a, psid).await, AUTO_REPLY), 1);
}
