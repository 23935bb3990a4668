//! Flows that talk with the visitor: ask for an email and branch, hosting deciding who gets
//! the bot, an agent taking over, editing while runs go, and the figures they leave.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;

async fn host_new_conversations(gw: &Gateway) {
    let (s, w) = gw
        .call(
            Method::PATCH,
            "/v1/workspace",
            &gw.key,
            Some(&json!({"hosting_default": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
}

#[tokio::test]
async fn an_email_is_asked_for_saved_and_branched_on_and_the_figures_add_up() {
    let gw = Gateway::start("automations-ask", &[]);
    host_new_conversations(&gw).await;
    let lead = create(
        &gw,
        json!({"name": "lead", "trigger": {"type": "conversation.started"}, "steps": [
            {"id": "ask", "ask": {"field": "email", "text": "Your email?", "minutes": 10,
                "attempts": 3, "retry_text": "That is not an email; once more?",
                "answered": "thanks", "timeout": "later"}},
            {"id": "thanks", "send": {"text": "Thanks!"}, "next": "done"},
            {"id": "later", "send": {"text": "We will write later."}, "next": "done"},
            {"id": "done", "end": {}}
        ]}),
    )
    .await;

    // Ada answers at once; Bob stays silent; Cy gets it wrong once.
    let ada = contact(&gw, "+14155550411").await;
    let bob = contact(&gw, "+14155550412").await;
    let cy = contact(&gw, "+14155550413").await;
    for c in [&ada, &bob, &cy] {
        customer(&gw, 0, c, "hi").await;
    }
    for c in [&ada, &bob, &cy] {
        assert_eq!(bot_says_exactly(&gw, c, 1).await, ["Your email?"]);
    }
    customer(&gw, MINUTE, &ada, "ada@example.com").await;
    customer(&gw, MINUTE, &cy, "cy at example").await;
    assert_eq!(
        bot_says_exactly(&gw, &cy, 2).await[1],
        "That is not an email; once more?"
    );
    customer(&gw, 2 * MINUTE, &cy, " cy@example.com ").await;
    assert_eq!(bot_says_exactly(&gw, &ada, 2).await[1], "Thanks!");
    assert_eq!(bot_says_exactly(&gw, &cy, 3).await[2], "Thanks!");
    let (_, a) = gw.get(&format!("/v1/contacts/{ada}")).await;
    assert!(a.to_string().contains("ada@example.com"), "saved: {a}");
    let (_, c) = gw.get(&format!("/v1/contacts/{cy}")).await;
    assert!(
        c.to_string().contains("cy@example.com"),
        "saved, trimmed: {c}"
    );

    // Bob: nothing at 9 minutes, the timeout branch at 10.
    gw.set_clock(9 * MINUTE).await;
    settle().await;
    assert_eq!(bot_said(&gw, &bob).await, ["Your email?"]);
    gw.set_clock(10 * MINUTE).await;
    assert_eq!(
        bot_says_exactly(&gw, &bob, 2).await[1],
        "We will write later."
    );

    // The figures, by hand: 3 triggers by 3 visitors; Ada and Cy answered (2 of 3); all
    // three reached `done` (3 of 3).
    let (s, st) = gw
        .get(&format!(
            "/v1/automations/{lead}/stats?since=1970-01-01&until=2999-01-01"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(
        (
            &st["triggers"],
            &st["triggered_visitors"],
            &st["participants"],
            &st["completed"]
        ),
        (&json!(3), &json!(3), &json!(2), &json!(3)),
        "{st}"
    );
    assert_eq!(
        st["participation"],
        json!({"numerator": 2, "denominator": 3, "value": "0.6667"})
    );
    assert_eq!(
        st["completion"],
        json!({"numerator": 3, "denominator": 3, "value": "1.0000"})
    );
    let step = |id: &str| {
        st["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(step("ask")["entered"], 3);
    assert_eq!(
        step("ask")["branches"],
        json!({"answered": 2, "timeout": 1})
    );
    assert_eq!(step("thanks")["entered"], 2);
    assert_eq!(step("later")["entered"], 1);
    assert_eq!(step("done")["entered"], 3);

    let rows = runs(&gw, &lead).await;
    let status = |c: &str| {
        rows.iter()
            .find(|r| r["contact"] == c)
            .map(|r| r["status"].clone())
            .unwrap()
    };
    assert_eq!(status(&ada), "completed");
    assert_eq!(status(&bob), "completed");
    let (s, only) = gw
        .get(&format!("/v1/automations/{lead}/runs?status=completed"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(only["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn only_hosted_conversations_get_the_bot_and_an_agent_taking_over_stops_it() {
    let gw = Gateway::start("automations-hosting", &[]);
    let ada = crate::console::joined(&gw, "ada@example.com", "agent", "Ada").await;
    let prices = create(
        &gw,
        json!({"name": "prices", "trigger": {"type": "message.received", "keywords": ["price"]},
        "steps": [
            {"id": "answer", "send": {"text": "Our prices start at $5."}},
            {"id": "more", "wait": {"minutes": 10, "reply": "bye"}},
            {"id": "bye", "send": {"text": "Anything else?"}}
        ]}),
    )
    .await;
    let hosted = contact(&gw, "+14155550421").await;
    let unhosted = contact(&gw, "+14155550422").await;
    customer(&gw, 0, &hosted, "hello").await;
    customer(&gw, 0, &unhosted, "hello").await;
    let hosted_conv = conversation(&gw, &hosted).await;
    assert_eq!(hosting(&gw, &[&hosted_conv], true).await, 1);

    customer(&gw, MINUTE, &hosted, "What is the PRICE?").await;
    customer(&gw, MINUTE, &unhosted, "What is the price?").await;
    assert_eq!(
        bot_says_exactly(&gw, &hosted, 1).await,
        ["Our prices start at $5."]
    );
    assert!(bot_said(&gw, &unhosted).await.is_empty(), "not hosted");

    // Ada takes the conversation while the run waits: it stops, saying why.
    let (s, v) = gw
        .post_json(
            &format!("/v1/conversations/{hosted}/take"),
            &json!({"member": ada}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    customer(&gw, 2 * MINUTE, &hosted, "hmm").await;
    settle().await;
    assert_eq!(bot_said(&gw, &hosted).await.len(), 1, "stopped");
    let rows = runs(&gw, &prices).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["run"]["state"], "stopped");
    assert_eq!(rows[0]["run"]["stop_reason"], "taken");
    assert_eq!(rows[0]["run"]["step"], "more");
}

#[tokio::test]
async fn runs_going_finish_on_the_version_they_started_on() {
    let gw = Gateway::start("automations-versions", &[]);
    host_new_conversations(&gw).await;
    let def = |v: &str| {
        json!({"name": "greet", "trigger": {"type": "conversation.started"}, "steps": [
            {"id": "hello", "send": {"text": format!("{v}: hello")}},
            {"id": "pause", "wait": {"minutes": 10, "timeout": "bye"}},
            {"id": "bye", "send": {"text": format!("{v}: bye")}}
        ]})
    };
    let id = create(&gw, def("v1")).await;
    let early = contact(&gw, "+14155550431").await;
    customer(&gw, 0, &early, "hi").await;
    assert_eq!(bot_says_exactly(&gw, &early, 1).await, ["v1: hello"]);

    let (s, v) = gw
        .call(
            Method::PUT,
            &format!("/v1/automations/{id}"),
            &gw.key,
            Some(&def("v2")),
        )
        .await;
    assert_eq!((s, &v["version"]), (StatusCode::OK, &json!(2)), "{v}");
    let late = contact(&gw, "+14155550432").await;
    customer(&gw, MINUTE, &late, "hi").await;
    assert_eq!(bot_says_exactly(&gw, &late, 1).await, ["v2: hello"]);

    gw.set_clock(11 * MINUTE).await;
    assert_eq!(bot_says_exactly(&gw, &early, 2).await[1], "v1: bye");
    assert_eq!(bot_says_exactly(&gw, &late, 2).await[1], "v2: bye");
    let rows = runs(&gw, &id).await;
    let version = |c: &str| {
        rows.iter()
            .find(|r| r["contact"] == c)
            .map(|r| r["run"]["version"].clone())
            .unwrap()
    };
    assert_eq!((version(&early), version(&late)), (json!(1), json!(2)));
}

#[tokio::test]
async fn a_submitted_result_starts_its_automation_in_a_hosted_conversation() {
    let gw = Gateway::start("automations-result", &[]);
    host_new_conversations(&gw).await;
    let id = create(
        &gw,
        json!({"name": "after the form", "trigger": {"type": "result.submitted", "form": "lead"},
            "steps": [{"id": "thanks", "send": {"text": "Thanks, an agent will call you."}}]}),
    )
    .await;
    let c = contact(&gw, "+14155550441").await;
    customer(&gw, 0, &c, "hi").await;
    let conv = conversation(&gw, &c).await;
    let (s, v) = gw
        .post_json(
            "/v1/results",
            &json!({"form": "survey", "values": {}, "conversation": conv}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    settle().await;
    assert!(bot_said(&gw, &c).await.is_empty(), "another form");
    let (s, v) = gw
        .post_json(
            "/v1/results",
            &json!({"form": "lead", "values": {"intent": "buy"}, "conversation": conv}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        bot_says_exactly(&gw, &c, 1).await,
        ["Thanks, an agent will call you."]
    );
    assert_eq!(runs(&gw, &id).await.len(), 1);
}
