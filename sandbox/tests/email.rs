//! The simulated SendGrid v3 API and its Signed Event Webhook, driven over real HTTP like a
//! gateway would.

// A test crate root resolves modules next to itself; keep them in tests/email/ so cargo does
// not build each as a separate test binary.
#[path = "email/activity.rs"]
mod activity;
mod common;
#[path = "email/control.rs"]
mod control;
#[path = "email/domains.rs"]
mod domains;
#[path = "email/faults.rs"]
mod faults;
#[path = "email/harness.rs"]
mod harness;

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_EMAIL_FROM, SANDBOX_SENDGRID_API_KEY};

use crate::harness::{Receiver, Sim, TO, keyed_mail, mail, verifies};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn bad_key_is_401() {
    let sim = Sim::start(None).await;
    let expected = json!({"errors": [{
        "message": "The provided authorization grant is invalid, expired, or revoked",
        "field": null, "help": null}]});
    let body = mail(TO);
    let attempts = [
        sim.http.post(sim.send_url()).json(&body),
        sim.http
            .post(sim.send_url())
            .bearer_auth("SG.nope")
            .json(&body),
        sim.http
            .post(sim.send_url())
            .basic_auth("apikey", Some(SANDBOX_SENDGRID_API_KEY))
            .json(&body),
    ];
    for req in attempts {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.json::<Value>().await.unwrap(), expected);
    }
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(3), Some(0))
    );
}

#[tokio::test]
async fn validation_lists_every_problem() {
    let sim = Sim::start(None).await;
    let fields = |v: &Value| -> Vec<Value> {
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
                assert!(e["help"].is_null());
                e["field"].clone()
            })
            .collect()
    };
    let bad = json!({
        "personalizations": [{"to": [{"email": "not-an-address"}]}],
        "from": {"name": "No address"},
        "content": [{"type": "text/plain", "value": ""}],
    });
    let resp = sim.send(&bad).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        fields(&body),
        [
            json!("personalizations.0.to.0.email"),
            json!("from.email"),
            json!("subject"),
            json!("content.0.value"),
        ]
    );
    let resp = sim
        .send(&json!({"personalizations": [], "content": []}))
        .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        fields(&body),
        [
            json!("personalizations"),
            json!("from.email"),
            json!("subject"),
            json!("content")
        ]
    );

    let resp = sim
        .http
        .post(sim.send_url())
        .bearer_auth(SANDBOX_SENDGRID_API_KEY)
        .header("content-type", "application/json")
        .body("{\"personalizations\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(fields(&body), [Value::Null]);

    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64()
        ),
        (Some(3), Some(0))
    );
    assert!(sim.messages().await.is_empty());
}

#[tokio::test]
async fn accepted_send_records_the_raw_request() {
    let sim = Sim::start(None).await;
    // Sent as text so the recorded body can be compared byte for byte.
    let raw = serde_json::to_string_pretty(&mail(TO)).unwrap();
    let resp = sim
        .http
        .post(sim.send_url())
        .bearer_auth(SANDBOX_SENDGRID_API_KEY)
        .header("content-type", "application/json")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let id = resp.headers()["x-message-id"].to_str().unwrap().to_owned();
    assert!(resp.headers().get("retry-after").is_none());
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(id.len(), 22);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );

    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["x_message_id"], id.as_str());
    assert_eq!(m["to"], json!([TO]));
    assert_eq!(m["from"], SANDBOX_EMAIL_FROM);
    assert_eq!(m["subject"], "Order 42");
    assert_eq!(
        m["content"][1],
        json!({"type": "text/html", "value": "<p>Shipped</p>"})
    );
    assert_eq!(
        m["custom_args"],
        json!({"sb_message_id": "msg_1", "tenant": "t1"})
    );
    assert_eq!(m["request"], raw.as_str());
    // No webhook configured: events still come due, nothing is posted.
    let m = sim.wait_events(&id, 3).await;
    assert!(m["callbacks"].as_array().unwrap().is_empty());

    // Unknown SendGrid paths answer in SendGrid's envelope.
    let resp = sim
        .http
        .get(format!("{}/v3/nope", sim.handle.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.json::<Value>().await.unwrap()["errors"].is_array());
}

#[tokio::test]
async fn events_arrive_signed_and_in_order() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;
    let before = now_secs();
    let id = sim.accept(&mail(TO)).await;

    let got = rx.wait_for(3).await;
    let kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["processed", "delivered", "open"]);
    let mut event_ids = HashSet::new();
    let mut sg_message_ids = HashSet::new();
    for r in &got {
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.user_agent, "SendGrid Event API");
        assert!(verifies(&r.timestamp, &r.body, &r.signature), "{r:?}");
        let ts: u64 = r.timestamp.parse().unwrap();
        assert!(ts >= before && ts <= now_secs());
        let ev = r.event();
        assert_eq!(ev["email"], TO);
        assert!(ev["timestamp"].as_u64().is_some_and(|t| t >= before));
        assert_eq!(ev["sb_message_id"], "msg_1");
        assert_eq!(ev["tenant"], "t1");
        let sg_message_id = ev["sg_message_id"].as_str().unwrap();
        assert!(
            sg_message_id.starts_with(&format!("{id}.filter0001.")),
            "{sg_message_id}"
        );
        sg_message_ids.insert(sg_message_id.to_owned());
        event_ids.insert(ev["sg_event_id"].as_str().unwrap().to_owned());
    }
    assert_eq!((event_ids.len(), sg_message_ids.len()), (3, 1));
    assert_eq!(got[1].event()["response"], "250 OK");
    let open = got[2].event();
    assert!(open["useragent"].is_string() && open["ip"].is_string());

    // A tampered body, another timestamp or a mangled signature no longer verifies.
    let r = &got[1];
    let tampered = String::from_utf8(r.body.to_vec())
        .unwrap()
        .replace("delivered", "bounce");
    assert!(!verifies(&r.timestamp, tampered.as_bytes(), &r.signature));
    assert!(!verifies("1", &r.body, &r.signature));
    assert!(!verifies(&r.timestamp, &r.body, "MEUCIQ=="));

    let m = sim.wait_events(&id, 3).await;
    let outcomes: Vec<(Value, Value)> = m["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["event"].clone(), c["http_status"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!("processed"), json!(200)),
            (json!("delivered"), json!(200)),
            (json!("open"), json!(200))
        ]
    );
    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["callbacks_sent"].as_u64(),
            stats["callbacks_failed"].as_u64()
        ),
        (Some(3), Some(0))
    );
}

#[tokio::test]
async fn magic_addresses() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;
    let cases: [(&str, &[&str]); 5] = [
        ("bounce@sandbox.switchboard.test", &["processed", "bounce"]),
        ("blocked@sandbox.switchboard.test", &["processed", "bounce"]),
        ("dropped@sandbox.switchboard.test", &["dropped"]),
        (
            "spam@sandbox.switchboard.test",
            &["processed", "delivered", "spamreport"],
        ),
        (
            "deferred@sandbox.switchboard.test",
            &["processed", "deferred", "delivered"],
        ),
    ];
    for (to, _) in cases {
        sim.accept(&mail(to)).await;
    }
    let total = cases.iter().map(|(_, e)| e.len()).sum();
    assert_eq!(rx.wait_for(total).await.len(), total);
    for (to, expected) in cases {
        let got = rx.for_email(to);
        let kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
        assert_eq!(kinds, expected, "{to}");
        assert!(
            got.iter()
                .all(|r| verifies(&r.timestamp, &r.body, &r.signature))
        );
    }
    let last = |to| rx.for_email(to).last().unwrap().event();
    let bounce = last("bounce@sandbox.switchboard.test");
    assert_eq!(
        (&bounce["type"], &bounce["status"], &bounce["reason"]),
        (
            &json!("bounce"),
            &json!("5.1.1"),
            &json!("550 5.1.1 The email account that you tried to reach does not exist")
        )
    );
    assert_eq!(last("blocked@sandbox.switchboard.test")["type"], "blocked");
    assert_eq!(
        last("dropped@sandbox.switchboard.test")["reason"],
        "Unsubscribed Address"
    );
    let deferred = rx.for_email("deferred@sandbox.switchboard.test")[1].event();
    assert_eq!(deferred["attempt"], "1");
}

/// SendGrid has no idempotency key, so neither has the sandbox: the same body sent twice (a
/// custom arg named like a key included) is two emails, each with its own events.
#[tokio::test]
async fn a_repeated_send_is_a_second_email() {
    let rx = Receiver::start().await;
    let sim = Sim::start(Some(&rx.url)).await;
    let body = keyed_mail(TO, "dlv_1");
    let first = sim.accept(&body).await;
    let second = sim.accept(&body).await;
    assert_ne!(first, second);

    let stats = sim.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["unique_accepted"].as_u64(),
            stats["duplicates"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    let msgs = sim.messages().await;
    assert_eq!(msgs.len(), 2);
    assert!(msgs[0].get("idempotency_key").is_none());
    assert_eq!(msgs[1]["custom_args"]["sb_idempotency_key"], "dlv_1");

    sim.wait_events(&first, 3).await;
    sim.wait_events(&second, 3).await;
    rx.wait_for(6).await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(rx.received().len(), 6);
}
