//! Workspaces share one gateway and see nothing of each other. The matrix below names every
//! endpoint of the OpenAPI document, the scope it needs, and what another workspace's ids
//! get there: a completeness check fails the test when an endpoint is added without a row.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Gateway;

mod complete;
mod rows;

/// One endpoint, called by workspace B with workspace A's ids substituted.
struct Row {
    method: Method,
    /// The OpenAPI path template.
    template: &'static str,
    /// The scope it needs; `None` for endpoints that take no API key.
    scope: Option<&'static str>,
    body: Value,
    /// A list endpoint answers 200 with only B's own things; the rest answer 404.
    list: bool,
}

fn row(method: Method, template: &'static str, scope: &'static str, body: Value) -> Row {
    Row {
        method,
        template,
        scope: Some(scope),
        body,
        list: false,
    }
}

fn list(template: &'static str, scope: &'static str) -> Row {
    Row {
        method: Method::GET,
        template,
        scope: Some(scope),
        body: Value::Null,
        list: true,
    }
}

#[tokio::test]
async fn every_endpoint_refuses_another_workspaces_ids_and_checks_its_scope() {
    let gw = Gateway::start("tenancy", &[]);
    let billing_key = std::fs::read_to_string(gw.data_dir.join("sandbox-billing.key"))
        .unwrap()
        .trim()
        .to_string();

    // Workspace A (the sandbox) owns one of everything.
    let phone = "+14155550177";
    let msg = gw.send_sms(phone, "only for workspace A").await;
    let msg_view = gw
        .wait_for(&msg, "delivered", Duration::from_secs(20))
        .await;
    let contact = msg_view["contact"].as_str().unwrap().to_string();
    let (_, conns) = gw.get("/v1/connections").await;
    let conn = conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "sms")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = gw
        .post_json(
            "/v1/policies",
            &json!({"name": "a-private-policy", "steps": [{"send": {"channel": "sms"}, "until": "accepted", "timeout_ms": 30000}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, ep) = gw
        .post_json(
            "/v1/webhook-endpoints",
            &json!({"url": "https://hooks.example.com/a"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ep}");
    let endpoint = ep["id"].as_str().unwrap().to_string();
    let (s, key) = gw
        .post_json("/v1/keys", &json!({"name": "a reader", "scopes": ["read"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let key_id = key["id"].as_str().unwrap().to_string();
    // The sandbox's console admin is one of A's members.
    let (_, members) = gw.get("/v1/members").await;
    let member_id = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "admin@sandbox.test")
        .expect("the sandbox admin")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, price) = gw
        .call(
            Method::POST,
            "/v1/billing/prices",
            &billing_key,
            Some(&json!({"channel": "sms", "product": "sms", "country": "US", "unit_price_micros": 7_000})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{price}");
    assert_eq!(price["source"], "workspace", "{price}");
    assert_eq!(price["unit_price_micros"], 7_000, "{price}");
    let price_id = price["id"].as_i64().unwrap().to_string();
    let (s, _) = gw
        .post_json(
            &format!("/v1/connections/{conn}/blocked-urls"),
            &json!({"url": "https://a-only.example.com/x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (s, rule) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "a-private-rule", "condition": true, "targets": [{"email": "a-rule@example.com"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    let rule_id = rule["id"].as_str().unwrap().to_string();
    let (s, result) = gw
        .post_json(
            "/v1/results",
            &json!({"form": "a-form", "values": {"secret": "only for workspace A"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{result}");
    let result_id = result["id"].as_str().unwrap().to_string();
    let automation_body = json!({"name": "a-private-automation", "trigger": {"type": "conversation.started"},
        "steps": [{"id": "s1", "send": {"text": "only for workspace A"}}]});
    let (s, automation) = gw.post_json("/v1/automations", &automation_body).await;
    assert_eq!(s, StatusCode::CREATED, "{automation}");
    let automation_id = automation["id"].as_str().unwrap().to_string();
    // A tag of A's, on A's conversation.
    let (s, tag) = gw
        .post_json("/v1/conversation-tags", &json!({"name": "a-private-tag"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tag}");
    let tag_id = tag["id"].as_str().unwrap().to_string();
    let (s, _) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/messages"),
            &json!({"author": "customer", "text": "only for workspace A"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, tagged) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/tags"),
            &json!({"tags": ["a-private-tag"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{tagged}");
    let (s, sender_domain) = gw
        .post_json(
            "/v1/sender-domains",
            &json!({"connection": "con_sandbox_sendgrid_email", "domain": "a-only-domain.example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sender_domain}");
    let sender_domain_id = sender_domain["id"].as_str().unwrap().to_string();

    // Workspace B, with one key per scope and one with all of them.
    let (_b, b_all) = gw.new_workspace("Tenant B").await;
    let mut b_keys = std::collections::BTreeMap::new();
    for scope in ["send", "read", "billing", "admin"] {
        let (s, k) = gw
            .call(
                Method::POST,
                "/v1/keys",
                &b_all,
                Some(&json!({"name": scope, "scopes": [scope]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{k}");
        b_keys.insert(scope, k["key"].as_str().unwrap().to_string());
    }

    let rows = rows::rows(&conn, &contact, phone);

    complete::every_endpoint_has_a_row(&rows);

    // What must never show up in B's answers.
    let a_secrets = [
        msg.as_str(),
        contact.as_str(),
        conn.as_str(),
        endpoint.as_str(),
        key_id.as_str(),
        member_id.as_str(),
        "admin@sandbox.test",
        "a-private-policy",
        "a-only.example.com",
        phone,
        "only for workspace A",
        "hooks.example.com/a",
        rule_id.as_str(),
        result_id.as_str(),
        "a-rule@example.com",
        automation_id.as_str(),
        "a-private-automation",
        tag_id.as_str(),
        "a-private-tag",
        sender_domain_id.as_str(),
        "a-only-domain.example.com",
    ];
    let fill = |t: &str| {
        t.replace("{id}", &msg)
            .replace("{contact}", &contact)
            .replace("{conn}", &conn)
            .replace("{endpoint}", &endpoint)
            .replace("{key}", &key_id)
            .replace("{member}", &member_id)
            .replace("{price}", &price_id)
            .replace("{rule}", &rule_id)
            .replace("{result}", &result_id)
            .replace("{policy}", "a-private-policy")
            .replace("{automation}", &automation_id)
            .replace("{sender_domain}", &sender_domain_id)
            .replace("{version}", "1")
            .replace("{tag}", &tag_id)
    };
    for r in &rows {
        let path = fill(r.template);
        let body = (!r.body.is_null()).then_some(&r.body);
        let scope = r.scope.unwrap();
        // The right scope: another workspace's id is simply not there.
        let (status, answer) = gw.call(r.method.clone(), &path, &b_keys[scope], body).await;
        let text = answer.to_string();
        for leak in a_secrets {
            assert!(
                !text.contains(leak),
                "{} {path} leaked {leak:?}: {text}",
                r.method
            );
        }
        let names_a_id = path.contains(&msg)
            || path.contains(&contact)
            || path.contains(&conn)
            || path.contains(&endpoint)
            || path.contains(&key_id)
            || path.contains(&member_id)
            || path.contains("a-private-policy")
            || path.contains(&rule_id)
            || path.contains(&result_id)
            || path.contains(&automation_id)
            || path.contains(&tag_id)
            || path.contains(&sender_domain_id)
            || path.contains(&format!("/prices/{price_id}"));
        if names_a_id {
            assert_eq!(status, StatusCode::NOT_FOUND, "{} {path}: {text}", r.method);
        } else if r.list {
            assert_eq!(status, StatusCode::OK, "{} {path}: {text}", r.method);
        } else if r.body.to_string().contains(&conn) || r.body.to_string().contains(&contact) {
            // An id in the body is a field error: that id does not exist in B.
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{} {path}: {status} {text}",
                r.method
            );
        } else {
            assert!(
                status.is_success() || status.is_client_error(),
                "{} {path}: {status} {text}",
                r.method
            );
            assert_ne!(status, StatusCode::FORBIDDEN, "{} {path}: {text}", r.method);
        }
        // Every other scope: 403 before anything is looked up.
        for (other, key) in &b_keys {
            if *other == scope {
                continue;
            }
            let (status, answer) = gw.call(r.method.clone(), &path, key, body).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} {path} with a `{other}` key: {answer}",
                r.method
            );
            assert!(answer["error"]["message"].as_str().unwrap().contains(scope));
        }
    }

    // A's things are all still there, untouched.
    let (s, _) = gw.get(&format!("/v1/messages/{msg}")).await;
    assert_eq!(s, StatusCode::OK);
    let (_, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(c["status"], "active", "{c}");
    assert_ne!(c["name"], "stolen");
    assert_eq!(c["chat"], "two_way", "{c}");
    let (_, changes) = gw
        .get(&format!("/v1/connections/{conn}/chat-changes"))
        .await;
    assert_eq!(changes, serde_json::json!([]), "B switched A's chat");
    let (s, _) = gw.get("/v1/policies/a-private-policy").await;
    assert_eq!(s, StatusCode::OK);
    let (_, e) = gw.get(&format!("/v1/webhook-endpoints/{endpoint}")).await;
    assert_eq!(e["status"], "enabled");
    let (s, d) = gw
        .get(&format!("/v1/sender-domains/{sender_domain_id}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert!(d["follow_up"].is_null(), "{d}");
    let (s, a) = gw.get(&format!("/v1/automations/{automation_id}")).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(
        (a["name"].as_str(), a["version"].as_u64()),
        (Some("a-private-automation"), Some(1))
    );
    let (_, t) = gw.get(&format!("/v1/conversation-tags/{tag_id}")).await;
    assert_eq!(
        (t["name"].as_str(), t["conversations"].as_i64()),
        (Some("a-private-tag"), Some(1)),
        "{t}"
    );
}
