//! AlimTalk end to end: a Solapi-style template send with HMAC auth, signed status reports
//! back, and typed failures that tell fallback to switch to SMS/LMS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::Gateway;

const ORDER_SHIPPED: &str = "KA01TP_SB_ORDER_SHIPPED";

fn alimtalk(phone: &str, variables: Value) -> Value {
    json!({"channel": "alimtalk", "to": {"phone": phone},
           "content": {"template": {"id": ORDER_SHIPPED, "variables": variables}}})
}

fn shipped() -> Value {
    json!({"#{name}": "김지수", "#{order}": "A-1042"})
}

async fn sends_to(gw: &Gateway, to: &str) -> Vec<Value> {
    let all = gw.sim_get("/_sandbox/alimtalk/messages").await;
    let list = all
        .as_array()
        .cloned()
        .or_else(|| all["messages"].as_array().cloned())
        .unwrap_or_default();
    list.into_iter()
        .filter(|m| {
            let body = body_of(m);
            body["message"]["to"] == to
        })
        .collect()
}

fn body_of(m: &Value) -> Value {
    let raw = m
        .get("request")
        .or_else(|| m.get("body"))
        .cloned()
        .unwrap_or(Value::Null);
    match raw {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
        v => v,
    }
}

fn header(m: &Value, name: &str) -> Option<String> {
    let h = &m["headers"];
    if let Some(v) = h.get(name).and_then(Value::as_str) {
        return Some(v.to_string());
    }
    h.as_array()?
        .iter()
        .find(|p| p[0].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
        .and_then(|p| p[1].as_str().map(String::from))
}

#[tokio::test]
async fn a_template_send_is_signed_and_reported_delivered() {
    let gw = Gateway::start("alimtalk-send", &[]);
    let id = gw.send(&alimtalk("+82 10-1234-5678", shipped())).await;
    let msg = gw.wait_for(&id, "delivered", Duration::from_secs(20)).await;
    let d = &msg["deliveries"][0];
    assert_eq!(d["product"], "alimtalk");
    let timeline: Vec<&str> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert!(timeline.ends_with(&["sent", "delivered"]), "{msg:#}");

    let sends = sends_to(&gw, "01012345678").await;
    assert_eq!(sends.len(), 1, "{sends:#?}");
    let body = body_of(&sends[0]);
    let m = &body["message"];
    assert_eq!(m["type"], "ATA");
    assert_eq!(m["from"], switchboard_sandbox::SANDBOX_ALIMTALK_SENDER);
    let k = &m["kakaoOptions"];
    assert_eq!(k["pfId"], switchboard_sandbox::SANDBOX_ALIMTALK_PF_ID);
    assert_eq!(k["templateId"], ORDER_SHIPPED);
    assert_eq!(k["variables"], shipped());
    assert_eq!(k["disableSms"], true, "the gateway runs the SMS leg itself");
    let auth = header(&sends[0], "authorization").expect("auth header");
    assert!(
        auth.starts_with(&format!(
            "HMAC-SHA256 apiKey={}, date=",
            switchboard_sandbox::SANDBOX_ALIMTALK_API_KEY
        )),
        "{auth}"
    );
    assert!(
        auth.contains(", salt=") && auth.contains(", signature="),
        "{auth}"
    );
}

#[tokio::test]
async fn kakao_results_become_typed_reasons() {
    let gw = Gateway::start("alimtalk-reasons", &[]);
    for (phone, reason, code) in [
        ("+821000003104", "recipient_unavailable", "3104"),
        ("+821000003107", "blocked", "3107"),
        ("+821000001030", "insufficient_funds", "1030"),
        ("+821000001061", "opted_out", "1061"),
    ] {
        let id = gw.send(&alimtalk(phone, shipped())).await;
        let failure = gw.failure_of(&id).await;
        assert_eq!(failure["reason"], reason, "{phone}: {failure}");
        assert_eq!(failure["provider_code"], code, "{phone}: {failure}");
    }
    // A variable the template does not have: template mismatch.
    let id = gw
        .send(&alimtalk(
            "+821055550001",
            json!({"#{name}": "김지수", "#{coupon}": "X"}),
        ))
        .await;
    let failure = gw.failure_of(&id).await;
    assert_eq!(failure["reason"], "content_rejected", "{failure}");
    assert_eq!(failure["resend"]["when"], "never");
}

/// Milliseconds to add to the wall clock to land on `hour`:`minute` KST, at least `after`
/// from now (the clock only moves forward).
fn offset_to_kst(hour: i64, minute: i64, after: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = 86_400_000;
    let kst = now + 9 * 3_600_000;
    let mut target = kst - kst.rem_euclid(day) + (hour * 60 + minute) * 60_000;
    while target - kst < after {
        target += day;
    }
    target - kst
}

#[tokio::test]
async fn outside_sending_hours_waits_for_the_morning() {
    let gw = Gateway::start("alimtalk-hours", &[]);
    gw.sim_put(
        "/_sandbox/alimtalk/config",
        json!({"enforce_sending_hours": true}),
    )
    .await;
    let evening = offset_to_kst(21, 0, 0);
    gw.set_clock(evening).await;
    let id = gw.send(&alimtalk("+821012340000", shipped())).await;
    let msg = loop {
        let (_, msg) = gw.get(&format!("/v1/messages/{id}")).await;
        if msg["deliveries"][0]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break msg;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let d = &msg["deliveries"][0];
    assert_eq!(d["attempts"][0]["reason"], "outside_hours", "{msg:#}");
    assert_eq!(d["attempts"][0]["outcome"], "retry_scheduled");
    let next = humantime::parse_rfc3339(d["next_attempt_at"].as_str().unwrap()).unwrap();
    let next_ms = next.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let next_kst_minutes = ((next_ms + 9 * 3_600_000).rem_euclid(86_400_000)) / 60_000;
    assert!(
        (8 * 60..8 * 60 + 5).contains(&next_kst_minutes),
        "retry at 08:00 KST, got {next:?}"
    );

    // Morning comes: the retry goes out and is delivered.
    gw.set_clock(offset_to_kst(8, 1, evening + 60_000)).await;
    gw.wait_for(&id, "delivered", Duration::from_secs(20)).await;
}
