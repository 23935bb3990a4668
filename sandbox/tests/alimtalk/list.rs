//! `GET /messages/v4/list`: Solapi's message list, which a client queries to learn whether a
//! send whose answer was lost created a message.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::alimtalk::time;

use crate::harness::{Sim, TO, order_shipped};

impl Sim {
    pub async fn list_with(
        &self,
        authorization: &str,
        query: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.url("/messages/v4/list"))
            .header("authorization", authorization)
            .query(query)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    pub async fn list(&self, query: &[(&str, &str)]) -> Value {
        let auth = self.auth().await;
        let (status, body) = self.list_with(&auth, query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["messageList"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn keyed(to: &str, key: &str) -> Value {
    let mut body = order_shipped(to);
    body["message"]["customFields"]["sb_attempt"] = json!(key);
    body
}

#[tokio::test]
async fn list_filters_and_returns_custom_fields_and_the_latest_status() {
    let sim = Sim::start().await;
    let (_, a) = sim.send(&keyed(TO, "a1")).await;
    let (_, b) = sim.send(&keyed("01099998888", "b1")).await;
    let a_id = a["messageId"].as_str().unwrap().to_owned();
    let b_id = b["messageId"].as_str().unwrap().to_owned();
    sim.receiver.wait_for(&a_id, 2).await;

    let page = sim.list(&[("to", TO)]).await;
    assert_eq!(ids(&page), vec![a_id.clone()]);
    assert_eq!(
        (&page["startKey"], &page["nextKey"], &page["limit"]),
        (&Value::Null, &Value::Null, &json!(20))
    );
    let m = &page["messageList"][&a_id];
    assert_eq!(m["messageId"], a_id.as_str());
    assert_eq!(m["groupId"], a["groupId"]);
    assert_eq!(
        (&m["to"], &m["from"], &m["type"]),
        (&json!(TO), &a["from"], &json!("ATA"))
    );
    assert_eq!(
        m["customFields"],
        json!({"sb_message_id": "msg_1", "sb_attempt": "a1"})
    );
    assert_eq!(m["kakaoOptions"]["templateId"], "KA01TP_SB_ORDER_SHIPPED");
    assert_eq!(
        (&m["statusCode"], &m["status"]),
        (&json!("4000"), &json!("COMPLETE"))
    );
    assert!(time::parse_iso(m["dateCreated"].as_str().unwrap()).is_some());

    let both = sim.list(&[("type", "ATA")]).await;
    assert_eq!(ids(&both).len(), 2);
    for (q, want) in [
        (vec![("messageId", a_id.as_str())], vec![a_id.clone()]),
        (
            vec![("groupId", b["groupId"].as_str().unwrap())],
            vec![b_id.clone()],
        ),
        (
            vec![("messageIds", a_id.as_str()), ("messageIds", b_id.as_str())],
            vec![a_id.clone(), b_id.clone()],
        ),
        (vec![("to", TO), ("statusCode", "4000")], vec![a_id.clone()]),
        (vec![("to", TO), ("statusCode", "3104")], vec![]),
        (vec![("from", "0299999999")], vec![]),
    ] {
        let mut got = ids(&sim.list(&q).await);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{q:?}");
    }
    let old_form = sim
        .list(&[
            ("criteria", "to,type"),
            ("cond", "eq,eq"),
            ("value", &format!("{TO},ATA")),
        ])
        .await;
    assert_eq!(ids(&old_form), vec![a_id.clone()]);

    // Dates bound dateCreated (default) or dateUpdated, both ends inclusive.
    let created = page["messageList"][&a_id]["dateCreated"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = time::parse_iso(&created).unwrap();
    let iso = |ms: u64| time::format_iso(ms);
    let hit = sim
        .list(&[("to", TO), ("startDate", &created), ("endDate", &created)])
        .await;
    assert_eq!(ids(&hit), vec![a_id.clone()]);
    let miss = sim.list(&[("to", TO), ("startDate", &iso(at + 1))]).await;
    assert!(ids(&miss).is_empty());
    let updated = sim
        .list(&[
            ("to", TO),
            ("dateType", "UPDATED"),
            ("startDate", &iso(at + 1)),
        ])
        .await;
    assert_eq!(
        ids(&updated),
        vec![a_id.clone()],
        "reports moved dateUpdated"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn list_pages_with_start_key_and_next_key() {
    let sim = Sim::start().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let (_, body) = sim.send(&keyed(TO, &format!("k{i}"))).await;
        sent.push(body["messageId"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    let mut seen = Vec::new();
    let mut key: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut q = vec![("to", TO), ("limit", "2")];
        if let Some(k) = &key {
            q.push(("startKey", k));
        }
        let page = sim.list(&q).await;
        assert_eq!(
            page["startKey"],
            key.clone().map_or(Value::Null, Value::from)
        );
        // messageList is an object; keep the page's own order by dateCreated.
        let mut items: Vec<(String, String)> = page["messageList"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, m)| (m["dateCreated"].as_str().unwrap().to_owned(), id.clone()))
            .collect();
        items.sort_by(|a, b| b.cmp(a));
        seen.extend(items.into_iter().map(|(_, id)| id));
        match page["nextKey"].as_str() {
            Some(next) => key = Some(next.to_owned()),
            None => break,
        }
        assert!(Instant::now() < deadline);
    }
    assert_eq!(seen, newest_first);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn list_requires_auth_and_refuses_what_it_does_not_support() {
    let sim = Sim::start().await;
    let (status, body) = sim.list_with("", &[]).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (StatusCode::UNAUTHORIZED, &json!("Unauthorized"))
    );
    let auth = sim.auth().await;
    let bad = auth.replace("signature=", "signature=00");
    let (status, body) = sim.list_with(&bad, &[]).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (StatusCode::FORBIDDEN, &json!("SignatureDoesNotMatch"))
    );
    let (status, _) = sim.list_with(&auth, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = sim.list_with(&auth, &[]).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (StatusCode::FORBIDDEN, &json!("DuplicatedSignature"))
    );

    for q in [
        vec![("customFields.sb_attempt", "a1")],
        vec![("limit", "0")],
        vec![("limit", "501")],
        vec![("startDate", "yesterday")],
        vec![("dateType", "SENT")],
        vec![("criteria", "to"), ("cond", "ne"), ("value", TO)],
        vec![("startKey", "M4Vnope")],
    ] {
        let auth = sim.auth().await;
        let (status, body) = sim.list_with(&auth, &q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q:?}");
        assert_eq!(body["errorCode"], "ValidationError", "{q:?}");
    }
    // A list request is not a send.
    assert!(sim.received().await.is_empty());
    sim.handle.shutdown().await;
}
