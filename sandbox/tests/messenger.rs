//! The simulated Messenger Platform driven over real HTTP like a gateway would: Send API,
//! window, faults, signed webhooks into a local receiver, conversations paging.

mod common;
#[path = "messenger/conversations.rs"]
mod conversations;
#[path = "messenger/faults.rs"]
mod faults;
#[path = "messenger/harness.rs"]
mod harness;
#[path = "messenger/oauth.rs"]
mod oauth;

use serde_json::{Value, json};

use crate::harness::{Receiver, Sim, VERSION, page, text};

const PSID: &str = "4827193650284716";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const MIN_MS: i64 = 60_000;

fn err_pair(body: &Value) -> (Option<u64>, Option<u64>) {
    (
        body["error"]["code"].as_u64(),
        body["error"]["error_subcode"].as_u64(),
    )
}

#[tokio::test]
async fn send_text_and_webhooks_arrive_signed() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    let in_mid = sim.inbound(p, PSID, "Where is my parcel?").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].path, "p0");
    assert!(got[0].verifies(), "{got:?}");
    let ev = got[0].event();
    assert_eq!(got[0].json()["entry"][0]["id"], p.id);
    assert_eq!(
        (ev["sender"]["id"].as_str(), ev["recipient"]["id"].as_str()),
        (Some(PSID), Some(p.id))
    );
    assert_eq!(
        (
            ev["message"]["mid"].as_str(),
            ev["message"]["text"].as_str()
        ),
        (Some(in_mid.as_str()), Some("Where is my parcel?"))
    );

    let mut body = text(PSID, "On its way");
    body["message"]["metadata"] = json!("dlv_1");
    let (status, resp) = sim.send(p, &body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["recipient_id"], PSID);
    let mid = resp["message_id"].as_str().unwrap().to_owned();
    assert!(mid.starts_with("m_") && mid.len() == 88, "{mid}");

    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.verifies()));
    let kinds: Vec<_> = got[1..].iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["echo", "delivery", "read"]);
    let echo = got[1].event();
    assert_eq!(
        (
            echo["message"]["mid"].as_str(),
            echo["message"]["metadata"].as_str()
        ),
        (Some(mid.as_str()), Some("dlv_1"))
    );
    assert_eq!(echo["sender"]["id"], p.id);
    let delivery = got[2].event();
    assert_eq!(delivery["sender"]["id"], PSID);
    assert_eq!(delivery["delivery"]["mids"], json!([mid]));
    let read = got[3].event();
    assert_eq!(read["read"]["watermark"], delivery["delivery"]["watermark"]);
    // The watermark is the send time by the sim clock.
    let sent_at = delivery["delivery"]["watermark"].as_u64().unwrap();
    assert!(sent_at >= ev["timestamp"].as_u64().unwrap());

    let msgs = sim.get("messenger/messages").await;
    let m = &msgs[0];
    assert_eq!(
        (m["page_id"].as_str(), m["psid"].as_str(), m["mid"].as_str()),
        (Some(p.id), Some(PSID), Some(mid.as_str()))
    );
    assert_eq!(
        serde_json::from_str::<Value>(m["request"].as_str().unwrap()).unwrap(),
        body
    );
    assert!(m.get("duplicate").is_none());
    let stats = sim.get("messenger/stats").await;
    assert_eq!(
        (
            stats["unique_accepted"].as_u64(),
            stats["callbacks_sent"].as_u64()
        ),
        (Some(1), Some(4))
    );
}

#[tokio::test]
async fn auth_paths_and_versions() {
    let sim = Sim::start().await;
    let p = page(1);
    sim.inbound(p, PSID, "hi").await;
    let url = sim.url(&format!("/{VERSION}/me/messages"));
    // No token, unknown token.
    let resp = sim
        .http
        .post(&url)
        .json(&text(PSID, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(err_pair(&resp.json().await.unwrap()), (Some(2500), None));
    let resp = sim
        .http
        .post(&url)
        .bearer_auth("EAAnope")
        .json(&text(PSID, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(err_pair(&body), (Some(190), None));
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(
        body["error"]["fbtrace_id"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    // access_token in the query, and the page-id path.
    let resp = sim
        .http
        .post(format!("{url}?access_token={}", p.access_token))
        .json(&text(PSID, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = sim
        .http
        .post(sim.url(&format!("/v19.0/{}/messages", p.id)))
        .bearer_auth(p.access_token)
        .json(&text(PSID, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Another page's path with this page's token.
    let resp = sim
        .http
        .post(sim.url(&format!("/{VERSION}/{}/messages", page(0).id)))
        .bearer_auth(p.access_token)
        .json(&text(PSID, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(err_pair(&resp.json().await.unwrap()), (Some(100), Some(33)));
    let resp = sim
        .http
        .post(sim.url("/21.0/me/messages"))
        .bearer_auth(p.access_token)
        .json(&text(PSID, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(err_pair(&resp.json().await.unwrap()), (Some(2500), None));
    let me: Value = sim
        .http
        .get(sim.url("/v21.0/me"))
        .bearer_auth(p.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["id"].as_str(), me["name"].as_str()),
        (Some(p.id), Some(p.name))
    );
}

fn carousel(n: usize, buttons: usize) -> Value {
    let elements: Vec<Value> = (0..n)
        .map(|i| {
            let b: Vec<Value> = (0..buttons)
                .map(|j| json!({"type": "postback", "title": format!("Buy {j}"), "payload": format!("BUY_{i}_{j}")}))
                .collect();
            json!({"title": format!("Shoe {i}"), "subtitle": "42 EUR", "image_url": "https://cdn.example/s.png", "buttons": b})
        })
        .collect();
    json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
           "message": {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": elements}},
                       "quick_replies": [{"content_type": "text", "title": "More", "payload": "MORE"}]}})
}

#[tokio::test]
async fn carousel_attachments_and_validation() {
    let sim = Sim::start().await;
    let p = page(0);
    sim.inbound(p, PSID, "show me shoes").await;
    let (status, body) = sim.send(p, &carousel(10, 3)).await;
    assert_eq!(status, 200, "{body}");
    let media = json!({"recipient": {"id": PSID}, "message": {"attachment": {"type": "audio", "payload": {"url": "https://cdn.example/a.mp3", "is_reusable": true}}}});
    assert_eq!(sim.send(p, &media).await.0, 200);

    let mut both = text(PSID, "x");
    both["message"]["attachment"] = media["message"]["attachment"].clone();
    let rejected = [
        carousel(11, 1),
        carousel(2, 4),
        both,
        json!({"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "message": {"text": "x"}}),
        json!({"recipient": {"id": PSID}, "messaging_type": "NOW", "message": {"text": "x"}}),
    ];
    for body in rejected {
        let (status, resp) = sim.send(p, &body).await;
        assert_eq!(
            (status, err_pair(&resp)),
            (400, (Some(100), None)),
            "{body} → {resp}"
        );
        assert!(
            resp["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("(#100)")
        );
    }
    let mut many = text(PSID, "pick");
    many["message"]["quick_replies"] = (0..14)
        .map(|i| json!({"content_type": "text", "title": format!("Q{i}"), "payload": "P"}))
        .collect();
    assert_eq!(err_pair(&sim.send(p, &many).await.1), (Some(100), None));
    let stats = sim.get("messenger/stats").await;
    assert_eq!(
        (
            stats["unique_accepted"].as_u64(),
            stats["rejected"].as_u64()
        ),
        (Some(2), Some(6))
    );
}

#[tokio::test]
async fn window_is_enforced_by_the_sim_clock() {
    let sim = Sim::start().await;
    let p = page(2);
    // Never wrote: no such user for this page.
    assert_eq!(
        err_pair(&sim.send(p, &text(PSID, "hi")).await.1),
        (Some(100), Some(2018001))
    );
    sim.inbound(p, PSID, "hello").await;
    sim.set_clock(DAY_MS - MIN_MS).await;
    assert_eq!(sim.send(p, &text(PSID, "23h59")).await.0, 200);
    sim.set_clock(DAY_MS + MIN_MS).await;
    let (status, body) = sim.send(p, &text(PSID, "24h01")).await;
    assert_eq!((status, err_pair(&body)), (400, (Some(10), Some(2018278))));
    let tagged = |tag: &str| json!({"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "tag": tag, "message": {"text": "agent"}});
    assert_eq!(sim.send(p, &tagged("HUMAN_AGENT")).await.0, 200);
    sim.set_clock(7 * DAY_MS + MIN_MS).await;
    assert_eq!(
        err_pair(&sim.send(p, &tagged("HUMAN_AGENT")).await.1),
        (Some(10), Some(2018278))
    );
    assert_eq!(sim.send(p, &tagged("ACCOUNT_UPDATE")).await.0, 200);
    // Writing again reopens the window (by the moved clock).
    sim.inbound(p, PSID, "still there?").await;
    assert_eq!(sim.send(p, &text(PSID, "yes")).await.0, 200);
}

/// Graph has no idempotency key, so neither has the sandbox: `metadata` is echoed, never
/// deduplicated, and the same body sent twice is two messages with their own webhooks.
#[tokio::test]
async fn a_repeated_send_is_a_second_message() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    sim.inbound(p, PSID, "hi").await;
    let mut body = text(PSID, "once");
    body["message"]["metadata"] = json!("dlv_42");
    let (_, first) = sim.send(p, &body).await;
    let (status, second) = sim.send(p, &body).await;
    assert_eq!(status, 200);
    assert_ne!(second["message_id"], first["message_id"]);
    let stats = sim.get("messenger/stats").await;
    assert_eq!(
        (
            stats["unique_accepted"].as_u64(),
            stats["duplicates"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(
        sim.get("messenger/messages")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Inbound, then echo/delivery/read for each message.
    let got = rx.wait_for(7).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(rx.received().len(), 7, "{got:?}");
}

#[tokio::test]
async fn magic_psids_and_callback_status() {
    use switchboard_sandbox::messenger::{
        MAGIC_PSID_NEVER_DELIVERED, MAGIC_PSID_NEVER_READS, MAGIC_PSID_UNAVAILABLE,
    };
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    for psid in [
        MAGIC_PSID_NEVER_READS,
        MAGIC_PSID_NEVER_DELIVERED,
        MAGIC_PSID_UNAVAILABLE,
    ] {
        sim.inbound(p, psid, "hi").await;
    }
    rx.wait_for(3).await;
    assert_eq!(sim.send(p, &text(MAGIC_PSID_NEVER_READS, "a")).await.0, 200);
    assert_eq!(
        sim.send(p, &text(MAGIC_PSID_NEVER_DELIVERED, "b")).await.0,
        200
    );
    assert_eq!(
        err_pair(&sim.send(p, &text(MAGIC_PSID_UNAVAILABLE, "c")).await.1),
        (Some(551), None)
    );
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    let kinds = |psid: &str| -> Vec<&'static str> {
        rx.received()
            .into_iter()
            .filter(|r| {
                let e = r.event();
                e["sender"]["id"] == psid || e["recipient"]["id"] == psid
            })
            .map(|r| r.kind())
            .collect()
    };
    assert_eq!(
        kinds(MAGIC_PSID_NEVER_READS),
        ["message", "echo", "delivery"]
    );
    assert_eq!(kinds(MAGIC_PSID_NEVER_DELIVERED), ["message", "echo"]);
    assert_eq!(kinds(MAGIC_PSID_UNAVAILABLE), ["message"]);
}

/// A reply typed in the Page's own inbox is echoed like a send, but with the Page inbox's app
/// id and no metadata; a quick-reply tap carries its payload beside its title; a person who
/// never wrote cannot be answered.
#[tokio::test]
async fn page_inbox_replies_and_quick_replies_are_signed_webhooks() {
    use switchboard_sandbox::messenger::webhooks::PAGE_INBOX_APP_ID;
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    sim.inbound(p, PSID, "hello?").await;
    let reply = sim
        .post(
            "messenger/page_reply",
            json!({"page_id": p.id, "psid": PSID, "text": "Hi, how can we help?"}),
        )
        .await;
    sim.post(
        "messenger/inbound",
        json!({"page_id": p.id, "psid": PSID, "text": "Red", "quick_reply": {"payload": "COLOR_RED"}}),
    )
    .await;
    let got = rx.wait_for(3).await;
    assert!(got.iter().all(|r| r.verifies()), "{got:?}");
    let echo = got[1].event();
    assert_eq!(got[1].kind(), "echo");
    assert_eq!(
        (
            echo["sender"]["id"].as_str(),
            echo["recipient"]["id"].as_str()
        ),
        (Some(p.id), Some(PSID))
    );
    assert_eq!(echo["message"]["app_id"], PAGE_INBOX_APP_ID);
    assert_eq!(echo["message"]["mid"], reply["mid"]);
    assert_eq!(echo["message"]["text"], "Hi, how can we help?");
    assert!(echo["message"].get("metadata").is_none(), "{echo}");
    let tap = got[2].event();
    assert_eq!(tap["message"]["text"], "Red");
    assert_eq!(tap["message"]["quick_reply"]["payload"], "COLOR_RED");

    let url = sim.url("/_sandbox/messenger/page_reply");
    let resp = sim
        .http
        .post(&url)
        .json(&json!({"page_id": p.id, "psid": "4827193650280000", "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        err_pair(&resp.json().await.unwrap()),
        (Some(100), Some(2018001))
    );
}

/// Once the app subscribed to the page, the page's webhooks are the fields it named: without
/// `message_echoes`, a send is not echoed.
#[tokio::test]
async fn a_subscribed_page_gets_only_the_fields_it_named() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    let resp = sim
        .http
        .post(sim.url(&format!("/{VERSION}/{}/subscribed_apps", p.id)))
        .query(&[
            ("subscribed_fields", "messages,message_deliveries"),
            ("access_token", p.access_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sim.inbound(p, PSID, "hi").await;
    assert_eq!(sim.send(p, &text(PSID, "hello")).await.0, 200);
    rx.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let kinds: Vec<_> = rx.received().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["message", "delivery"]);
}
