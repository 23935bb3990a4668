//! The wallet end to end: prices by product and country, holds and captures around real
//! sends, the last cents under concurrency, a crash between hold and capture, the monthly
//! credit across month boundaries on the controllable clock, auto-charge through the card
//! simulator, and reports that add up to the ledger to the micro-unit.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

mod funds;
mod prices;

/// US SMS, one segment (built-in price list).
pub const US_SMS: i64 = 7_900;
pub const KR_SMS: i64 = 15_000;
pub const KR_LMS: i64 = 40_000;

pub struct Billing<'a> {
    gw: &'a Gateway,
    pub key: String,
    http: reqwest::Client,
}

impl<'a> Billing<'a> {
    pub fn of(gw: &'a Gateway) -> Billing<'a> {
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

    pub async fn get(&self, path: &str) -> Value {
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

    pub async fn text(&self, path: &str) -> String {
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

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
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

    pub async fn balance(&self) -> Value {
        self.get("/v1/billing/balance").await
    }

    /// Every statement entry, following the cursor.
    pub async fn statement(&self) -> Vec<Value> {
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
pub async fn set_wallet(gw: &Gateway, paid: i64, credit: i64) {
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

pub async fn wait_final(gw: &Gateway, id: &str) -> Value {
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

pub fn sum_kind(statement: &[Value], kind: &str) -> i64 {
    statement
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["amount_micros"].as_i64().unwrap())
        .sum()
}

/// `join_all` without a futures dependency: each future on its own task-free poll loop.
pub async fn futures_join<F: std::future::Future<Output = String>>(
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
