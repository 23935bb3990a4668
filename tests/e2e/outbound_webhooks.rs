//! Status webhooks to the business: signed per Standard Webhooks (checked by a verifier
//! written here from the specification, and proven on its published test vector), retried
//! on the fixed schedule (driven by the sandbox clock), disabled after sustained failure,
//! and replayable.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::receiver::{Received, Receiver};
use crate::support::Gateway;

/// A receiver's verifier, from the specification alone: the secret is base64 after
/// `whsec_`; the signed content is `id.timestamp.body`; the header lists space-separated
/// `v1,<base64>` signatures, any of which may match; the timestamp must be recent.
fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str, now_s: i64) -> bool {
    let Ok(key) = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)) else {
        return false;
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now_s - ts).abs() > 5 * 60 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| sig == expected)
}

pub(crate) fn verify_received(secret: &str, r: &Received, now_s: i64) -> bool {
    verify(
        secret,
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        &r.body,
        r.header("webhook-signature"),
        now_s,
    )
}

#[test]
fn the_independent_verifier_accepts_the_specification_test_vector() {
    let (secret, id, ts) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
    );
    let body = br#"{"test": 2432232314}"#;
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verify(secret, id, ts, body, sig, 1614265330));
    assert!(verify(
        secret,
        id,
        ts,
        body,
        &format!("v1,bm9wZQ== {sig}"),
        1614265330
    ));
    assert!(!verify(
        secret,
        id,
        ts,
        br#"{"test": 2432232315}"#,
        sig,
        1614265330
    ));
    assert!(!verify(secret, "msg_other", ts, body, sig, 1614265330));
    assert!(
        !verify(secret, id, ts, body, sig, 1614265330 + 3600),
        "stale"
    );
}

pub(crate) async fn endpoint(gw: &Gateway, url: &str, types: Value) -> (String, String) {
    let (s, ep) = gw
        .post_json(
            "/v1/webhook-endpoints",
            &json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ep}");
    (
        ep["id"].as_str().unwrap().to_string(),
        ep["secret"].as_str().unwrap().to_string(),
    )
}

pub(crate) fn gateway_now_s(gw_offset_ms: i64) -> i64 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + gw_offset_ms)
        / 1000
}

#[tokio::test]
async fn status_events_arrive_signed_and_rotation_signs_with_both_secrets() {
    let rx = Receiver::start().await;
    let allow = format!("127.0.0.1:{}", rx.port);
    let gw = Gateway::start("webhooks-signed", &["--allow-private-net", &allow]);
    let (ep, secret) = endpoint(&gw, &format!("{}/hooks", rx.url), json!([])).await;
    // The secret is shown once: listing shows no secret.
    let (_, listed) = gw.get("/v1/webhook-endpoints").await;
    assert!(!listed.to_string().contains(&secret));

    let id = gw.send_sms("+14155550142", "hello hooks").await;
    gw.wait_for(&id, "delivered", Duration::from_secs(20)).await;
    let got = rx.wait_for(3, Duration::from_secs(20)).await;
    let mut kinds = Vec::new();
    for r in &got {
        assert!(
            verify_received(&secret, r, gateway_now_s(0)),
            "bad signature: {r:?}"
        );
        assert_eq!(r.header("content-type"), "application/json");
        let v = r.json();
        assert_eq!(v["data"]["message_id"], id.as_str(), "{v}");
        kinds.push(v["type"].as_str().unwrap().to_string());
    }
    for k in ["message.queued", "message.sent", "message.delivered"] {
        assert!(kinds.iter().any(|x| x == k), "{kinds:?}");
    }
    // webhook-id is the event id, as listed by /v1/events.
    let (_, events) = gw.get("/v1/events?type=message.delivered").await;
    let delivered = got
        .iter()
        .find(|r| r.json()["type"] == "message.delivered")
        .unwrap();
    assert_eq!(events["data"][0]["id"], delivered.header("webhook-id"));
    // A tampered body fails the verifier.
    let mut forged = delivered.clone();
    forged.body = axum::body::Bytes::from(
        String::from_utf8_lossy(&delivered.body).replace("delivered", "seen"),
    );
    assert!(!verify_received(&secret, &forged, gateway_now_s(0)));

    // Rotation: for a day, deliveries carry both signatures.
    let (s, rotated) = gw
        .post_json(
            &format!("/v1/webhook-endpoints/{ep}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let before = rx.received().len();
    let id2 = gw.send_sms("+14155550143", "after rotation").await;
    gw.wait_for(&id2, "delivered", Duration::from_secs(20))
        .await;
    let got = rx.wait_for(before + 3, Duration::from_secs(20)).await;
    let last = got.last().unwrap();
    assert_eq!(last.header("webhook-signature").split(' ').count(), 2);
    assert!(verify_received(&new_secret, last, gateway_now_s(0)));
    assert!(verify_received(&secret, last, gateway_now_s(0)));
}

#[tokio::test]
async fn failed_deliveries_follow_the_schedule_then_disable_the_endpoint_and_replay() {
    let rx = Receiver::start().await;
    rx.answer(503);
    let allow = format!("127.0.0.1:{}", rx.port);
    // Attempt 7 comes at most 21.1 h after the first (17.6 h + 20 % jitter), attempt 8 at
    // least 22.07 h after (27.6 h − 20 %): a 22 h limit falls between them whatever the jitter.
    let gw = Gateway::start(
        "webhooks-schedule",
        &[
            "--allow-private-net",
            &allow,
            "--webhook-disable-after-hours",
            "22",
        ],
    );
    let (ep, secret) = endpoint(&gw, &rx.url, json!(["message.queued"])).await;
    let id = gw.send_sms("+14155550144", "retry me").await;

    // Attempt 1 is immediate; each later one waits its delay (±20 % jitter) by the
    // gateway clock, which the test moves instead of waiting hours.
    let schedule_s = [5i64, 300, 1800, 7200, 18000, 36000, 36000];
    let mut offset = 0i64;
    rx.wait_for(1, Duration::from_secs(20)).await;
    for (n, delay) in schedule_s.iter().enumerate() {
        let attempts = n + 1;
        let deliveries = wait_deliveries(&gw, &ep, |d| {
            d["attempts"].as_array().unwrap().len() == attempts && d["next_attempt_at"].is_string()
        })
        .await;
        let d = &deliveries[0];
        let last_at = ms(d["attempts"][n]["at"].as_str().unwrap());
        let next = ms(d["next_attempt_at"].as_str().unwrap());
        let gap = (next - last_at) as f64 / 1000.0;
        assert!(
            gap >= *delay as f64 * 0.8 - 0.01 && gap <= *delay as f64 * 1.2 + 0.01,
            "attempt {attempts}: next in {gap} s, schedule says {delay} s"
        );
        assert_eq!(d["attempts"][n]["status"], 503);
        // Nothing goes early: the receiver has exactly `attempts` requests.
        assert_eq!(rx.received().len(), attempts);
        // Jump the clock just past the due time.
        offset = offset.max(next - wall_ms() + 100);
        gw.set_clock(offset).await;
        rx.wait_for(attempts + 1, Duration::from_secs(20)).await;
    }
    // Eight attempts over ~27.6 hours: the delivery failed, and with every attempt failing
    // for more than 22 hours the endpoint is disabled, at the eighth and not before.
    let deliveries = wait_deliveries(&gw, &ep, |d| d["state"] == "failed").await;
    assert_eq!(deliveries[0]["attempts"].as_array().unwrap().len(), 8);
    let (_, e) = gw.get(&format!("/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(e["status"], "disabled", "{e}");
    assert!(
        e["status_detail"].as_str().unwrap().contains("22 hours"),
        "{e}"
    );
    // Every request carried the same webhook-id and a valid signature for its own time.
    let got = rx.received();
    assert_eq!(got.len(), 8);
    let first_id = got[0].header("webhook-id").to_string();
    assert!(got.iter().all(|r| r.header("webhook-id") == first_id));
    assert!(got.iter().all(|r| verify_received(
        &secret,
        r,
        r.header("webhook-timestamp").parse().unwrap()
    )));

    // While disabled, new events are not delivered there.
    let _ = gw.send_sms("+14155550145", "while disabled").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.received().len(), 8);

    // Fixed: enable it and replay what failed. The replay keeps the event's webhook-id.
    rx.answer(204);
    let (s, _) = gw
        .patch_json(
            &format!("/v1/webhook-endpoints/{ep}"),
            &json!({"status": "enabled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, r) = gw
        .post_json(
            &format!("/v1/webhook-endpoints/{ep}/replay"),
            &json!({"only_failed": true, "since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["queued"], 1, "{r}");
    let got = rx.wait_for(9, Duration::from_secs(20)).await;
    assert_eq!(got[8].header("webhook-id"), first_id);
    assert_eq!(got[8].json()["data"]["message_id"], id.as_str());
    wait_deliveries(&gw, &ep, |d| {
        d["replay"] == true && d["state"] == "delivered"
    })
    .await;
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn ms(rfc3339: &str) -> i64 {
    humantime::parse_rfc3339(rfc3339)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn wait_deliveries(gw: &Gateway, ep: &str, ok: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = gw
            .get(&format!("/v1/webhook-endpoints/{ep}/deliveries"))
            .await;
        let list = list.as_array().cloned().unwrap_or_default();
        if list.iter().any(&ok) {
            return list.into_iter().filter(|d| ok(d)).collect();
        }
        assert!(std::time::Instant::now() < deadline, "{list:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The wallet tells the business when its paid balance crosses below the alert threshold,
/// once per crossing, not on every send below it.
#[tokio::test]
async fn a_low_balance_is_announced_once_per_crossing() {
    let gw = Gateway::start("webhooks-low-balance", &[]);
    let billing = std::fs::read_to_string(gw.data_dir.join("sandbox-billing.key"))
        .unwrap()
        .trim()
        .to_string();
    let (s, _) = gw
        .call(
            reqwest::Method::PUT,
            "/v1/billing/low-balance-alert",
            &billing,
            Some(&json!({"threshold_micros": 100_000})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // No credit, just above the threshold: the first text (7,900) crosses it.
    let r = gw
        .http()
        .put(format!("{}/v1/sandbox/wallet", gw.url))
        .bearer_auth(&gw.key)
        .json(&json!({"paid_micros": 105_000, "credit_micros": 0}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for i in 0..3 {
        let id = gw.send_sms(&format!("+1415555019{i}"), "low").await;
        gw.wait_for(&id, "delivered", Duration::from_secs(20)).await;
    }
    let (_, events) = gw.get("/v1/events?type=wallet.low_balance").await;
    let list = events["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{events}");
    assert_eq!(list[0]["data"]["threshold_micros"], 100_000);
    assert_eq!(list[0]["data"]["paid_micros"], 105_000 - 7_900);
}
