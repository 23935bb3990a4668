//! Injected Graph errors: every code/subcode the Messenger plugin maps can be produced.

use serde_json::{Value, json};

use crate::harness::{Receiver, Sim, VERSION, page, text};

const PSID: &str = "5550001112223334";

async fn fault(sim: &Sim, action: Value) {
    sim.post(
        "faults",
        json!({"channel": "messenger", "match": {"to": PSID}, "times": 1, "action": action}),
    )
    .await;
}

#[tokio::test]
async fn every_mapped_code_is_injectable() {
    let sim = Sim::start().await;
    let p = page(0);
    sim.inbound(p, PSID, "hi").await;
    // (rule code, expected code, expected subcode)
    let rows: &[(u32, u64, Option<u64>)] = &[
        (190, 190, None),
        (2018278, 10, Some(2018278)),
        (2018065, 10, Some(2018065)),
        (2534022, 10, Some(2534022)),
        (2018108, 10, Some(2018108)),
        (551, 551, None),
        (1545041, 200, Some(1545041)),
        (2018001, 100, Some(2018001)),
        (2018109, 100, Some(2018109)),
        (2018008, 100, Some(2018008)),
        (2018047, 100, Some(2018047)),
        (2018294, 100, Some(2018294)),
        (4, 4, None),
        (613, 613, None),
        (17, 17, None),
        (32, 32, None),
        (341, 341, None),
        (1, 1, None),
        (2, 2, None),
        (1200, 1200, None),
        (10, 10, None),
        (2018027, 200, Some(2018027)),
        (2018028, 200, Some(2018028)),
        (2018300, 10, Some(2018300)),
        (368, 368, None),
        (100, 100, None),
        (1002018001, 100, Some(2018001)),
    ];
    for &(rule, code, subcode) in rows {
        fault(&sim, json!({"status": 400, "code": rule})).await;
        let (status, body) = sim.send(p, &text(PSID, "x")).await;
        assert_eq!(status, 400, "{rule}");
        let e = &body["error"];
        assert_eq!(
            (e["code"].as_u64(), e["error_subcode"].as_u64()),
            (Some(code), subcode),
            "{rule}: {body}"
        );
        assert_eq!(e["type"], "OAuthException");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(e["fbtrace_id"].as_str().is_some());
        assert_eq!(
            e["is_transient"].as_bool(),
            matches!(code, 1 | 2 | 1200).then_some(true),
            "{rule}"
        );
    }
    // Nothing was accepted; the fault answers are listed.
    let stats = sim.get("messenger/stats").await;
    assert_eq!(stats["unique_accepted"], 0);
    let msgs = sim.get("messenger/messages").await;
    assert_eq!(msgs.as_array().unwrap().len(), rows.len());
    assert!(msgs[0]["fault_id"].as_str().is_some());
    assert_eq!(msgs[1]["error"], "10/2018278");
}

#[tokio::test]
async fn defaults_retry_after_and_reset() {
    let sim = Sim::start().await;
    let p = page(0);
    sim.inbound(p, PSID, "hi").await;
    fault(&sim, json!({"status": 429, "retry_after_s": 3})).await;
    let resp = sim.send_raw(p, &text(PSID, "x")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 613);
    fault(&sim, json!({"status": 503})).await;
    let (status, body) = sim.send(p, &text(PSID, "x")).await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_u64(),
            body["error"]["is_transient"].as_bool()
        ),
        (503, Some(2), Some(true))
    );
    fault(&sim, json!({"reset": true})).await;
    let r = sim
        .http
        .post(sim.url("/v21.0/me/messages"))
        .bearer_auth(p.access_token)
        .json(&text(PSID, "x"))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    // The rule was used up by the first request it matched.
    assert_eq!(sim.get("faults").await[0]["remaining"], 0);
}

#[tokio::test]
async fn accepted_despite_an_error_then_the_conversation_shows_it() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    sim.inbound(p, PSID, "hi").await;
    fault(&sim, json!({"status": 500, "code": 2, "accept": true})).await;
    let body = text(PSID, "maybe delivered");
    let (status, _) = sim.send(p, &body).await;
    assert_eq!(status, 500);
    // The message exists: the conversation with the person shows it, newest first.
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/{}/conversations", p.id)))
        .bearer_auth(p.access_token)
        .query(&[("user_id", PSID), ("fields", "messages{id,message,from}")])
        .send()
        .await
        .unwrap();
    let convs: Value = resp.json().await.unwrap();
    let newest = &convs["data"][0]["messages"]["data"][0];
    assert_eq!(
        (&newest["message"], &newest["from"]["id"]),
        (&json!("maybe delivered"), &json!(p.id))
    );
    let msgs = sim.get("messenger/messages").await;
    assert_eq!(msgs[0]["mid"], newest["id"]);
    // A blind retry is a second message, as at Facebook.
    let (status, retry) = sim.send(p, &body).await;
    assert_eq!(status, 200);
    assert_ne!(retry["message_id"], newest["id"]);
    assert_eq!(
        sim.get("messenger/messages")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    rx.wait_for(7).await;
}

#[tokio::test]
async fn callback_faults_shape_the_webhooks() {
    let sim = Sim::start().await;
    let rx = Receiver::start().await;
    sim.fast_webhooks(&rx).await;
    let p = page(0);
    sim.inbound(p, PSID, "hi").await;
    rx.wait_for(1).await;
    fault(
        &sim,
        json!({"callback_status": "delivered", "duplicate_callbacks": true}),
    )
    .await;
    assert_eq!(sim.send(p, &text(PSID, "x")).await.0, 200);
    let got = rx.wait_for(5).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let kinds: Vec<_> = rx.received()[1..].iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["echo", "echo", "delivery", "delivery"], "{got:?}");
    fault(&sim, json!({"drop_callbacks": true})).await;
    assert_eq!(sim.send(p, &text(PSID, "y")).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    assert_eq!(rx.received().len(), 5);
    let msgs = sim.get("messenger/messages").await;
    // Dropped posts still come due.
    assert_eq!(
        msgs[1]["events"],
        json!(["message_echoes", "message_deliveries", "message_reads"])
    );
}
