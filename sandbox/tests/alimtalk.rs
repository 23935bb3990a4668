//! The simulated Solapi AlimTalk API and its signed delivery reports, over real HTTP.

mod common;
#[path = "alimtalk/harness.rs"]
mod harness;
#[path = "alimtalk/list.rs"]
mod list;
#[path = "alimtalk/refusals.rs"]
mod refusals;

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_ALIMTALK_TEMPLATES;
use switchboard_sandbox::alimtalk::time;

use crate::common::get_json;
use crate::harness::{Sim, TO, order_shipped};

fn id(v: &Value) -> String {
    v["messageId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn accepted_send_reports_3000_then_4000_signed() {
    let sim = Sim::start().await;
    let (status, body) = sim.send(&order_shipped(TO)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["statusCode"], "2000");
    assert_eq!(
        (body["to"].as_str(), body["from"].as_str()),
        (Some(TO), Some("0212345678"))
    );
    assert_eq!(
        (body["type"].as_str(), body["country"].as_str()),
        (Some("ATA"), Some("82"))
    );
    let message_id = id(&body);
    assert!(message_id.starts_with("M4V") && body["groupId"].as_str().unwrap().starts_with("G4V"));

    let reports = sim.receiver.wait_for(&message_id, 2).await;
    let now = sim.sim_now().await;
    let codes: Vec<String> = reports.iter().map(|r| r.code()).collect();
    assert_eq!(codes, ["3000", "4000"]);
    for r in &reports {
        assert!(r.verifies(now), "{r:?}");
        assert_eq!(r.content_type, "application/json");
        let e = r.entry();
        assert_eq!(e["customFields"]["sb_message_id"], "msg_1");
        assert_eq!(
            (e["to"].as_str(), e["type"].as_str()),
            (Some(TO), Some("ATA"))
        );
        assert!(time::parse_iso(e["dateReceived"].as_str().unwrap()).is_some());
        // A tampered body no longer matches its signature.
        let mut tampered = r.clone();
        tampered.body = String::from_utf8_lossy(&r.body)
            .replace(&message_id, "M4VOTHER")
            .into_bytes()
            .into();
        assert!(!tampered.verifies(now));
    }

    let received = sim.received().await;
    assert_eq!(received.len(), 1);
    let rec = &received[0];
    let sent: Value = serde_json::from_str(rec["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, order_shipped(TO));
    assert_eq!(
        (rec["http_status"].as_u64(), rec["status_code"].as_str()),
        (Some(200), Some("2000"))
    );
    assert_eq!(rec["message_id"], message_id.as_str());
    let auth = rec["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "authorization")
        .unwrap();
    assert!(auth[1].as_str().unwrap().starts_with("HMAC-SHA256 apiKey="));
    let due: Vec<&str> = rec["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["statusCode"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["3000", "4000"]);
    let callbacks = rec["callbacks"].as_array().unwrap();
    assert_eq!(callbacks.len(), 2);
    assert!(callbacks.iter().all(|c| c["ok"] == true));
}

#[tokio::test]
async fn magic_numbers_fail_by_report_or_immediately() {
    let sim = Sim::start().await;
    for (to, code) in [
        ("01000003104", "3104"),
        ("01000003107", "3107"),
        ("01000001030", "1030"),
        ("01000001061", "1061"),
    ] {
        let (status, body) = sim.send(&order_shipped(to)).await;
        assert_eq!(
            (status, body["statusCode"].as_str()),
            (StatusCode::OK, Some("2000")),
            "{to}"
        );
        let reports = sim.receiver.wait_for(&id(&body), 1).await;
        assert_eq!(reports.len(), 1, "{to}");
        assert_eq!(reports[0].code(), code);
        assert!(
            reports[0].entry()["statusMessage"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(reports[0].verifies(sim.sim_now().await));
    }
    sim.put_config(json!({"immediate_failures": true})).await;
    for (to, code) in [
        ("01000003104", "3104"),
        ("01000003107", "3107"),
        ("01000001030", "1030"),
        ("01000001061", "1061"),
    ] {
        let (status, body) = sim.send(&order_shipped(to)).await;
        assert_eq!(
            (status, body["statusCode"].as_str()),
            (StatusCode::OK, Some(code)),
            "{to}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        assert!(
            sim.receiver.for_message(&id(&body)).is_empty(),
            "{to}: no report after an immediate failure"
        );
    }
    // Ordinary numbers are untouched by the switch.
    let (_, body) = sim.send(&order_shipped(TO)).await;
    assert_eq!(body["statusCode"], "2000");
}

#[tokio::test]
async fn template_mismatches_are_refused() {
    let sim = Sim::start().await;
    assert_eq!(SANDBOX_ALIMTALK_TEMPLATES.len(), 2);
    let tracking = SANDBOX_ALIMTALK_TEMPLATES
        .iter()
        .find(|t| t.buttons.len() == 1)
        .unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = order_shipped(TO);
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| {
                b["message"]["kakaoOptions"]["variables"] = json!({"#{name}": "지수"});
            }),
            "3016",
        ),
        (
            with(&|b| {
                b["message"]["kakaoOptions"]["variables"]["#{extra}"] = json!("x");
            }),
            "3016",
        ),
        (
            with(&|b| {
                b["message"]["text"] = json!("지수님 안녕하세요");
            }),
            "3016",
        ),
        (
            with(&|b| {
                b["message"]["kakaoOptions"]["templateId"] = json!("KA01TP_NOPE");
            }),
            "3015",
        ),
        (
            with(&|b| {
                b["message"]["kakaoOptions"]["templateId"] = json!(tracking.id);
            }),
            "3027",
        ),
        (
            with(&|b| {
                b["message"]["kakaoOptions"]["buttons"] = json!([{"buttonType": "WL", "buttonName": "배송 조회", "linkMo": "https://x.example/"}]);
            }),
            "3027",
        ),
        (
            with(&|b| {
                b["message"]["text"] =
                    json!("지수님, 주문하신 상품(주문번호 A-1001)이 발송되었습니다.");
            }),
            "2000",
        ),
        (
            with(&|b| {
                b["message"]["kakaoOptions"]["templateId"] = json!(tracking.id);
                b["message"]["kakaoOptions"]["buttons"] = json!([{"buttonType": "WL", "buttonName": "배송 조회",
                "linkMo": "https://shop.example/track/A-1001", "linkPc": "https://shop.example/track/A-1001"}]);
            }),
            "2000",
        ),
    ];
    for (i, (body, code)) in cases.iter().enumerate() {
        let (status, answer) = sim.send(body).await;
        assert_eq!(
            (status, answer["statusCode"].as_str()),
            (StatusCode::OK, Some(*code)),
            "case {i}: {answer}"
        );
    }
}

/// The clock offset (from the wall clock, as `PUT /_sandbox/clock` takes it) that puts the
/// simulator at `hour`:30 KST today.
async fn offset_to_kst(sim: &Sim, hour: u64) -> i64 {
    sim.set_clock_offset(0).await;
    let now = sim.sim_now().await;
    let day = 86_400_000u64;
    let kst_midnight = (now + 9 * 3_600_000) / day * day;
    let target_kst = kst_midnight + hour * 3_600_000 + 30 * 60_000;
    target_kst as i64 - (now + 9 * 3_600_000) as i64
}

#[tokio::test]
async fn sending_hours_follow_the_sim_clock() {
    let sim = Sim::start().await;
    sim.put_config(json!({"enforce_sending_hours": true})).await;
    let night = offset_to_kst(&sim, 21).await;
    sim.set_clock_offset(night).await;
    assert_eq!(time::kst_hour(sim.sim_now().await), 21);
    let (status, body) = sim.send(&order_shipped(TO)).await;
    assert_eq!(
        (status, body["statusCode"].as_str()),
        (StatusCode::OK, Some("3108"))
    );
    let early = offset_to_kst(&sim, 7).await;
    sim.set_clock_offset(early).await;
    let (_, body) = sim.send(&order_shipped(TO)).await;
    assert_eq!(body["statusCode"], "3108");
    let day = offset_to_kst(&sim, 10).await;
    sim.set_clock_offset(day).await;
    let (_, body) = sim.send(&order_shipped(TO)).await;
    assert_eq!(body["statusCode"], "2000");
    // Reports are signed with the simulator's (moved) clock.
    let reports = sim.receiver.wait_for(&id(&body), 2).await;
    assert!(reports[0].verifies(sim.sim_now().await));
    // Without enforcement the hour does not matter.
    sim.put_config(json!({"enforce_sending_hours": false}))
        .await;
    sim.set_clock_offset(night).await;
    let (_, body) = sim.send(&order_shipped(TO)).await;
    assert_eq!(body["statusCode"], "2000");
}

/// Solapi has no idempotency key, so neither has the sandbox: `customFields` are echoed, never
/// deduplicated, and the same body sent twice is two messages with their own reports.
#[tokio::test]
async fn a_repeated_send_is_a_second_message() {
    let sim = Sim::start().await;
    let mut body = order_shipped(TO);
    body["message"]["customFields"]["sb_idempotency_key"] = json!("dlv_42");
    let (_, first) = sim.send(&body).await;
    let (_, second) = sim.send(&body).await;
    assert_eq!(
        (&first["statusCode"], &second["statusCode"]),
        (&json!("2000"), &json!("2000"))
    );
    assert_ne!(id(&first), id(&second));
    sim.receiver.wait_for(&id(&first), 2).await;
    sim.receiver.wait_for(&id(&second), 2).await;
    let received = sim.received().await;
    assert_eq!(received.len(), 2);
    assert!(received[1].get("replayed").is_none());
    let stats: Value = get_json(&sim.http, &sim.url("/_sandbox/alimtalk/stats")).await;
    assert_eq!(
        (
            &stats["requests"],
            &stats["unique_accepted"],
            &stats["duplicates"]
        ),
        (&json!(2), &json!(2), &json!(0))
    );
}

#[tokio::test]
async fn config_and_templates_endpoints() {
    let sim = Sim::start().await;
    let resp = sim
        .http
        .put(sim.url("/_sandbox/alimtalk/config"))
        .json(&json!({"webhook_url": "ftp://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = sim
        .http
        .put(sim.url("/_sandbox/alimtalk/config"))
        .json(&json!({"bogus": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let cfg = sim.put_config(json!({"webhook_url": ""})).await;
    assert!(cfg["webhook_url"].is_null());
    assert_eq!(
        (
            cfg["sent_delay_ms"].as_u64(),
            cfg["enforce_sending_hours"].as_bool()
        ),
        (Some(10), Some(false))
    );
    let templates: Value = get_json(&sim.http, &sim.url("/_sandbox/alimtalk/templates")).await;
    assert_eq!(templates[0]["id"], "KA01TP_SB_ORDER_SHIPPED");
    assert!(templates[0]["text"].as_str().unwrap().contains("#{order}"));
    // Reset forgets requests and restores the default config.
    sim.send(&order_shipped(TO)).await;
    let resp = sim
        .http
        .post(sim.url("/_sandbox/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(sim.received().await.is_empty());
    let cfg: Value = sim
        .http
        .get(sim.url("/_sandbox/alimtalk/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["sent_delay_ms"], 20);
}
