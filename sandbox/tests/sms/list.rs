//! `GET …/Messages.json`: Twilio's Message list, which a client queries to learn whether a
//! send whose answer was lost created a message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM_NUMBER, SandboxConfig, SmsSimConfig,
};

use crate::common::{client, start_sandbox};
use crate::harness::{Sim, TO, basic};

const OTHER: &str = "+15551239999";

impl Sim {
    /// GET of `path_and_query` (relative to the sandbox) with the account's credentials.
    pub async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(format!("{}{path_and_query}", self.handle.base_url()))
            .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    pub async fn list(&self, query: &str) -> (StatusCode, Value) {
        let path = format!("/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json{query}");
        self.get(&path).await
    }
}

fn sids(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sid"].as_str().unwrap().to_owned())
        .collect()
}

/// `YYYY-MM-DD` of now plus `days`, in GMT.
fn day(days: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ms = u64::try_from(now + days * 86_400_000).unwrap();
    switchboard_iso_time::format_iso(ms)[..10].to_owned()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of now plus `secs`, as the SDKs send date-times.
fn instant(secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ms = u64::try_from(now + secs * 1000).unwrap();
    format!("{}Z", &switchboard_iso_time::format_iso(ms)[..19])
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn list_filters_by_to_and_from_newest_first_as_fetch_shows_them() {
    let sim = Sim::start().await;
    let mut sent = Vec::new();
    for (to, from) in [
        (TO, SANDBOX_FROM_NUMBER),
        (OTHER, SANDBOX_FROM_NUMBER),
        (TO, "+15005550010"),
    ] {
        let (status, body) = sim
            .send(&[("To", to), ("From", from), ("Body", "hi")])
            .await;
        assert_eq!(status, StatusCode::CREATED);
        sent.push(body["sid"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for sid in &sent {
        sim.wait_status(sid, "delivered").await;
    }

    let (status, page) = sim.list(&format!("?To={}", enc(TO))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sids(&page), [sent[2].clone(), sent[0].clone()]);
    let (_, page) = sim
        .list(&format!(
            "?To={}&From={}",
            enc(TO),
            enc(SANDBOX_FROM_NUMBER)
        ))
        .await;
    assert_eq!(sids(&page), [sent[0].clone()]);
    let (_, page) = sim.list(&format!("?To={}", enc("+15550000000"))).await;
    assert_eq!(page["messages"], json!([]));
    assert_eq!(page["next_page_uri"], Value::Null);

    // Every message exactly as the fetch of its uri shows it.
    let (_, all) = sim.list("").await;
    assert_eq!(sids(&all).len(), 3);
    for m in all["messages"].as_array().unwrap() {
        let (_, fetched) = sim.get(m["uri"].as_str().unwrap()).await;
        assert_eq!(m, &fetched);
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn list_pages_follow_next_and_previous_page_uris() {
    let sim = Sim::start().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let (_, body) = sim.send(&basic(&format!("m{i}"))).await;
        sent.push(body["sid"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for sid in &sent {
        sim.wait_status(sid, "delivered").await;
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    let base = format!("/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json");

    let (_, first) = sim.list(&format!("?To={}&PageSize=2", enc(TO))).await;
    let first_uri = format!("{base}?To=%2B15551230000&PageSize=2&Page=0");
    assert_eq!(first["uri"], first_uri);
    assert_eq!(first["first_page_uri"], first_uri);
    assert_eq!(
        (
            &first["page"],
            &first["page_size"],
            &first["start"],
            &first["end"]
        ),
        (&json!(0), &json!(2), &json!(0), &json!(1))
    );
    assert_eq!(first["previous_page_uri"], Value::Null);
    assert_eq!(
        first["next_page_uri"],
        first_uri.replace("Page=0", &format!("Page=1&PageToken=PA{}", newest_first[1]))
    );

    let mut seen = sids(&first);
    let mut page = first;
    let mut pages = 1;
    while let Some(next) = page["next_page_uri"].as_str().map(str::to_owned) {
        page = sim.get(&next).await.1;
        seen.extend(sids(&page));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, newest_first);
    assert_eq!(
        (&page["page"], &page["start"], &page["end"]),
        (&json!(2), &json!(4), &json!(4))
    );

    let previous = page["previous_page_uri"].as_str().unwrap().to_owned();
    assert!(
        previous.contains(&format!("Page=1&PageToken=PB{}", newest_first[4])),
        "{previous}"
    );
    let (_, back) = sim.get(&previous).await;
    assert_eq!(sids(&back), newest_first[2..4]);

    // Page alone is client state, as Twilio documents it: it selects nothing.
    let (_, page1) = sim.list("?PageSize=2&Page=1").await;
    assert_eq!(sids(&page1), newest_first[..2]);
    assert_eq!(page1["start"], 2);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn list_date_filters_bound_date_sent_and_skip_unsent_messages() {
    let sim = Sim::start().await;
    let (_, body) = sim.send(&basic("sent")).await;
    let sid = body["sid"].as_str().unwrap().to_owned();
    sim.wait_status(&sid, "delivered").await;

    let one = |q: String| {
        let sim = &sim;
        async move { sids(&sim.list(&q).await.1) }
    };
    let today = day(0);
    assert_eq!(one(format!("?DateSent={today}")).await, vec![sid.clone()]);
    assert_eq!(
        one(format!("?DateSent%3C={today}")).await,
        vec![sid.clone()]
    );
    assert_eq!(
        one(format!("?DateSent%3E={today}")).await,
        vec![sid.clone()]
    );
    assert!(one(format!("?DateSent={}", day(-1))).await.is_empty());
    assert!(one(format!("?DateSent%3C={}", day(-1))).await.is_empty());
    assert!(one(format!("?DateSent%3E={}", day(1))).await.is_empty());
    // Date-times bound to the second, both ends inclusive.
    let (after, before) = (enc(&instant(-60)), enc(&instant(60)));
    assert_eq!(
        one(format!("?DateSent%3E={after}&DateSent%3C={before}")).await,
        vec![sid.clone()]
    );
    assert!(
        one(format!("?DateSent%3E={}", enc(&instant(60))))
            .await
            .is_empty()
    );
    assert!(
        one(format!("?DateSent%3C={}", enc(&instant(-60))))
            .await
            .is_empty()
    );

    // A message still queued has no date_sent: listed, but matched by no date filter.
    let slow = Sim {
        handle: start_sandbox(SandboxConfig {
            sms: SmsSimConfig {
                sent_delay: Duration::from_secs(60),
                delivered_delay: Duration::from_secs(60),
            },
            ..SandboxConfig::default()
        })
        .await,
        http: client(),
    };
    let (_, queued) = slow.send(&basic("queued")).await;
    let (_, all) = slow.list("").await;
    assert_eq!(all["messages"][0]["sid"], queued["sid"]);
    assert_eq!(all["messages"][0]["date_sent"], Value::Null);
    let (_, dated) = slow.list(&format!("?DateSent%3E={}", day(-1))).await;
    assert_eq!(dated["messages"], json!([]));
    slow.handle.shutdown().await;
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn list_requires_auth_and_refuses_bad_parameters() {
    let sim = Sim::start().await;
    let url = sim.messages_url(SANDBOX_ACCOUNT_SID);
    let resp = sim.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 20003);
    let resp = sim
        .http
        .get(&url)
        .basic_auth(SANDBOX_ACCOUNT_SID, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let other = sim.messages_url("AC00000000000000000000000000000000");
    let resp = sim
        .http
        .get(&other)
        .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    for q in [
        "?PageSize=0",
        "?PageSize=1001",
        "?DateSent=yesterday",
        "?PageToken=PAnope",
        "?PageToken=XX",
    ] {
        let (status, body) = sim.list(q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(body["code"], 20001, "{q}");
        assert_eq!(body["status"], 400, "{q}");
    }
    let (status, page) = sim.list("?PageSize=1000").await;
    assert_eq!((status, &page["page_size"]), (StatusCode::OK, &json!(1000)));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn list_answers_while_sends_are_faulted() {
    let sim = Sim::start().await;
    sim.fault(json!({"channel": "sms", "action": {"status": 503}}))
        .await;
    let (status, _) = sim.send(&basic("x")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, page) = sim.list("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["messages"], json!([]));
    assert_eq!(sim.stats().await["requests"], 1);
    sim.handle.shutdown().await;
}
