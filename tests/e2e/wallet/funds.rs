//! Funds: the last cents under concurrency, a crash between hold and capture, the monthly
//! credit across month boundaries, auto-charge and declines.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Billing, US_SMS, futures_join, set_wallet, wait_final};
use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

#[tokio::test]
async fn many_sends_race_for_the_last_cents_and_no_balance_goes_negative() {
    let gw = Gateway::start("wallet-race", &[]);
    let b = Billing::of(&gw);
    set_wallet(&gw, 5 * US_SMS, 0).await;
    let sends = (0..24).map(|i| {
        let gw = &gw;
        async move { gw.send_sms(&format!("+1415557{i:04}"), "last cents").await }
    });
    let ids = futures_join(sends).await;
    let mut delivered = 0;
    let mut refused = 0;
    for id in &ids {
        let m = wait_final(&gw, id).await;
        match m["status"].as_str().unwrap() {
            "delivered" => delivered += 1,
            _ => {
                assert_eq!(
                    m["deliveries"][0]["failure"]["reason"], "insufficient_funds",
                    "{m:#}"
                );
                assert_eq!(m["deliveries"][0]["attempts"][0]["outcome"], "failed");
                refused += 1;
            }
        }
    }
    assert_eq!((delivered, refused), (5, 19));
    let stats = sim_get(&gw.sim, "/_sandbox/stats").await;
    assert_eq!(
        stats["sms"]["requests"], 5,
        "refused sends never reach the provider"
    );
    let after = b.balance().await;
    assert_eq!(
        (after["paid_micros"].as_i64(), after["held_micros"].as_i64()),
        (Some(0), Some(0))
    );
    for e in b.statement().await {
        assert!(e["balance_after_micros"].as_i64().unwrap() >= 0, "{e}");
    }
}

#[tokio::test]
async fn a_crash_between_hold_and_capture_settles_once_after_restart() {
    let sim = SandboxProcess::start();
    let dir = fresh_dir("wallet-crash");
    let listen = format!("127.0.0.1:{}", free_port());
    let args = ["--sandbox-url", sim.url.as_str()];
    let client = reqwest::Client::new();
    client
        .post(format!("{}/_sandbox/faults", sim.url))
        .json(&json!({"channel": "sms", "action": {"latency_ms": 10_000}}))
        .send()
        .await
        .unwrap();
    let mut gw = Gateway::start_in(&dir, &listen, &args);
    let before = Billing::of(&gw).balance().await["available_micros"]
        .as_i64()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            gw.send_sms(&format!("+1415558{i:04}"), "held then killed")
                .await,
        );
    }
    // Wait until the holds are placed (the sends are stuck at the provider), then kill.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let b = Billing::of(&gw).balance().await;
        if b["held_micros"] == 3 * US_SMS {
            break;
        }
        assert!(Instant::now() < deadline, "{b:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.kill();
    client
        .delete(format!("{}/_sandbox/faults", sim.url))
        .send()
        .await
        .unwrap();

    let gw = Gateway::start_in(&dir, &listen, &args);
    for id in &ids {
        gw.wait_for(id, "delivered", Duration::from_secs(60)).await;
    }
    let b = Billing::of(&gw);
    let after = b.balance().await;
    assert_eq!(after["held_micros"], 0);
    assert_eq!(
        before - after["available_micros"].as_i64().unwrap(),
        3 * US_SMS,
        "charged once each"
    );
    let statement = b.statement().await;
    let mut captures: Vec<&str> = statement
        .iter()
        .filter(|e| e["kind"] == "capture")
        .map(|e| e["transaction"].as_str().unwrap())
        .collect();
    captures.dedup();
    assert_eq!(captures.len(), 3, "{statement:#?}");
    assert_eq!(
        sim_get(&sim.url, "/_sandbox/stats").await["sms"]["unique_accepted"],
        3
    );
}

/// Milliseconds from now to the first instant of the month `months` ahead (UTC), plus `extra`.
fn offset_to_month_start(months: u32, extra: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let today = humantime::format_rfc3339(SystemTime::now()).to_string();
    let (mut y, mut m): (i32, u32) = (today[..4].parse().unwrap(), today[5..7].parse().unwrap());
    for _ in 0..months {
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    let start = humantime::parse_rfc3339(&format!("{y:04}-{m:02}-01T00:00:00Z")).unwrap();
    start.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 - now + extra
}

#[tokio::test]
async fn the_monthly_credit_is_granted_spent_first_and_expires_at_month_end() {
    let gw = Gateway::start("wallet-month", &[]);
    let b = Billing::of(&gw);
    set_wallet(&gw, 1_000_000, 0).await;

    // Next month begins: the credit is granted without any traffic.
    gw.set_clock(offset_to_month_start(1, 3_600_000)).await;
    let bal = b.balance().await;
    assert_eq!(bal["credit_micros"], 10_000_000, "{bal:#}");
    let month = bal["credit_month"].as_str().unwrap().to_string();

    // Spent before the paid balance.
    let id = gw.send_sms("+14155559001", "on credit").await;
    let m = wait_final(&gw, &id).await;
    assert_eq!(
        m["deliveries"][0]["cost"]["from_credit_micros"], US_SMS,
        "{m:#}"
    );
    let bal = b.balance().await;
    assert_eq!(
        (bal["credit_micros"].as_i64(), bal["paid_micros"].as_i64()),
        (Some(10_000_000 - US_SMS), Some(1_000_000))
    );

    // The month after: what was left expires, not carried over; a new grant arrives.
    gw.set_clock(offset_to_month_start(2, 3_600_000)).await;
    let bal = b.balance().await;
    assert_eq!(bal["credit_micros"], 10_000_000);
    assert_ne!(bal["credit_month"], month.as_str());
    let statement = b.statement().await;
    let expired = statement
        .iter()
        .find(|e| e["kind"] == "expire" && e["transaction"].as_str().unwrap().ends_with(&month))
        .unwrap_or_else(|| panic!("{statement:#?}"));
    assert_eq!(expired["amount_micros"], -(10_000_000 - US_SMS));
}

#[tokio::test]
async fn auto_charge_fires_once_at_the_threshold_under_concurrency_and_a_decline_pauses_it() {
    let gw = Gateway::start("wallet-auto", &[]);
    let b = Billing::of(&gw);
    set_wallet(&gw, 100_000, 0).await;
    let (status, body) = b
        .send(
            reqwest::Method::PUT,
            "/v1/billing/auto-charge",
            json!({"enabled": true, "threshold_micros": 50_000, "amount_micros": 1_000_000,
                   "monthly_cap_micros": 2_000_000, "card": "tok_visa"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids = futures_join((0..10).map(|i| {
        let gw = &gw;
        async move { gw.send_sms(&format!("+1415556{i:04}"), "auto").await }
    }))
    .await;
    for id in &ids {
        assert_eq!(wait_final(&gw, id).await["status"], "delivered");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let topups = b.get("/v1/billing/topups").await;
        if topups[0]["state"] == "approved" {
            assert_eq!(
                topups.as_array().unwrap().len(),
                1,
                "exactly one top-up: {topups:#}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{topups:#}\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let charges = sim_get(&gw.sim, "/_sandbox/payments/charges").await;
    assert_eq!(charges.as_array().map(Vec::len), Some(1), "{charges:#}");
    assert_eq!(
        b.balance().await["paid_micros"],
        100_000 - 10 * US_SMS + 1_000_000
    );

    // The card starts declining: the next top-up is declined, recorded, and auto-charge pauses.
    gw.sim_put(
        "/_sandbox/payments/cards/tok_visa",
        json!({"decline": "insufficient_funds"}),
    )
    .await;
    set_wallet(&gw, 60_000, 0).await;
    for i in 0..3 {
        let id = gw.send_sms(&format!("+1415559{i:04}"), "declined").await;
        wait_final(&gw, &id).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let bal = loop {
        let bal = b.balance().await;
        if bal["auto_charge"]["status"] == "paused" {
            break bal;
        }
        assert!(Instant::now() < deadline, "{bal:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        bal["auto_charge"]["detail"]
            .as_str()
            .unwrap()
            .contains("insufficient_funds"),
        "{bal:#}"
    );
    let topups = b.get("/v1/billing/topups").await;
    assert_eq!(topups[0]["state"], "declined");
    assert_eq!(topups[0]["decline_code"], "insufficient_funds");
    // Paused: more sends below the threshold try no more charges.
    let id = gw.send_sms("+14155599999", "paused").await;
    wait_final(&gw, &id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        b.get("/v1/billing/topups").await.as_array().unwrap().len(),
        2
    );

    // A manual top-up with a working card goes through; a declined one is a 402.
    let (status, t) = b
        .send(
            reqwest::Method::POST,
            "/v1/billing/topups",
            json!({"amount_micros": 5_000_000, "card": "tok_mastercard"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["state"], "approved");
    // An Idempotency-Key makes a retried request the same top-up, charged once; reusing it
    // for a different amount is refused.
    let keyed = |amount: i64| {
        reqwest::Client::new()
            .post(format!("{}/v1/billing/topups", gw.url))
            .bearer_auth(&b.key)
            .header("idempotency-key", "retry-me")
            .json(&json!({"amount_micros": amount, "card": "tok_mastercard"}))
            .send()
    };
    let first: Value = keyed(3_000_000).await.unwrap().json().await.unwrap();
    let again = keyed(3_000_000).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let other = keyed(4_000_000).await.unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    let charges = sim_get(&gw.sim, "/_sandbox/payments/charges").await;
    let keyed_charges = charges
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["amount"] == 300)
        .count();
    assert_eq!(keyed_charges, 1, "{charges:#}");
    let (status, e) = b
        .send(
            reqwest::Method::POST,
            "/v1/billing/topups",
            json!({"amount_micros": 5_000_000, "card": "tok_visa"}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{e}");
    let (status, e) = b
        .send(
            reqwest::Method::POST,
            "/v1/billing/topups",
            json!({"amount_micros": 5_000_001}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "amount_micros");
}
