//! The simulated FCM (with Google's token endpoint), APNs over HTTP/2 and the receipt-posting
//! device, driven over real HTTP like a gateway would.

#[path = "push/apns.rs"]
mod apns;
mod common;
#[path = "push/harness.rs"]
mod harness;
#[path = "push/keys.rs"]
mod keys;

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_FCM_CLIENT_EMAIL, SANDBOX_FCM_PRIVATE_KEY_PEM};

use crate::harness::{Sim, fcm_body, now_secs, rs256_jwt};
use crate::keys::WRONG_RSA_PEM;

#[tokio::test]
async fn token_endpoint_checks_the_service_account_jwt() {
    let sim = Sim::start().await;
    let (status, body) = sim.exchange(&sim.assertion()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().unwrap().starts_with("ya29."));
    assert_eq!(
        (body["expires_in"].as_u64(), body["token_type"].as_str()),
        (Some(3599), Some("Bearer"))
    );

    let now = now_secs();
    let claims = |aud: &str, iss: &str, iat: u64, exp: u64| {
        json!({"iss": iss, "scope": "https://www.googleapis.com/auth/firebase.messaging",
               "aud": aud, "iat": iat, "exp": exp})
    };
    let good_aud = sim.token_url();
    let email = SANDBOX_FCM_CLIENT_EMAIL;
    let key = SANDBOX_FCM_PRIVATE_KEY_PEM;
    let tampered = {
        let jwt = sim.assertion();
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        let other = rs256_jwt(key, claims(&good_aud, email, now, now + 7200));
        parts[1] = other.split('.').nth(1).unwrap().to_owned();
        parts.join(".")
    };
    let bad = [
        (
            rs256_jwt(WRONG_RSA_PEM, claims(&good_aud, email, now, now + 3600)),
            "Invalid JWT Signature.",
        ),
        (tampered, "Invalid JWT Signature."),
        (
            rs256_jwt(
                key,
                claims(
                    "https://oauth2.googleapis.com/token",
                    email,
                    now,
                    now + 3600,
                ),
            ),
            "Invalid JWT: Failed audience check.",
        ),
        (
            rs256_jwt(
                key,
                claims(&good_aud, "x@y.iam.gserviceaccount.com", now, now + 3600),
            ),
            "Invalid grant: account not found",
        ),
        (
            rs256_jwt(key, claims(&good_aud, email, now - 7200, now - 3600)),
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ),
        ("not.a.jwt".to_owned(), "Invalid JWT: malformed"),
    ];
    for (assertion, description) in bad {
        let (status, body) = sim.exchange(&assertion).await;
        assert_eq!(status, 400, "{description}");
        assert_eq!(
            body,
            json!({"error": "invalid_grant", "error_description": description})
        );
    }
    let resp = sim
        .http
        .post(sim.token_url())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let stats = sim.get("/_sandbox/push/stats").await;
    assert_eq!(
        (
            stats["token_exchanges"].as_u64(),
            stats["token_exchange_failures"].as_u64()
        ),
        (Some(1), Some(7))
    );
}

#[tokio::test]
async fn fcm_send_is_received_then_opened_with_signed_receipts() {
    let sim = Sim::start().await;
    let access = sim.access_token().await;
    let resp = sim
        .fcm_send(&access, &fcm_body("fcm-device-1", "msg_1"))
        .await;
    assert_eq!(resp.status(), 200);
    let name = resp.json::<Value>().await.unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        name.starts_with("projects/switchboard-sandbox/messages/0:"),
        "{name}"
    );

    let receipts = sim.receipts(2).await;
    let events: Vec<_> = receipts.iter().map(|r| r.body["event"].clone()).collect();
    assert_eq!(events, ["received", "opened"]);
    for r in &receipts {
        assert!(r.verified, "{r:?}");
        assert_eq!(r.body["message_id"], "msg_1");
        assert_eq!(r.body["connection_id"], "conn_push");
        assert!(r.body["timestamp_ms"].as_u64().unwrap() / 1000 >= now_secs() - 5);
    }

    let log = sim.get("/_sandbox/push/messages").await;
    let req = &log["requests"][0];
    assert_eq!(req["platform"], "fcm");
    assert_eq!(req["token"], "fcm-device-1");
    assert_eq!(req["status"], 200);
    assert_eq!(req["outcome"], "accepted");
    assert_eq!(req["provider_message_id"], name.as_str());
    assert_eq!(req["sb_message_id"], "msg_1");
    assert_eq!(req["headers"]["authorization"], format!("Bearer {access}"));
    let raw: Value = serde_json::from_str(req["body"].as_str().unwrap()).unwrap();
    assert_eq!(raw, fcm_body("fcm-device-1", "msg_1"));
    assert_eq!(req["events"], json!(["received", "opened"]));
    assert_eq!(req["receipts"].as_array().unwrap().len(), 2);
    assert_eq!(log["token_requests"]["fcm-device-1"], 1);
    assert_eq!(log["stats"]["receipts_sent"], 2);
}

#[tokio::test]
async fn fcm_needs_a_live_access_token_for_the_project() {
    let sim = Sim::start().await;
    let unauth = json!({"error": {"code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "status": "UNAUTHENTICATED"}});
    let resp = sim.fcm_send("ya29.made-up", &fcm_body("t", "m")).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap(), unauth);

    let access = sim.access_token().await;
    assert_eq!(
        sim.fcm_send(&access, &fcm_body("t", "m")).await.status(),
        200
    );
    let resp = sim
        .http
        .post(sim.url("/v1/projects/someone-else/messages:send"))
        .bearer_auth(&access)
        .json(&fcm_body("t", "m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "PERMISSION_DENIED"
    );
    // An hour later by the simulator clock the token is dead.
    sim.set_clock(3_600_000).await;
    let resp = sim.fcm_send(&access, &fcm_body("t", "m")).await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn fcm_magic_tokens_payload_limit_and_faults() {
    let sim = Sim::start().await;
    let access = sim.access_token().await;
    let err = |v: &Value| {
        (
            v["error"]["status"].as_str().unwrap().to_owned(),
            v["error"]["details"][0]["errorCode"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    let resp = sim.fcm_send(&access, &fcm_body("dead-1", "m1")).await;
    assert_eq!(resp.status(), 404);
    let body = resp.json::<Value>().await.unwrap();
    assert_eq!(
        body["error"]["details"][0]["@type"],
        "type.googleapis.com/google.firebase.fcm.v1.FcmError"
    );
    assert_eq!(err(&body), ("NOT_FOUND".into(), "UNREGISTERED".into()));
    let resp = sim.fcm_send(&access, &fcm_body("bad-1", "m2")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        err(&resp.json().await.unwrap()),
        ("INVALID_ARGUMENT".into(), "INVALID_ARGUMENT".into())
    );
    let mut big = fcm_body("t", "m3");
    big["message"]["notification"]["body"] = json!("x".repeat(4000));
    let resp = sim.fcm_send(&access, &big).await;
    assert_eq!(resp.status(), 400);

    sim.fault(
        json!({"channel": "push", "match": {"to": "busy"}, "times": 1,
                     "action": {"status": 429, "retry_after_s": 90}}),
    )
    .await;
    let resp = sim.fcm_send(&access, &fcm_body("busy", "m4")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "90");
    assert_eq!(
        err(&resp.json().await.unwrap()),
        ("RESOURCE_EXHAUSTED".into(), "QUOTA_EXCEEDED".into())
    );
    assert_eq!(
        sim.fcm_send(&access, &fcm_body("busy", "m5"))
            .await
            .status(),
        200
    );

    // silent never acknowledges, noopen only says received.
    assert_eq!(
        sim.fcm_send(&access, &fcm_body("silent-1", "m6"))
            .await
            .status(),
        200
    );
    assert_eq!(
        sim.fcm_send(&access, &fcm_body("noopen-1", "m7"))
            .await
            .status(),
        200
    );
    sim.receipts(3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let receipts_after = sim.receipts.received();
    assert_eq!(receipts_after.len(), 3, "{receipts_after:?}");
    let of = |id: &str| -> Vec<String> {
        receipts_after
            .iter()
            .filter(|r| r.body["message_id"] == id)
            .map(|r| r.body["event"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(of("m5"), ["received", "opened"]);
    assert_eq!(of("m7"), ["received"]);
    assert!(of("m6").is_empty() && of("m1").is_empty() && of("m4").is_empty());

    let log = sim.get("/_sandbox/push/messages").await;
    let outcomes: Vec<_> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        [
            "UNREGISTERED",
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "QUOTA_EXCEEDED",
            "accepted",
            "accepted",
            "accepted"
        ]
    );
    assert_eq!(log["token_requests"]["dead-1"], 1);
    assert_eq!(log["token_requests"]["busy"], 2);
}

#[tokio::test]
async fn receipt_faults_apply_to_the_device() {
    let sim = Sim::start().await;
    let access = sim.access_token().await;
    sim.fault(
        json!({"channel": "push", "match": {"to": "dup"}, "action": {"duplicate_callbacks": true}}),
    )
    .await;
    sim.fault(
        json!({"channel": "push", "match": {"to": "drop"}, "action": {"drop_callbacks": true}}),
    )
    .await;
    assert_eq!(
        sim.fcm_send(&access, &fcm_body("drop", "m_drop"))
            .await
            .status(),
        200
    );
    assert_eq!(
        sim.fcm_send(&access, &fcm_body("dup", "m_dup"))
            .await
            .status(),
        200
    );
    let receipts = sim.receipts(4).await;
    assert!(
        receipts
            .iter()
            .all(|r| r.body["message_id"] == "m_dup" && r.verified)
    );
    let log = sim.get("/_sandbox/push/messages").await;
    // The dropped push still reached the device: its events came due without a POST.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let log2 = sim.get("/_sandbox/push/messages").await;
    assert_eq!(log2["requests"][0]["events"], json!(["received", "opened"]));
    assert!(
        log2["requests"][0]["receipts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(log["requests"][1]["receipts"].as_array().unwrap().len() >= 2);
}
