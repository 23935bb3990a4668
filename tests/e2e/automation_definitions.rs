//! Automation definitions over HTTP: the smallest one from `docs/automations.md` is created
//! and read back; a body with several mistakes gets every one with its path; `PUT` makes
//! version 2 while version 1 stays readable; a deleted automation is gone (404), its
//! versions with it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Gateway;

fn smallest() -> Value {
    json!({"name": "recall", "trigger": {"type": "visitor.no_reply", "minutes": 30,
        "visitor": "returning", "states": ["unassigned"]},
        "steps": [{"id": "s1", "send": {"text": "Still there?"}}]})
}

#[tokio::test]
async fn automations_are_checked_whole_and_kept_as_versions() {
    let gw = Gateway::start("automation-definitions", &[]);

    // The smallest automation, read back with its defaults filled in.
    let (s, created) = gw.post_json("/v1/automations", &smallest()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("aut_"), "{id}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["trigger"]["off_platform"], false);
    assert_eq!(created["steps"], smallest()["steps"]);
    let (s, read) = gw.get(&format!("/v1/automations/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{read}");
    assert_eq!(read, created);
    let (s, page) = gw.get("/v1/automations?limit=10").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["data"][0]["id"], id.as_str(), "{page}");
    assert!(page.get("next_cursor").is_none(), "{page}");

    // Several mistakes: every one is reported, each with its path; nothing is written.
    let bad = json!({
        "name": "",
        "trigger": {"type": "visitor.no_reply", "minutes": 0, "states": ["unassigned", "lost"]},
        "condition": {"==": [{"var": "values.x"}, 1]},
        "steps": [
            {"id": "s1", "wait": {"minutes": 60, "reply": "s9"}, "next": "s2"},
            {"id": "s2", "send": {"text": "x".repeat(2001)}},
            {"id": "s3", "assign": {"member": "mem_nobody"}, "colour": "red"},
        ]
    });
    let (s, e) = gw.post_json("/v1/automations", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "invalid_automation", "{e}");
    let fields: Vec<&str> = e["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    for field in [
        "name",
        "trigger.minutes",
        "trigger.states[1]",
        "condition.==[0].var",
        "steps[0].next",
        "steps[0].wait.reply",
        "steps[1].send.text",
        "steps[2].colour",
        "steps[1]",
        "steps[2].assign.member",
    ] {
        assert!(fields.contains(&field), "{field} missing: {e}");
    }
    assert_eq!(e["error"]["field"], fields[0], "{e}");
    let (_, page) = gw.get("/v1/automations").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");

    // A member the workspace has may be assigned.
    let (_, members) = gw.get("/v1/members").await;
    let member = members[0]["id"].as_str().unwrap().to_string();

    // PUT: version 2 becomes current; version 1 stays readable as it was.
    let mut second = smallest();
    second["name"] = json!("recall, then hand over");
    second["steps"] = json!([
        {"id": "s1", "send": {"text": "Still there?"}},
        {"id": "w", "wait": {"minutes": 60, "reply": "human", "timeout": "bye"}},
        {"id": "human", "assign": {"member": member}, "next": "hand"},
        {"id": "hand", "handover": {}},
        {"id": "bye", "end": {}},
    ]);
    let (s, v2) = gw
        .call(
            Method::PUT,
            &format!("/v1/automations/{id}"),
            &gw.key,
            Some(&second),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["name"], "recall, then hand over");
    assert_eq!(v2["created_at"], created["created_at"]);
    let (_, current) = gw.get(&format!("/v1/automations/{id}")).await;
    assert_eq!(current["version"], 2, "{current}");
    let (s, v1) = gw.get(&format!("/v1/automations/{id}/versions/1")).await;
    assert_eq!(s, StatusCode::OK, "{v1}");
    assert_eq!(
        (v1["version"].as_u64(), v1["name"].as_str()),
        (Some(1), Some("recall"))
    );
    assert_eq!(v1["steps"], smallest()["steps"]);
    let (s, _) = gw.get(&format!("/v1/automations/{id}/versions/2")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = gw.get(&format!("/v1/automations/{id}/versions/3")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A refused PUT makes no version.
    let (s, _) = gw
        .call(
            Method::PUT,
            &format!("/v1/automations/{id}"),
            &gw.key,
            Some(&bad),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, current) = gw.get(&format!("/v1/automations/{id}")).await;
    assert_eq!(current["version"], 2, "{current}");

    // Deleted: gone from the API, versions and all.
    assert_eq!(
        gw.delete(&format!("/v1/automations/{id}")).await,
        StatusCode::NO_CONTENT
    );
    for path in [
        format!("/v1/automations/{id}"),
        format!("/v1/automations/{id}/versions/1"),
    ] {
        let (s, e) = gw.get(&path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {e}");
    }
    assert_eq!(
        gw.delete(&format!("/v1/automations/{id}")).await,
        StatusCode::NOT_FOUND
    );
    let (s, _) = gw
        .call(
            Method::PUT,
            &format!("/v1/automations/{id}"),
            &gw.key,
            Some(&smallest()),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, page) = gw.get("/v1/automations").await;
    assert_eq!(page["data"], json!([]), "{page}");
}
