//! The automations pages: an automation made through the API and a run driven through a
//! hosted conversation, then the list, its figures against the API's, the visitor's row and
//! its filter, the steps; a hostile name stays text; every role may read.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::pages::{assert_nothing_injected, sign_in};
use crate::support::Gateway;

const HOSTILE: &str = "<script>alert(1)</script>";

/// Wait (real time) until the bot has said `n` things in the contact's conversation: the
/// engine runs in its own loop, after the message's commit.
async fn bot_said(gw: &Gateway, contact: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, v) = gw.get(&format!("/v1/conversations/{contact}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let said = v["messages"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["author"] == "bot").count());
        if said >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bot never said {n} things: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn customer(gw: &Gateway, contact: &str, text: &str) {
    let (s, b) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/messages"),
            &json!({"author": "customer", "text": text}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

/// The API's figures once the run has completed (its last events land after the bot's
/// last message).
async fn completed_stats(gw: &Gateway, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, v) = gw.get(&format!("/v1/automations/{id}/stats")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if v["completed"] == 1 {
            return v;
        }
        assert!(Instant::now() < deadline, "the run never completed: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automations_figures_visitors_and_steps_show_as_the_api_has_them() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-automations", &[]));
    let (s, w) = gw
        .call(
            Method::PATCH,
            "/v1/workspace",
            &gw.key,
            Some(&json!({"hosting_default": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    let (s, a) = gw
        .post_json(
            "/v1/automations",
            &json!({"name": "greeter", "trigger": {"type": "conversation.started"}, "steps": [
                {"id": "hello", "send": {"text": "Hello! Anything we can do?"}},
                {"id": "listen", "wait": {"minutes": 10, "reply": "thanks"}},
                {"id": "thanks", "send": {"text": "Thanks, noted."}, "next": "done"},
                {"id": "done", "end": {}}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    // Hostile everywhere a definition holds text; disabled, so it starts no run of its own.
    let (s, h) = gw
        .post_json(
            "/v1/automations",
            &json!({"name": HOSTILE, "enabled": false,
                "trigger": {"type": "message.received", "keywords": [HOSTILE]},
                "steps": [{"id": "s1", "send": {"text": HOSTILE}},
                          {"id": "s2", "tag": {"tags": [HOSTILE]}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let hostile = h["id"].as_str().unwrap().to_string();

    // A customer opens a hosted conversation, the bot greets, the customer answers, and the
    // run goes on to its end: one triggered visitor who participated and completed.
    let (s, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": "+14155550901"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let contact = c["id"].as_str().unwrap().to_string();
    customer(&gw, &contact, "hi").await;
    bot_said(&gw, &contact, 1).await;
    customer(&gw, &contact, "a question").await;
    bot_said(&gw, &contact, 2).await;
    let stats = completed_stats(&gw, &id).await;
    assert_eq!(
        (&stats["triggers"], &stats["participants"]),
        (&json!(1), &json!(1)),
        "{stats}"
    );

    let mut b = Browser::start("automations").await;
    sign_in(&mut b, &gw, "admin").await;
    b.visit(&format!("{}/console", gw.url), "home").await;
    b.click("nav a[href='/console/automations']").await;
    b.shot("list").await;
    assert_eq!(
        b.text_of(&format!("tr[id='{id}'] td.trigger")).await,
        "conversation.started"
    );
    assert_eq!(b.text_of(&format!("tr[id='{id}'] td.enabled")).await, "yes");
    assert_eq!(b.text_of(&format!("tr[id='{id}'] td.version")).await, "1");
    assert_eq!(
        b.text_of(&format!("tr[id='{hostile}'] td.name")).await,
        HOSTILE
    );
    b.assert_no_dialog().await;
    assert_nothing_injected(&b).await;

    b.click(&format!("tr[id='{id}'] td.name a")).await;
    b.shot("automation").await;
    assert_eq!(b.text_of("#automation-name").await, "greeter");
    for (css, field) in [
        ("#triggers", "triggers"),
        ("#triggered-visitors", "triggered_visitors"),
        ("#participants", "participants"),
        ("#completed", "completed"),
    ] {
        assert_eq!(b.text_of(css).await, stats[field].to_string(), "{css}");
    }
    assert_eq!(b.text_of("#participation").await, "1/1 = 1.0000 (100.00%)");
    assert_eq!(b.text_of("#completion").await, "1/1 = 1.0000 (100.00%)");
    assert_eq!(b.text_of("#figures-hello td.entered").await, "1");
    assert_eq!(b.text_of("#figures-listen td.branches").await, "reply: 1");
    let row = format!("tr[id='visitor-{contact}']");
    assert_eq!(b.text_of(&format!("{row} td.status")).await, "completed");
    assert_eq!(b.text_of(&format!("{row} td.trigger-count")).await, "1");
    assert!(
        b.text_of(&format!("{row} td.run-state"))
            .await
            .starts_with("completed"),
    );
    let link = b
        .client
        .find(Locator::Css(&format!("{row} a")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        link.as_deref(),
        Some(&*format!("/console/contacts/{contact}"))
    );
    // The steps, read-only: each kind, and where each branch goes.
    b.client
        .execute(
            "document.getElementById('visitors').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    b.shot("visitors-and-steps").await;
    assert_eq!(b.text_of("#step-listen .kind").await, "wait");
    let branches = b.text_of("#step-listen .branches").await;
    assert!(branches.contains("reply → thanks"), "{branches}");
    assert!(branches.contains("timeout → ends the run"), "{branches}");
    assert!(
        b.text_of("#step-thanks .branches")
            .await
            .contains("next → done")
    );

    // The filter: nobody who did not participate; the visitor again among the completed.
    b.client
        .find(Locator::Css("#au-status option[value='not_participated']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.click("form.filters button[type=submit]").await;
    b.shot("not-participated").await;
    assert_eq!(b.text_of("#no-visitors").await, "No visitor matches.");
    b.visit(
        &format!("{}/console/automations/{id}?status=completed", gw.url),
        "completed",
    )
    .await;
    assert_eq!(b.text_of(&format!("{row} td.status")).await, "completed");
    // A window before the run counted nothing.
    b.visit(
        &format!(
            "{}/console/automations/{id}?since=2020-01-01&until=2020-02-01",
            gw.url
        ),
        "old-window",
    )
    .await;
    assert_eq!(b.text_of("#triggers").await, "0");
    assert_eq!(
        b.text_of("#participation").await,
        "0/0 (no triggered visitors)"
    );

    // The hostile automation's page: its name, keyword, text and tag all text.
    b.visit(
        &format!("{}/console/automations/{hostile}", gw.url),
        "hostile",
    )
    .await;
    b.assert_no_dialog().await;
    assert_eq!(b.text_of("#automation-name").await, HOSTILE);
    assert!(b.text_of("#step-s1").await.contains(HOSTILE));
    assert!(b.text_of("#trigger").await.contains(HOSTILE));
    assert_nothing_injected(&b).await;

    // Every role reads them: the billing member too, without a link to the contact's page
    // (which is not theirs to open).
    b.click("header form button").await;
    sign_in(&mut b, &gw, "billing").await;
    b.visit(
        &format!("{}/console/automations/{id}", gw.url),
        "as-billing",
    )
    .await;
    assert_eq!(b.text_of("#triggers").await, "1");
    assert!(
        b.client
            .find_all(Locator::Css(&format!("{row} a")))
            .await
            .unwrap()
            .is_empty()
    );
    b.client.clone().close().await.unwrap();
}
