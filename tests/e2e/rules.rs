//! Result notifications by rules over HTTP: a lead for a cottage notifies mailbox A and not
//! mailbox B, a bikeshed notifies agent B's inbox, two results of one conversation notify
//! twice, a bad condition is refused naming its path, and a retried result is the same one.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

async fn emails_to(gw: &Gateway, to: &str) -> usize {
    let all: Value = gw.sim_get("/_sandbox/email/messages").await;
    all.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|m| m["to"] == to || m["to"][0] == to)
        .count()
}

async fn emails_reach(gw: &Gateway, to: &str, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while emails_to(gw, to).await < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} emails to {to} never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emails_to(gw, to).await, n, "to {to}");
}

#[tokio::test]
async fn rules_notify_mailboxes_and_members_once_per_result() {
    let rx = crate::receiver::Receiver::start().await;
    let allow = format!("127.0.0.1:{}", rx.port);
    let gw = Gateway::start("rules", &["--allow-private-net", &allow]);
    let bob = crate::console::joined(&gw, "bob@example.com", "agent", "Bob").await;
    let rule = |name: &str, kind: &str, target: Value| {
        json!({"name": name, "condition": {"and": [
            {"==": [{"var": "form"}, "lead"]},
            {"==": [{"var": "values.housingType"}, kind]}
        ]}, "targets": [target]})
    };
    for body in [
        rule(
            "cottages to mailbox A",
            "cottage",
            json!({"email": "mailbox-a@example.com"}),
        ),
        rule(
            "villas to mailbox B",
            "villa",
            json!({"email": "mailbox-b@example.com"}),
        ),
        rule("bikesheds to Bob", "bikeshed", json!({"member": bob})),
    ] {
        let (s, r) = gw.post_json("/v1/notification-rules", &body).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    // A bad condition is refused where it is wrong; an unknown target is named.
    let (s, e) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "bad", "condition": {"and": [{"==": [{"var": "payload.x"}, 1]}]}, "targets": [{"email": "x@example.com"}]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("condition.and[0].==[0].var")
        ),
        "{e}"
    );
    let (s, e) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "bad", "condition": {"~": [1, 2]}, "targets": [{"email": "x@example.com"}]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("condition")),
        "{e}"
    );
    let (s, e) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "bad", "condition": true, "targets": [{"email": "x@example.com"}, {"member": "mem_nobody"}]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("targets[1].member")),
        "{e}"
    );

    // A cottage: mailbox A, not B.
    let (_, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": "+14155550401"}]}),
        )
        .await;
    let contact = c["id"].as_str().unwrap().to_string();
    let lead = |kind: &str| json!({"form": "lead", "values": {"intent": "seller", "housingType": kind}, "contact": contact});
    let (s, first) = gw.post_json("/v1/results", &lead("cottage")).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["notifications"].as_array().unwrap().len(),
        1,
        "{first}"
    );
    assert_eq!(
        first["notifications"][0]["target"]["email"],
        "mailbox-a@example.com"
    );
    emails_reach(&gw, "mailbox-a@example.com", 1).await;
    assert_eq!(emails_to(&gw, "mailbox-b@example.com").await, 0);
    // The notification went through the pipeline: its message has a status.
    let message = first["notifications"][0]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, seen) = gw
            .get(&format!("/v1/results/{}", first["id"].as_str().unwrap()))
            .await;
        let status = seen["notifications"][0]["message_status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The simulated reader opens it at once, so delivered may already be seen.
        if status == "delivered" || status == "seen" {
            let (_, m) = gw.get(&format!("/v1/messages/{message}")).await;
            assert_eq!(m["status"].as_str(), Some(status.as_str()));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A bikeshed: Bob's inbox.
    let (_, shed) = gw.post_json("/v1/results", &lead("bikeshed")).await;
    assert_eq!(shed["notifications"][0]["state"], "delivered", "{shed}");
    let (_, inbox) = gw.get(&format!("/v1/members/{bob}/inbox")).await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "{inbox}");
    assert_eq!(inbox[0]["data"]["values"]["housingType"], "bikeshed");

    // Two results in the same session: two notifications, no grouping.
    let session =
        json!({"form": "lead", "values": {"housingType": "cottage"}, "conversation": contact});
    for _ in 0..2 {
        let (s, r) = gw.post_json("/v1/results", &session).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    emails_reach(&gw, "mailbox-a@example.com", 3).await;

    // A retried result is the same one, and notifies nothing again.
    let retry = |body: Value| {
        let (http, url, key) = (gw.http().clone(), gw.url.clone(), gw.key.clone());
        async move {
            let r = http
                .post(format!("{url}/v1/results"))
                .bearer_auth(key)
                .header("Idempotency-Key", "lead-42")
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (s1, a) = retry(lead("cottage")).await;
    let (s2, b) = retry(lead("cottage")).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);
    emails_reach(&gw, "mailbox-a@example.com", 4).await;
    let (s, e) = retry(lead("villa")).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );

    // A webhook endpoint as a target: the event goes to that endpoint only, even though it
    // subscribes to other types, and not to an endpoint that takes every type.
    let endpoint = |types: Value| {
        let (gw, url) = (&gw, format!("{}/hooks", rx.url));
        async move {
            let (s, ep) = gw
                .post_json(
                    "/v1/webhook-endpoints",
                    &json!({"url": url, "event_types": types}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{ep}");
            ep["id"].as_str().unwrap().to_string()
        }
    };
    let target = endpoint(json!(["message.failed"])).await;
    let everything = endpoint(json!([])).await;
    let (s, r) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "treehouses to the hook", "condition": {"==": [{"var": "values.housingType"}, "treehouse"]}, "targets": [{"webhook_endpoint": target}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, tree) = gw.post_json("/v1/results", &lead("treehouse")).await;
    assert_eq!(tree["notifications"][0]["state"], "sent", "{tree}");
    let kinds = |ep: String| {
        let gw = &gw;
        async move {
            let (_, d) = gw
                .get(&format!("/v1/webhook-endpoints/{ep}/deliveries"))
                .await;
            d.as_array()
                .unwrap()
                .iter()
                .map(|d| d["event_type"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !kinds(target.clone())
        .await
        .contains(&"result.notification".to_string())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the endpoint never got its event"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !kinds(everything)
            .await
            .contains(&"result.notification".to_string()),
        "an event meant for one endpoint went to another"
    );
    let (s, e) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "nowhere", "condition": true, "targets": [{"webhook_endpoint": "ep_nowhere"}]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("targets[0].webhook_endpoint")
        ),
        "{e}"
    );
}
