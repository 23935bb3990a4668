//! The wallet end to end: prices by product and country, holds and captures around real
//! sends, the last cents under concurrency, a crash between hold and capture, the monthly
//! credit across month boundaries on the controllable clock, auto-charge through the card
//! simulator, and reports that add up to the ledger to the micro-unit.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

/// US SMS, one segment (built-in price list).
const US_SMS: i64 = 7_900;
const KR_SMS: i64 = 15_000;
const KR_LMS: i64 = 40_000;

struct Billing<'a> {
    gw: &'a Gateway,
    key: String,
    http: reqwest::Client,
}

impl<'a> Billing<'a> {
    fn of(gw: &'a Gateway) -> Billing<'a> {
        let key = std::fs::read_to_string(gw.data_dir.join("sandbox-billing.key"))
            .unwrap()
            .trim()
            .to_string();
        Billing {
            gw,
            key,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.gw.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    async fn text(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.gw.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.text().await.unwrap()
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.gw.url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn balance(&self) -> Value {
        self.get("/v1/billing/balance").await
    }

    /// Every statement entry, following the cursor.
    async fn statement(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .get(&format!("/v1/billing/ledger?limit=50{cursor}"))
                .await;
            all.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return all,
            }
        }
    }
}

/// Sandbox: set the paid balance and the credit.
async fn set_wallet(gw: &Gateway, paid: i64, credit: i64) {
    let r = gw
        .http()
        .put(format!("{}/v1/sandbox/wallet", gw.url))
        .bearer_auth(&gw.key)
        .json(&json!({"paid_micros": paid, "credit_micros": credit}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn wait_final(gw: &Gateway, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = gw.get(&format!("/v1/messages/{id}")).await;
        if m["status"] == "delivered" || m["status"] == "failed" {
            return m;
        }
        assert!(Instant::now() < deadline, "{m:#}\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sum_kind(statement: &[Value], kind: &str) -> i64 {
    statement
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["amount_micros"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn products_and_countries_are_priced_apart_each_delivery_shows_its_cost_and_reports_match_the_ledger()
 {
    let gw = Gateway::start("wallet-prices", &[]);
    let b = Billing::of(&gw);
    let long_korean = "안녕하세요 주문하신 상품이 발송되었습니다. ".repeat(4);
    for (to, text, product, cost) in [
        ("+821055550001", "배송 시작", "sms", KR_SMS),
        ("+821055550002", long_korean.as_str(), "lms", KR_LMS),
        ("+14155550100", "Your order shipped", "sms", US_SMS),
    ] {
        let (status, p) = gw
            .post_json(
                "/v1/messages/preview",
                &json!({"channel": "sms", "to": {"phone": to}, "content": {"text": text}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["product"], product, "{p}");
        assert_eq!(p["cost"]["cost_micros"], cost, "{p}");
        assert_eq!(p["cost"]["currency"], "usd");
    }

    let before = b.balance().await;
    let mut ids = Vec::new();
    for (to, text) in [
        ("+821055550001", "배송 시작"),
        ("+821055550002", long_korean.as_str()),
        ("+14155550100", "Your order shipped"),
        ("+14155550101", "Your order shipped"),
    ] {
        ids.push(gw.send_sms(to, text).await);
    }
    for id in &ids {
        let m = wait_final(&gw, id).await;
        let cost = &m["deliveries"][0]["cost"];
        assert_eq!(cost["state"], "captured", "{m:#}");
        let per_message = b.get(&format!("/v1/billing/messages/{id}")).await;
        assert_eq!(per_message["charged_micros"], cost["micros"]);
    }
    let expected = KR_SMS + KR_LMS + 2 * US_SMS;
    let after = b.balance().await;
    let spent =
        before["available_micros"].as_i64().unwrap() - after["available_micros"].as_i64().unwrap();
    assert_eq!(spent, expected);
    assert_eq!(after["held_micros"], 0);

    // The report, the CSV and the ledger agree to the micro-unit.
    let usage = b.get("/v1/billing/usage").await;
    assert_eq!(usage["total_cost_micros"], expected, "{usage:#}");
    assert_eq!(usage["total_count"], 4);
    let lms = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["product"] == "lms")
        .unwrap();
    assert_eq!(
        (lms["country"].as_str(), lms["cost_micros"].as_i64()),
        (Some("KR"), Some(KR_LMS))
    );
    let statement = b.statement().await;
    assert_eq!(-sum_kind(&statement, "capture"), expected);
    let csv = b.text("/v1/billing/usage.csv").await;
    let total = csv.lines().last().unwrap();
    assert_eq!(
        total,
        format!("TOTAL,,,,4,4,{expected},0.{expected:06}"),
        "{csv}"
    );
    let rows: i64 = csv
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("TOTAL"))
        .map(|l| l.split(',').nth(6).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(rows, expected);

    // Keys are scoped: a sending key cannot read money, a billing key cannot send.
    let (status, _) = gw.get("/v1/billing/balance").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/messages", gw.url))
        .bearer_auth(&b.key)
        .json(&json!({"channel": "sms", "to": {"phone": "+14155550102"}, "content": {"text": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A workspace price wins from its effective date; one in the future does not apply yet.
    let (status, _) = b
        .send(
            reqwest::Method::POST,
            "/v1/billing/prices",
            json!({"channel": "sms", "product": "sms", "country": "US", "unit_price_micros": 5_000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, e) = b
        .send(
            reqwest::Method::POST,
            "/v1/billing/prices",
            json!({"channel": "sms", "product": "sms", "country": "USA", "unit_price_micros": 5_000}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "country");
    let (_, p) = gw
        .post_json(
            "/v1/messages/preview",
            &json!({"channel": "sms", "to": {"phone": "+14155550103"}, "content": {"text": "hi"}}),
        )
        .await;
    assert_eq!(p["cost"]["cost_micros"], 5_000, "{p}");
}

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

/// `join_all` without a futures dependency: each future on its own task-free poll loop.
async fn futures_join<F: std::future::Future<Output = String>>(
    fs: impl Iterator<Item = F>,
) -> Vec<String> {
    let fs: Vec<_> = fs.map(Box::pin).collect();
    let mut out: Vec<Option<String>> = vec![None; fs.len()];
    let mut fs: Vec<Option<_>> = fs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, slot) in fs.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        out[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
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

#[tokio::test]
async fn in_a_first_of_group_only_the_leg_that_was_sent_is_charged() {
    let gw = Gateway::start("wallet-first-of", &[]);
    let b = Billing::of(&gw);
    let policy = json!({"name": "inline", "steps": [
        {"send": {"first_of": ["alimtalk", "sms"]}, "until": "accepted", "timeout_ms": 60000}
    ]});
    let content = json!({"text": "배송 시작",
        "template": {"id": "KA01TP_SB_ORDER_SHIPPED", "variables": {"#{name}": "Jisu", "#{order}": "A-1"}}});
    // +82 10 0000 3104 is not a KakaoTalk user: AlimTalk fails, SMS goes.
    let failed_over = gw
        .send(&json!({"policy": policy, "to": {"phone": "+821000003104"}, "content": content}))
        .await;
    let worked = gw
        .send(&json!({"policy": policy, "to": {"phone": "+821055550009"}, "content": content}))
        .await;
    for id in [&failed_over, &worked] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, m) = gw.get(&format!("/v1/messages/{id}")).await;
            let settled = m["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] == "failed" || d["status"] == "delivered");
            if m["route"]["outcome"] != "running" && settled {
                break;
            }
            assert!(Instant::now() < deadline, "{m:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let cost = b.get(&format!("/v1/billing/messages/{failed_over}")).await;
    let states: Vec<(&str, &str)> = cost["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["channel"].as_str().unwrap(), d["state"].as_str().unwrap()))
        .collect();
    assert!(states.contains(&("sms", "captured")), "{cost:#}");
    assert!(
        states.contains(&("alimtalk", "released")) || states.contains(&("alimtalk", "refunded")),
        "{cost:#}"
    );
    assert_eq!(cost["charged_micros"], KR_SMS, "{cost:#}");
    let cost = b.get(&format!("/v1/billing/messages/{worked}")).await;
    assert_eq!(cost["deliveries"].as_array().unwrap().len(), 1, "{cost:#}");
    assert_eq!(cost["charged_micros"], 6_500, "AlimTalk only: {cost:#}");
}

#[tokio::test]
async fn prices_come_from_a_config_file_with_effective_dates() {
    let dir = fresh_dir("wallet-price-file");
    let file = dir.join("prices.json");
    std::fs::write(
        &file,
        json!([
            {"channel": "sms", "product": "sms", "country": "US", "unit_price_micros": 1_234},
            {"channel": "sms", "product": "sms", "country": "US", "unit_price_micros": 9_999,
             "effective_from": "2099-01-01T00:00:00Z"}
        ])
        .to_string(),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let gw = Gateway::start_in(&dir, &listen, &["--prices", file.to_str().unwrap()]);
    let (_, p) = gw
        .post_json(
            "/v1/messages/preview",
            &json!({"channel": "sms", "to": {"phone": "+14155550104"}, "content": {"text": "hi"}}),
        )
        .await;
    assert_eq!(
        p["cost"]["cost_micros"], 1_234,
        "the 2099 price is not in effect yet: {p}"
    );
    let prices = Billing::of(&gw).get("/v1/billing/prices").await;
    assert!(
        prices
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["source"] == "config"),
        "{prices:#}"
    );
    drop(gw);

    std::fs::write(
        &file,
        json!([{"channel": "sms", "product": "sms", "country": "USA", "unit_price_micros": 1}])
            .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(crate::support::bin())
        .args(["serve", "--sandbox", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(&dir)
        .arg("--prices")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[0].country"), "{stderr}");
}
