//! Prices: by product and country, from the API and a config file, shown before sending and
//! on every delivery; reports that equal the ledger; first-of charging.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{Billing, KR_LMS, KR_SMS, US_SMS, sum_kind, wait_final};
use crate::support::{Gateway, free_port, fresh_dir};

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
        .args(crate::support::database_args(&dir))
        .arg("--prices")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[0].country"), "{stderr}");
}

#[tokio::test]
async fn in_a_first_of_group_only_the_leg_that_was_sent_is_charged() {
    let gw = Gateway::start("wallet-first-of", &[]);
    let b = Billing::of(&gw);
    let policy = json!({"name": "inline", "steps": [
        {"send": {"first_of": ["alimtalk", "sms"]}, "until": "delivered", "timeout_ms": 60000}
    ]});
    let content = json!({"text": "배송 시작",
        "template": {"id": "KA01TP_SB_ORDER_SHIPPED", "variables": {"#{name}": "Jisu", "#{order}": "A-1"}}});
    // +82 10 0000 3104 is not a KakaoTalk user: AlimTalk is accepted, then reported failed
    // (refunded), and SMS goes.
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
