//! Email end to end: SendGrid's wire format out, its signed event webhook back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

async fn send_email(gw: &Gateway, to: &str, text: &str, subject: Option<&str>) -> String {
    let mut content = json!({"text": text});
    if let Some(s) = subject {
        content["subject"] = json!(s);
    }
    let (status, body) = gw
        .post_message(
            &json!({"channel": "email", "to": {"email": to, "name": "Ada"}, "content": content}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn sim_emails_to(gw: &Gateway, to: &str) -> Vec<Value> {
    let all = gw.sim_get("/_sandbox/email/messages").await;
    all.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["to"] == to || m["to"][0] == to)
        .collect()
}

#[tokio::test]
async fn email_is_sent_in_sendgrid_format_and_seen_via_signed_events() {
    let gw = Gateway::start("e2e-email", &[]);
    let id = send_email(
        &gw,
        "ada@example.com",
        "Your order shipped.\n\nThanks <3",
        Some("Order 42"),
    )
    .await;
    let msg = gw.wait_for(&id, "seen", Duration::from_secs(20)).await;

    let sent = sim_emails_to(&gw, "ada@example.com").await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let raw = &sent[0]["request"];
    let raw: Value = if raw.is_string() {
        serde_json::from_str(raw.as_str().unwrap()).unwrap()
    } else {
        raw.clone()
    };
    assert_eq!(
        raw["personalizations"][0]["to"][0],
        json!({"email": "ada@example.com", "name": "Ada"})
    );
    assert_eq!(
        raw["from"],
        json!({"email": switchboard_sandbox::SANDBOX_EMAIL_FROM, "name": "Switchboard Sandbox"})
    );
    assert_eq!(raw["subject"], "Order 42");
    assert_eq!(
        raw["content"][0],
        json!({"type": "text/plain", "value": "Your order shipped.\n\nThanks <3"})
    );
    assert_eq!(raw["content"][1]["type"], "text/html");
    assert!(
        raw["content"][1]["value"]
            .as_str()
            .unwrap()
            .contains("<p>Thanks &lt;3</p>")
    );
    let delivery = &msg["deliveries"][0];
    assert_eq!(
        raw["personalizations"][0]["custom_args"]["sb_delivery_id"],
        delivery["id"]
    );
    assert_eq!(delivery["provider_message_id"], sent[0]["x_message_id"]);
    assert_eq!(
        (delivery["product"].as_str(), delivery["units"].as_u64()),
        (Some("email"), Some(1))
    );

    let applied: Vec<&str> = delivery["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["applied"] == true)
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        applied,
        ["queued", "sending", "sent", "delivered", "seen"],
        "{msg:#}"
    );
    assert!(
        !msg.to_string()
            .contains(switchboard_sandbox::SANDBOX_SENDGRID_API_KEY)
    );
}

#[tokio::test]
async fn bounces_fail_with_a_reason_and_forged_events_are_rejected() {
    let gw = Gateway::start("e2e-email-bounce", &[]);
    let id = send_email(&gw, "bounce@sandbox.switchboard.test", "hello", None).await;
    let msg = gw.wait_for(&id, "failed", Duration::from_secs(20)).await;
    let f = &msg["deliveries"][0]["failure"];
    assert_eq!(f["reason"], "recipient_invalid", "{msg:#}");
    assert_eq!(f["provider_code"], "5.1.1");

    // An event for a real message, signed with the wrong key or tampered with, is refused.
    let x_message_id = msg["deliveries"][0]["provider_message_id"]
        .as_str()
        .unwrap();
    let url = format!("{}/v1/webhooks/con_sandbox_sendgrid_email", gw.url);
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let body = json!([{"email": "bounce@sandbox.switchboard.test", "timestamp": 1, "event": "delivered", "sg_message_id": format!("{x_message_id}.filter0001")}]).to_string();
    let good = switchboard_sandbox::sendgrid_event_signature(&ts, body.as_bytes());
    let tampered = body.replace("delivered", "open");
    for (payload, signature) in [
        (tampered.as_str(), good.as_str()),
        (body.as_str(), "MEUCIQ=="),
        (body.as_str(), ""),
    ] {
        let resp = gw
            .http()
            .post(&url)
            .header("x-twilio-email-event-webhook-timestamp", &ts)
            .header("x-twilio-email-event-webhook-signature", signature)
            .body(payload.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let (_, after) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(after["status"], "failed");
}

/// A SendGrid event with a valid signature over a timestamp ten minutes old is a replay as far
/// as the gateway can tell: 401 naming the replay window, nothing applied. The same event
/// signed now is applied.
#[tokio::test]
async fn a_correctly_signed_event_outside_the_replay_window_is_refused() {
    let gw = Gateway::start("e2e-email-replay", &[]);
    // The simulator posts nothing, so only the events below can move the message.
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "email", "action": {"drop_callbacks": true}}),
    )
    .await;
    let id = send_email(&gw, "ada@example.com", "hello", None).await;
    let msg = gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    let x_message_id = msg["deliveries"][0]["provider_message_id"]
        .as_str()
        .unwrap();

    let url = format!("{}/v1/webhooks/con_sandbox_sendgrid_email", gw.url);
    let body = json!([{"email": "ada@example.com", "timestamp": 1, "event": "delivered", "sg_message_id": format!("{x_message_id}.filter0001")}]).to_string();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let post = |ts: u64| {
        let ts = ts.to_string();
        let signature = switchboard_sandbox::sendgrid_event_signature(&ts, body.as_bytes());
        gw.http()
            .post(&url)
            .header("x-twilio-email-event-webhook-timestamp", ts)
            .header("x-twilio-email-event-webhook-signature", signature)
            .body(body.clone())
            .send()
    };

    let resp = post(now_s - 600).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let err: Value = resp.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("replay window"), "{message}");
    let (_, after) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(after["status"], "sent", "{after:#}");

    let resp = post(now_s).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    gw.wait_for(&id, "delivered", Duration::from_secs(5)).await;
}
