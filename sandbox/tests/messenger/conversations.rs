//! The conversations API across the three sandbox pages: seeding, traffic, field selection and
//! cursor paging the way the Messenger plugin's contact sync reads it.

use std::collections::HashSet;

use serde_json::{Value, json};
use switchboard_sandbox::SandboxPage;

use crate::harness::{Sim, VERSION, page, text};

const FIELDS: &str = "participants,messages.limit(20){id,message,from,created_time}";

async fn list(sim: &Sim, p: &SandboxPage, limit: usize, after: Option<&str>) -> (u16, Value) {
    let mut q = vec![("fields", FIELDS.to_owned()), ("limit", limit.to_string())];
    if let Some(a) = after {
        q.push(("after", a.to_owned()));
    }
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/{}/conversations", p.id)))
        .bearer_auth(p.access_token)
        .query(&q)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Every conversation of a page, following `paging.next` by its `after` cursor.
async fn all(sim: &Sim, p: &SandboxPage, limit: usize) -> (Vec<Value>, usize) {
    let (mut out, mut pages, mut after) = (Vec::new(), 0, None::<String>);
    loop {
        let (status, body) = list(sim, p, limit, after.as_deref()).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        let data = body["data"].as_array().unwrap();
        assert!(data.len() <= limit);
        out.extend(data.iter().cloned());
        match body["paging"].get("next") {
            Some(next) => {
                assert!(next.as_str().unwrap().contains("after="));
                after = Some(
                    body["paging"]["cursors"]["after"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            None => return (out, pages),
        }
        assert!(pages < 20, "paging does not end");
    }
}

#[tokio::test]
async fn conversations_page_across_three_pages() {
    let sim = Sim::start().await;
    let seeded = [(0usize, 30usize, 25usize), (1, 7, 3), (2, 0, 0)];
    for &(i, count, per) in &seeded {
        let v = sim
            .post(
                "messenger/conversations",
                json!({"page_id": page(i).id, "count": count, "messages_per_conversation": per}),
            )
            .await;
        assert_eq!(v["created"].as_array().unwrap().len(), count);
    }
    // Live traffic on page 2: a user writes and the page answers.
    sim.inbound(page(2), "6000000000000001", "hello news").await;
    assert_eq!(
        sim.send(page(2), &text("6000000000000001", "hi back"))
            .await
            .0,
        200
    );

    let (convs, pages) = all(&sim, page(0), 25).await;
    assert_eq!((convs.len(), pages), (30, 2));
    let ids: HashSet<_> = convs
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 30);
    let first = &convs[0];
    let participants = first["participants"]["data"].as_array().unwrap();
    assert_eq!(participants.len(), 2);
    assert!(participants.iter().any(|p| p["id"] == page(0).id));
    let user = participants.iter().find(|p| p["id"] != page(0).id).unwrap();
    assert!(user["name"].as_str().is_some_and(|n| !n.is_empty()));
    let messages = first["messages"]["data"].as_array().unwrap();
    assert_eq!(messages.len(), 20, "messages.limit(20) of 25");
    // Newest first, alternating, Graph time format.
    for m in messages {
        assert!(m["created_time"].as_str().unwrap().ends_with("+0000"));
        assert!(m["id"].as_str().unwrap().starts_with("m_"));
    }
    assert!(messages[0]["created_time"].as_str() >= messages[1]["created_time"].as_str());
    assert_ne!(messages[0]["from"]["id"], messages[1]["from"]["id"]);
    // Most recently updated conversation first.
    let updated: Vec<&str> = convs
        .iter()
        .map(|c| c["messages"]["data"][0]["created_time"].as_str().unwrap())
        .collect();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]));

    let (convs, pages) = all(&sim, page(1), 3).await;
    assert_eq!((convs.len(), pages), (7, 3));
    assert!(
        convs
            .iter()
            .all(|c| c["messages"]["data"].as_array().unwrap().len() == 3)
    );

    let (convs, pages) = all(&sim, page(2), 25).await;
    assert_eq!((convs.len(), pages), (1, 1));
    let msgs = convs[0]["messages"]["data"].as_array().unwrap();
    assert_eq!(msgs[0]["message"], "hi back");
    assert_eq!(msgs[0]["from"]["id"], page(2).id);
    assert_eq!(msgs[1]["from"]["id"], "6000000000000001");

    // A seeded user within 24 h can be answered at once; their window comes from the seed.
    let created = sim
        .post(
            "messenger/conversations",
            json!({"page_id": page(1).id, "count": 1, "messages_per_conversation": 1}),
        )
        .await;
    let psid = created["created"][0]["psid"].as_str().unwrap().to_owned();
    assert_eq!(sim.send(page(1), &text(&psid, "hello")).await.0, 200);

    // Another page's token cannot list this page.
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/{}/conversations", page(0).id)))
        .bearer_auth(page(1).access_token)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (
            body["error"]["code"].as_u64(),
            body["error"]["error_subcode"].as_u64()
        ),
        (Some(100), Some(33))
    );
    // Unknown fields are Graph errors.
    let resp = sim
        .http
        .get(sim.url(&format!(
            "/{VERSION}/{}/conversations?fields=bogus",
            page(0).id
        )))
        .bearer_auth(page(0).access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn before_cursor_and_previous_link() {
    let sim = Sim::start().await;
    sim.post(
        "messenger/conversations",
        json!({"page_id": page(0).id, "count": 5, "messages_per_conversation": 2}),
    )
    .await;
    let (_, first) = list(&sim, page(0), 2, None).await;
    assert!(first["paging"].get("previous").is_none());
    let after = first["paging"]["cursors"]["after"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, second) = list(&sim, page(0), 2, Some(&after)).await;
    assert!(
        second["paging"]["previous"]
            .as_str()
            .unwrap()
            .contains("before=")
    );
    let before = second["paging"]["cursors"]["before"].as_str().unwrap();
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/{}/conversations", page(0).id)))
        .bearer_auth(page(0).access_token)
        .query(&[("limit", "2"), ("before", before)])
        .send()
        .await
        .unwrap();
    let back: Value = resp.json().await.unwrap();
    let ids = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&back), ids(&first));
}

/// Graph's way for a page to find what it sent one person: the conversation with that PSID
/// (`user_id`), then its messages. Messages carry id, text, sender and time, never the send's
/// `metadata`, so a client matches its message by text and time.
#[tokio::test]
async fn user_id_narrows_to_one_persons_conversation() {
    let sim = Sim::start().await;
    let p = page(0);
    for psid in ["6000000000000001", "6000000000000002"] {
        sim.inbound(p, psid, "hello").await;
    }
    let (status, sent) = sim
        .send(p, &text("6000000000000002", "your order shipped"))
        .await;
    assert_eq!(status, 200);
    let get = |q: Vec<(&'static str, &'static str)>| {
        let sim = &sim;
        async move {
            let resp = sim
                .http
                .get(sim.url(&format!("/{VERSION}/{}/conversations", p.id)))
                .bearer_auth(p.access_token)
                .query(&q)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = get(vec![
        ("platform", "messenger"),
        ("user_id", "6000000000000002"),
        (
            "fields",
            "participants,messages{id,message,from,created_time}",
        ),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    let newest = &data[0]["messages"]["data"][0];
    assert_eq!(newest["id"], sent["message_id"]);
    assert_eq!(newest["message"], "your order shipped");
    assert_eq!(newest["from"]["id"], p.id);
    assert!(newest.get("metadata").is_none());

    let (_, none) = get(vec![("user_id", "6000000000000009")]).await;
    assert_eq!(none["data"], json!([]));
    let (_, insta) = get(vec![("platform", "instagram")]).await;
    assert_eq!(insta["data"], json!([]));
    let (status, err) = get(vec![("platform", "sms")]).await;
    assert_eq!((status, &err["error"]["code"]), (400, &json!(100)));
}
