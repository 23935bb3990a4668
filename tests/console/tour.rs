//! Every page of the console, once, in the browser: each is saved as a screenshot, runs no
//! injected script, has a heading, labels every form control, and can be left by keyboard
//! (Tab reaches a link or control first).

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde_json::json;

use crate::browser::Browser;
use crate::pages::sign_in;
use crate::support::Gateway;

/// Form controls (not hidden ones) that no label names.
const UNLABELLED: &str = r#"
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && (!e.labels || e.labels.length === 0))
  .map(e => e.outerHTML);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_labelled_and_reachable_by_keyboard() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-tour", &[]));
    let message = gw.send_sms("+14155550188", "a message to look at").await;
    gw.wait_for(&message, "delivered", std::time::Duration::from_secs(30))
        .await;
    let (_, contact) = gw
        .call(
            reqwest::Method::POST,
            "/v1/contacts",
            &gw.key,
            Some(&json!({"name": "Grace", "addresses": [{"kind": "email", "address": "grace@example.com"}]})),
        )
        .await;
    let contact = contact["id"].as_str().unwrap().to_string();
    let (s, automation) = gw
        .post_json(
            "/v1/automations",
            &json!({"name": "tour", "trigger": {"type": "visitor.no_reply", "minutes": 30},
                "steps": [{"id": "ask", "ask": {"field": "email", "text": "Your email?", "minutes": 10, "answered": "bye"}},
                          {"id": "bye", "end": {}}]}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{automation}");
    let automation = automation["id"].as_str().unwrap().to_string();
    let mut b = Browser::start("tour").await;
    sign_in(&mut b, &gw, "admin").await;
    let pages = [
        ("/console".to_string(), "home"),
        ("/console/messages".into(), "messages"),
        (
            "/console/messages?status=delivered&channel=sms".into(),
            "messages-filtered",
        ),
        (format!("/console/messages/{message}"), "message"),
        ("/console/conversations".into(), "conversations"),
        ("/console/contacts".into(), "contacts"),
        (format!("/console/contacts/{contact}"), "contact"),
        ("/console/connections".into(), "connections"),
        ("/console/webhooks".into(), "webhooks"),
        ("/console/keys".into(), "keys"),
        ("/console/plugins".into(), "plugins"),
        ("/console/billing".into(), "billing"),
        ("/console/automations".into(), "automations"),
        (format!("/console/automations/{automation}"), "automation"),
        ("/console/no-such-page".into(), "not-found"),
    ];
    for (path, name) in pages {
        b.visit(&format!("{}{path}", gw.url), name).await;
        b.assert_no_dialog().await;
        assert!(!b.text_of("h1").await.is_empty(), "{name} has a heading");
        let unlabelled = b.client.execute(UNLABELLED, vec![]).await.unwrap();
        assert_eq!(unlabelled, json!([]), "{name}: controls without a label");
        // Keyboard: the first Tab lands on something to act on.
        b.client
            .execute(
                "document.activeElement && document.activeElement.blur();",
                vec![],
            )
            .await
            .unwrap();
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{e004}' })
            .then(KeyAction::Up { value: '\u{e004}' });
        b.client.perform_actions(tab).await.unwrap();
        let focused = b
            .client
            .execute("return document.activeElement.tagName;", vec![])
            .await
            .unwrap();
        assert!(
            ["A", "BUTTON", "INPUT", "SELECT"].contains(&focused.as_str().unwrap_or("")),
            "{name}: Tab reached {focused}"
        );
    }
    b.client.clone().close().await.unwrap();
}
