//! APNs over HTTP/2: protocol, provider tokens, validation, magic tokens and faults.

use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_APNS_KEY_ID, SANDBOX_APNS_PRIVATE_KEY_PEM, SANDBOX_APNS_TEAM_ID,
};

use crate::harness::{Sim, apns_body, apns_jwt, es256_jwt, now_secs};
use crate::keys::WRONG_EC_PEM;

#[tokio::test]
async fn apns_speaks_only_http2() {
    let sim = Sim::start().await;
    let resp = sim
        .http
        .post(sim.url("/3/device/abc123"))
        .header("authorization", format!("bearer {}", apns_jwt()))
        .header("apns-topic", switchboard_sandbox::SANDBOX_APNS_TOPIC)
        .json(&apns_body("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.status(), 505);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"reason": "HTTP2Required"})
    );
}

#[tokio::test]
async fn apns_accepts_a_signed_push_and_the_device_acknowledges() {
    let sim = Sim::start().await;
    let id = "8E2F1C3A-1111-4222-8333-444455556666";
    let resp = sim
        .apns("a1b2c3")
        .header("authorization", format!("bearer {}", apns_jwt()))
        .header("apns-id", id)
        .header("apns-priority", "10")
        .header("apns-expiration", "0")
        .header("apns-collapse-id", "order-42")
        .json(&apns_body("msg_ios"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["apns-id"], id);
    assert!(resp.bytes().await.unwrap().is_empty());
    let receipts = sim.receipts(2).await;
    assert!(
        receipts
            .iter()
            .all(|r| r.verified && r.body["message_id"] == "msg_ios")
    );

    let log = sim.get("/_sandbox/push/messages").await;
    let req = &log["requests"][0];
    assert_eq!(
        (req["platform"].as_str(), req["http_version"].as_str()),
        (Some("apns"), Some("HTTP/2.0"))
    );
    assert_eq!(req["headers"]["apns-collapse-id"], "order-42");
    assert_eq!(req["headers"]["apns-push-type"], "alert");
    assert_eq!(req["provider_message_id"], id);
}

#[tokio::test]
async fn apns_provider_token_checks() {
    let sim = Sim::start().await;
    let now = now_secs();
    let send = |jwt: Option<String>| {
        let mut req = sim.apns("a1b2c3").json(&apns_body("m"));
        if let Some(j) = jwt {
            req = req.header("authorization", format!("bearer {j}"));
        }
        req.send()
    };
    let reason = |v: Value| v["reason"].as_str().unwrap().to_owned();
    let cases = [
        (None, "MissingProviderToken"),
        (
            Some(es256_jwt(
                WRONG_EC_PEM,
                SANDBOX_APNS_KEY_ID,
                SANDBOX_APNS_TEAM_ID,
                now,
            )),
            "InvalidProviderToken",
        ),
        (
            Some(es256_jwt(
                SANDBOX_APNS_PRIVATE_KEY_PEM,
                "OTHERKEY01",
                SANDBOX_APNS_TEAM_ID,
                now,
            )),
            "InvalidProviderToken",
        ),
        (
            Some(es256_jwt(
                SANDBOX_APNS_PRIVATE_KEY_PEM,
                SANDBOX_APNS_KEY_ID,
                "OTHERTEAM1",
                now,
            )),
            "InvalidProviderToken",
        ),
        (
            Some(es256_jwt(
                SANDBOX_APNS_PRIVATE_KEY_PEM,
                SANDBOX_APNS_KEY_ID,
                SANDBOX_APNS_TEAM_ID,
                now - 3700,
            )),
            "ExpiredProviderToken",
        ),
    ];
    for (jwt, expected) in cases {
        let resp = send(jwt).await.unwrap();
        assert_eq!(resp.status(), 403, "{expected}");
        assert!(resp.headers().contains_key("apns-id"));
        assert_eq!(reason(resp.json().await.unwrap()), expected);
    }
    // A token signed now is expired once the simulator clock moves past an hour.
    let jwt = apns_jwt();
    assert_eq!(send(Some(jwt.clone())).await.unwrap().status(), 200);
    sim.set_clock(3_601_000).await;
    let resp = send(Some(jwt)).await.unwrap();
    assert_eq!(reason(resp.json().await.unwrap()), "ExpiredProviderToken");
}

#[tokio::test]
async fn apns_validation_magic_tokens_and_faults() {
    let sim = Sim::start().await;
    let auth = format!("bearer {}", apns_jwt());
    let reason = |v: Value| v["reason"].as_str().unwrap().to_owned();
    // A signed push of `body` to `token`, `extra` headers on top.
    let post = |token: &str, body: &Value, extra: &[(&str, String)]| {
        let mut req = sim.apns(token).header("authorization", &auth);
        for (name, value) in extra {
            req = req.header(*name, value);
        }
        req.json(body).send()
    };

    let resp = sim
        .h2
        .post(sim.url("/3/device/a1"))
        .header("authorization", &auth)
        .json(&apns_body("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(reason(resp.json().await.unwrap()), "MissingTopic");

    let mut big = apns_body("m");
    big["pad"] = json!("x".repeat(4100));
    let resp = post("a1", &big, &[]).await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(reason(resp.json().await.unwrap()), "PayloadTooLarge");

    let resp = post("dead01", &apns_body("m"), &[]).await.unwrap();
    assert_eq!(resp.status(), 410);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "Unregistered");
    assert!(body["timestamp"].as_u64().is_some());

    let resp = post("bad01", &apns_body("m"), &[]).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(reason(resp.json().await.unwrap()), "BadDeviceToken");

    let resp = post(
        "a1",
        &apns_body("m"),
        &[("apns-collapse-id", "c".repeat(65))],
    )
    .await
    .unwrap();
    assert_eq!(reason(resp.json().await.unwrap()), "BadCollapseId");

    sim.fault(
        json!({"channel": "push", "match": {"to": "busy01"}, "times": 1,
                     "action": {"status": 503, "retry_after_s": 2}}),
    )
    .await;
    let resp = post("busy01", &apns_body("m"), &[]).await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(reason(resp.json().await.unwrap()), "ServiceUnavailable");

    let log = sim.get("/_sandbox/push/messages").await;
    assert_eq!(log["token_requests"]["dead01"], 1);
    assert_eq!(log["stats"]["accepted"], 0);
    assert_eq!(log["stats"]["apns_requests"], 6);
}
