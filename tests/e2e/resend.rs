//! Resend rules, each refused and (where it can be) allowed, over real HTTP.
//! Messenger-specific rules (window_closed, url_blocked) are in `messenger.rs`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::Gateway;

#[tokio::test]
async fn invalid_format_is_refused_forever_and_invalid_input_costs_nothing() {
    let gw = Gateway::start("resend-invalid", &[]);

    // Refused at the door: 422 invalid_format, nothing stored, nothing to resend.
    let (status, body) = gw
        .post_message(
            &json!({"channel": "sms", "to": {"phone": "+14155550120"}, "content": {"text": "  "}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_format");
    assert_eq!(body["error"]["reason"], "invalid_format");
    assert_eq!(body["error"]["violations"][0]["code"], "empty_text");
    assert_eq!(body["error"]["violations"][0]["field"], "content.text");
    let (_, page) = gw.get("/v1/messages").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0, "{page}");
    assert_eq!(gw.sim_get("/_sandbox/stats").await["sms"]["requests"], 0);

    // Refused by the provider: failed with invalid_format, and never resendable.
    let to = "+14155550121";
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": to}, "action": {"status": 400, "code": 21602}}),
    )
    .await;
    let id = gw.send_sms(to, "body the provider rejects").await;
    let failure = gw.failure_of(&id).await;
    assert_eq!(failure["reason"], "invalid_format", "{failure}");
    assert_eq!(failure["resend"]["allowed"], false);
    assert_eq!(failure["resend"]["when"], "never");
    let (status, body) = gw
        .post_json(&format!("/v1/messages/{id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "resend_refused");
    assert_eq!(body["error"]["reason"], "invalid_format");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_format")
    );
}

#[tokio::test]
async fn token_expired_needs_a_reconnect_then_resends() {
    let gw = Gateway::start("resend-token", &[]);
    let to = "+14155550122";
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": to}, "times": 1, "action": {"status": 401, "code": 20003}}),
    )
    .await;
    let id = gw.send_sms(to, "credentials revoked").await;
    let failure = gw.failure_of(&id).await;
    assert_eq!(failure["reason"], "token_expired", "{failure}");
    assert_eq!(failure["resend"]["allowed"], false);
    assert_eq!(failure["resend"]["when"], "after_reconnect");

    // The connection is marked, and further messages fail without reaching the provider.
    let (_, conns) = gw.get("/v1/connections").await;
    let sms = conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(sms["status"], "needs_reconnect", "{sms}");
    assert!(
        sms.get("secrets")
            .unwrap()
            .as_array()
            .unwrap()
            .contains(&json!("auth_token"))
    );
    assert!(
        !sms.to_string()
            .contains(switchboard_sandbox::SANDBOX_AUTH_TOKEN),
        "secret leaked: {sms}"
    );
    let requests_before = gw.sim_get("/_sandbox/stats").await["sms"]["requests"].clone();
    let second = gw.send_sms("+14155550123", "also refused").await;
    assert_eq!(gw.failure_of(&second).await["reason"], "token_expired");
    assert_eq!(
        gw.sim_get("/_sandbox/stats").await["sms"]["requests"],
        requests_before
    );

    let (status, body) = gw
        .post_json(&format!("/v1/messages/{id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["reason"], "token_expired");

    // Reconnect, and the same failure is resendable.
    let conn_id = sms["id"].as_str().unwrap();
    let (status, body) = gw
        .patch_json(
            &format!("/v1/connections/{conn_id}"),
            &json!({"secrets": {"auth_token": switchboard_sandbox::SANDBOX_AUTH_TOKEN}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    let (_, msg) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(
        msg["deliveries"][0]["failure"]["resend"]["allowed"], true,
        "{msg:#}"
    );

    let (status, body) = gw
        .post_json(&format!("/v1/messages/{id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let resent = body["id"].as_str().unwrap().to_string();
    let msg = gw
        .wait_for(&resent, "delivered", Duration::from_secs(20))
        .await;
    assert_eq!(msg["resend_of"], id.as_str());

    // Once resent, the original reports it and refuses a second resend.
    let (_, original) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(
        original["deliveries"][0]["failure"]["resend"]["when"],
        "already_resent"
    );
    let (status, _) = gw
        .post_json(&format!("/v1/messages/{id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
