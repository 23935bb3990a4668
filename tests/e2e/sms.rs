//! The happy path and its guarantees: an SMS from API to simulator and back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, sim_messages_to};

fn statuses(timeline: &Value) -> Vec<(String, String, bool)> {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_string(),
                e["source"].as_str().unwrap().to_string(),
                e["applied"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sms_travels_to_the_provider_and_back_as_delivered() {
    let gw = Gateway::start("e2e-sms", &[]);
    let id = gw.send_sms("+14155550100", "Your code is 123456").await;
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(20)).await;

    // The simulator got Twilio's form body.
    let received = sim_messages_to(&gw.sim, "+14155550100").await;
    assert_eq!(received.len(), 1, "{received:#?}");
    let form: Vec<(String, String)> = serde_json::from_value(received[0]["form"].clone()).unwrap();
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("To"), Some("+14155550100"));
    assert_eq!(
        field("From"),
        Some(switchboard_sandbox::SANDBOX_FROM_NUMBER)
    );
    assert_eq!(field("Body"), Some("Your code is 123456"));
    let delivery = &msg["deliveries"][0];
    let callback_url = format!(
        "{}/v1/webhooks/{}",
        gw.url,
        delivery["connection"].as_str().unwrap()
    );
    assert_eq!(field("StatusCallback"), Some(callback_url.as_str()));
    // Twilio has no idempotency key: none is sent (a lost answer is found again by the
    // Message list, `faults::` and `crash::`).
    assert!(
        received[0]["form"]
            .as_array()
            .unwrap()
            .iter()
            .all(|kv| kv[0] != "Idempotency-Key"),
        "{received:#?}"
    );

    // The provider's signed callbacks moved the status; the timeline shows the whole path.
    assert_eq!(delivery["provider_message_id"], received[0]["sid"]);
    assert_eq!(
        (
            delivery["product"].as_str(),
            delivery["units"].as_u64(),
            delivery["encoding"].as_str()
        ),
        (Some("sms"), Some(1), Some("gsm-7"))
    );
    let timeline = statuses(&delivery["timeline"]);
    let applied: Vec<&str> = timeline
        .iter()
        .filter(|t| t.2)
        .map(|t| t.0.as_str())
        .collect();
    assert_eq!(
        applied,
        ["queued", "sending", "sent", "delivered"],
        "{timeline:?}"
    );
    assert!(
        timeline.contains(&("delivered".into(), "provider".into(), true)),
        "delivered came from a provider callback"
    );
    assert_eq!(
        msg["deliveries"][0]["attempts"].as_array().unwrap().len(),
        1
    );

    let stats = gw.sim_get("/_sandbox/stats").await;
    assert!(
        stats["sms"]["callbacks_sent"].as_u64().unwrap() >= 2,
        "{stats}"
    );

    // The connection's auth token is used on every request and callback, yet never shown.
    let (_, plugins) = gw.get("/v1/plugins").await;
    for shown in [msg.to_string(), plugins.to_string(), gw.log()] {
        assert!(!shown.contains(switchboard_sandbox::SANDBOX_AUTH_TOKEN));
    }
}

#[tokio::test]
async fn repeated_idempotency_key_returns_the_same_message_and_sends_once() {
    let gw = Gateway::start("e2e-idem", &[]);
    let body = serde_json::to_vec(
        &json!({"channel": "sms", "to": {"phone": "+14155550101"}, "content": {"text": "once"}}),
    )
    .unwrap();
    let (s1, first) = gw
        .post_raw("/v1/messages", body.clone(), Some("order-42"))
        .await;
    let (s2, second) = gw
        .post_raw("/v1/messages", body.clone(), Some("order-42"))
        .await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(first["id"], second["id"]);
    gw.wait_for(
        first["id"].as_str().unwrap(),
        "delivered",
        Duration::from_secs(20),
    )
    .await;
    let (s3, third) = gw.post_raw("/v1/messages", body, Some("order-42")).await;
    assert_eq!(
        (s3, &third["id"], &third["status"]),
        (StatusCode::ACCEPTED, &first["id"], &json!("delivered"))
    );

    let received = sim_messages_to(&gw.sim, "+14155550101").await;
    assert_eq!(received.len(), 1);
    let stats = gw.sim_get("/_sandbox/stats").await;
    assert_eq!(stats["sms"]["requests"], 1, "one provider request: {stats}");

    // The same key with a different body is a client error, not a silent replay.
    let other = serde_json::to_vec(
        &json!({"channel": "sms", "to": {"phone": "+14155550101"}, "content": {"text": "twice"}}),
    )
    .unwrap();
    let (s4, err) = gw.post_raw("/v1/messages", other, Some("order-42")).await;
    assert_eq!(
        (s4, err["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
}

#[tokio::test]
async fn callback_with_a_bad_signature_is_rejected_and_changes_nothing() {
    let gw = Gateway::start("e2e-badsig", &[]);
    let id = gw.send_sms("+14155550102", "hello").await;
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(20)).await;
    let delivery = &msg["deliveries"][0];
    let sid = delivery["provider_message_id"].as_str().unwrap();
    let url = format!(
        "{}/v1/webhooks/{}",
        gw.url,
        delivery["connection"].as_str().unwrap()
    );
    let params = vec![
        ("MessageSid".to_string(), sid.to_string()),
        ("MessageStatus".to_string(), "failed".to_string()),
        ("ErrorCode".to_string(), "30007".to_string()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();

    let forged = switchboard_sandbox::twilio_signature("not-the-auth-token", &url, &params);
    for signature in [Some(forged.as_str()), Some("garbage"), None] {
        let mut req = gw
            .http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if let Some(sig) = signature {
            req = req.header("x-twilio-signature", sig);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_signature");
    }
    let (_, after) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(after["status"], "delivered");
    assert_eq!(
        after["deliveries"][0]["timeline"], delivery["timeline"],
        "no event recorded"
    );

    // The same callback correctly signed is accepted (and, being a step back, only recorded).
    let good = switchboard_sandbox::twilio_signature(
        switchboard_sandbox::SANDBOX_AUTH_TOKEN,
        &url,
        &params,
    );
    let resp = gw
        .http()
        .post(&url)
        .header("x-twilio-signature", good)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, after) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(after["status"], "delivered", "statuses never go backwards");
}

#[tokio::test]
async fn preview_runs_the_wasm_plugin_for_segments_and_products() {
    let gw = Gateway::start("e2e-preview", &[]);
    let preview = |phone: &str, text: String| {
        let body = serde_json::to_vec(
            &json!({"channel": "sms", "to": {"phone": phone}, "content": {"text": text}}),
        )
        .unwrap();
        async { gw.post_raw("/v1/messages/preview", body, None).await }
    };
    let (s, p) = preview("+14155550103", "a".repeat(161)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            p["valid"].as_bool(),
            p["product"].as_str(),
            p["units"].as_u64(),
            p["encoding"].as_str()
        ),
        (Some(true), Some("sms"), Some(2), Some("gsm-7"))
    );
    let (_, p) = preview("+14155550103", "hi 😀".into()).await;
    assert_eq!(
        (p["units"].as_u64(), p["encoding"].as_str()),
        (Some(1), Some("ucs-2"))
    );
    let (_, p) = preview("+821012345678", "가".repeat(45)).await;
    assert_eq!(
        (
            p["product"].as_str(),
            p["encoding"].as_str(),
            p["country"].as_str()
        ),
        (Some("sms"), Some("euc-kr"), Some("KR"))
    );
    let (_, p) = preview("+821012345678", format!("{}a", "가".repeat(45))).await;
    assert_eq!(p["product"], "lms");
    let (_, p) = preview("+821012345678", "안녕 😀".into()).await;
    assert_eq!(p["valid"], false);
    assert_eq!(p["violations"][0]["code"], "unsupported_character");
    assert_eq!(p["violations"][0]["field"], "content.text");
    // Preview stores nothing.
    let (_, list) = gw.get("/v1/messages").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
}
