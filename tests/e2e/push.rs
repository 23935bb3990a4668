//! Mobile push end to end: FCM HTTP v1 and APNs over HTTP/2 out, and delivery confirmed
//! only by the app's signed receipt: accepted by FCM/APNs is `sent`, received is
//! `delivered`, opened is `seen`. Dead tokens are never used again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

fn push(token: &str, platform: &str, content: Value) -> Value {
    json!({"channel": "push", "to": {"push_token": token, "push_platform": platform}, "content": content})
}

async fn requests_for(gw: &Gateway, token: &str) -> Vec<Value> {
    let all = gw.sim_get("/_sandbox/push/messages").await;
    all["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["token"] == token)
        .cloned()
        .collect()
}

fn body_of(r: &Value) -> Value {
    match &r["body"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    }
}

fn header<'a>(r: &'a Value, name: &str) -> Option<&'a str> {
    let h = &r["headers"];
    if let Some(v) = h.get(name) {
        return v.as_str();
    }
    h.as_array()?
        .iter()
        .find(|p| p[0].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
        .and_then(|p| p[1].as_str())
}

#[tokio::test]
async fn fcm_and_apns_send_and_the_app_confirms_receipt_and_open() {
    let gw = Gateway::start("push-send", &[]);
    let content = json!({"subject": "Order shipped", "text": "Your parcel is on its way", "data": {"order": "42"}});

    let android = gw
        .send(&push("tok-android-1", "android", content.clone()))
        .await;
    let msg = gw.wait_for(&android, "seen", Duration::from_secs(20)).await;
    let timeline: Vec<&str> = msg["deliveries"][0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert!(
        timeline.ends_with(&["sent", "delivered", "seen"]),
        "{msg:#}"
    );
    let reqs = requests_for(&gw, "tok-android-1").await;
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    let fcm = body_of(&reqs[0]);
    assert_eq!(
        reqs[0]["path"],
        format!(
            "/v1/projects/{}/messages:send",
            switchboard_sandbox::SANDBOX_FCM_PROJECT_ID
        )
    );
    assert_eq!(fcm["message"]["token"], "tok-android-1");
    assert_eq!(
        fcm["message"]["notification"],
        json!({"title": "Order shipped", "body": "Your parcel is on its way"})
    );
    assert_eq!(fcm["message"]["data"]["order"], "42");
    assert_eq!(fcm["message"]["data"]["sb_message_id"], android.as_str());
    assert!(
        header(&reqs[0], "authorization")
            .unwrap()
            .starts_with("Bearer ya29."),
        "{:#}",
        reqs[0]
    );

    let ios = gw.send(&push("tok-ios-1", "ios", content.clone())).await;
    gw.wait_for(&ios, "seen", Duration::from_secs(20)).await;
    let reqs = requests_for(&gw, "tok-ios-1").await;
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    let r = &reqs[0];
    assert_eq!(r["path"], "/3/device/tok-ios-1");
    assert_eq!(r["http_version"], "HTTP/2.0", "{r:#}");
    assert_eq!(
        header(r, "apns-topic"),
        Some(switchboard_sandbox::SANDBOX_APNS_TOPIC)
    );
    assert_eq!(header(r, "apns-push-type"), Some("alert"));
    assert_eq!(header(r, "apns-priority"), Some("10"));
    assert!(
        header(r, "authorization").unwrap().starts_with("bearer "),
        "{r:#}"
    );
    let apns = body_of(r);
    assert_eq!(
        apns["aps"]["alert"],
        json!({"title": "Order shipped", "body": "Your parcel is on its way"})
    );
    assert_eq!(apns["sb_message_id"], ios.as_str());
    assert_eq!(apns["order"], "42");

    // The FCM access token is cached until it expires, then exchanged again.
    let again = gw
        .send(&push("tok-android-2", "android", content.clone()))
        .await;
    gw.wait_for(&again, "seen", Duration::from_secs(20)).await;
    assert_eq!(
        gw.sim_get("/_sandbox/push/stats").await["token_exchanges"],
        1
    );
    gw.set_clock(3_700_000).await;
    let later = gw.send(&push("tok-android-3", "android", content)).await;
    gw.wait_for(&later, "seen", Duration::from_secs(20)).await;
    assert_eq!(
        gw.sim_get("/_sandbox/push/stats").await["token_exchanges"],
        2
    );
}

#[tokio::test]
async fn accepted_is_not_received_and_receipts_must_be_signed() {
    let gw = Gateway::start("push-receipts", &[]);
    // FCM accepts it, but the app never confirms: the message stays `sent`.
    let id = gw
        .send(&push(
            "silent-tok-1",
            "android",
            json!({"text": "are you there?"}),
        ))
        .await;
    let msg = gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, msg_later) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(msg_later["status"], "sent", "{msg:#}");
    let conn = msg["deliveries"][0]["connection"]
        .as_str()
        .unwrap()
        .to_string();

    let key = switchboard_sandbox::SANDBOX_PUSH_RECEIPT_KEY;
    let body = json!({"connection_id": conn, "message_id": id, "event": "received"}).to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let post = |sig: String, body: String| {
        let http = gw.http().clone();
        let url = format!("{}/v1/receipts", gw.url);
        async move {
            http.post(url)
                .header("x-switchboard-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let good = switchboard_sandbox::push_receipt_signature(key, now, body.as_bytes());
    let tampered = body.replace("received", "opened");
    assert_eq!(post(good.clone(), tampered).await, StatusCode::UNAUTHORIZED);
    let wrong = switchboard_sandbox::push_receipt_signature("not-the-key", now, body.as_bytes());
    assert_eq!(post(wrong, body.clone()).await, StatusCode::UNAUTHORIZED);
    let stale = switchboard_sandbox::push_receipt_signature(key, now - 3600, body.as_bytes());
    assert_eq!(post(stale, body.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(String::new(), body.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(good, body).await, StatusCode::NO_CONTENT);
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(5)).await;
    let last = msg["deliveries"][0]["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["detail"].as_str().unwrap().contains("device receipt"),
        "{last}"
    );
}

#[tokio::test]
async fn a_dead_token_is_never_used_again() {
    let gw = Gateway::start("push-dead", &[]);
    let (status, contact) = gw
        .post_json(
            "/v1/contacts",
            &json!({"name": "Grace", "addresses": [
                {"kind": "push", "address": "dead-tok-1", "platform": "android"},
                {"kind": "email", "address": "grace@example.com"}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");

    let id = gw
        .send(&push("dead-tok-1", "android", json!({"text": "hello"})))
        .await;
    let failure = gw.failure_of(&id).await;
    assert_eq!(failure["reason"], "recipient_invalid", "{failure}");
    assert_eq!(failure["resend"]["when"], "never");
    let (_, c) = gw
        .get(&format!("/v1/contacts/{}", contact["id"].as_str().unwrap()))
        .await;
    let token = c["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "push")
        .unwrap()
        .clone();
    assert_eq!(token["valid"], false, "{c:#}");
    assert!(
        token["invalid_reason"]
            .as_str()
            .unwrap()
            .contains("UNREGISTERED"),
        "{token}"
    );

    let (status, body) = gw
        .post_message(&push("dead-tok-1", "android", json!({"text": "again?"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["violations"][0]["code"], "recipient_invalid");
    assert_eq!(body["error"]["violations"][0]["field"], "to.push_token");
    let (status, _) = gw
        .post_json(&format!("/v1/messages/{id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // APNs says the same with 410 Unregistered.
    let ios = gw
        .send(&push("dead-tok-2", "ios", json!({"text": "hello"})))
        .await;
    assert_eq!(gw.failure_of(&ios).await["reason"], "recipient_invalid");
    let (status, _) = gw
        .post_message(&push("dead-tok-2", "ios", json!({"text": "again?"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let counts = gw.sim_get("/_sandbox/push/messages").await["token_requests"].clone();
    assert_eq!(counts["dead-tok-1"], 1, "{counts}");
    assert_eq!(counts["dead-tok-2"], 1, "{counts}");
}
