//! `/docs` in the browser: the reference renders every operation of the API document from
//! the gateway alone. Chromium's own records prove it: every request the page made, and
//! every resource it loaded, was to the gateway; and its console shows no error, which is
//! where a Content-Security-Policy violation would be reported.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::support::Gateway;

/// `(METHOD, path)` of every operation the page rendered.
const RENDERED: &str = r#"
return Array.from(document.querySelectorAll('.opblock')).map(o => [
  o.querySelector('.opblock-summary-method').textContent,
  o.querySelector('.opblock-summary-path').getAttribute('data-path'),
]);
"#;

/// Click POST /v1/messages open; return whether it was found.
const OPEN_SEND: &str = r#"
const op = Array.from(document.querySelectorAll('.opblock.opblock-post')).find(o =>
  o.querySelector('.opblock-summary-path').getAttribute('data-path') === '/v1/messages');
if (!op) return false;
op.querySelector('.opblock-summary-control').click();
op.scrollIntoView();
return true;
"#;

/// The opened operation's response codes, once rendered.
const SEND_RESPONSES: &str = r#"
const op = Array.from(document.querySelectorAll('.opblock.opblock-post')).find(o =>
  o.querySelector('.opblock-summary-path').getAttribute('data-path') === '/v1/messages');
return Array.from(op.querySelectorAll('.responses-table .response')).map(r => r.getAttribute('data-code'));
"#;

/// What the opened operation shows: its request body's media type and response codes.
const SEND_DETAILS: &str = r#"
const op = Array.from(document.querySelectorAll('.opblock.opblock-post')).find(o =>
  o.querySelector('.opblock-summary-path').getAttribute('data-path') === '/v1/messages');
const body = op.querySelector('.opblock-section-request-body');
return {
  request_body: body ? body.textContent : null,
  responses: Array.from(op.querySelectorAll('.responses-table .response')).map(r => r.getAttribute('data-code')),
  parameters: Array.from(op.querySelectorAll('.parameters .parameter__name')).map(p => p.textContent),
};
"#;

const RESOURCES: &str =
    "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);";

/// Poll `script` until it returns something other than null, false or an empty list.
async fn until(b: &Browser, script: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let got = b.client.execute(script, vec![]).await.unwrap();
        let empty = matches!(&got, Value::Null | Value::Bool(false))
            || got.as_array().is_some_and(|a| a.is_empty());
        if !empty {
            return got;
        }
        assert!(Instant::now() < deadline, "nothing from {script}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_renders_every_operation_from_the_gateway_alone() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-docs", &[]));
    let mut b = Browser::start_logging("api-reference").await;
    b.client
        .goto(&format!("{}/docs", gw.url))
        .await
        .expect("navigate");
    until(&b, RENDERED, Duration::from_secs(30)).await;
    b.shot("reference").await;

    // Every operation of the document, grouped under its tags, and nothing else.
    let doc: Value = serde_json::from_str(include_str!("../../schemas/openapi.json")).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let rendered: BTreeSet<(String, String)> =
        serde_json::from_value(b.client.execute(RENDERED, vec![]).await.unwrap()).unwrap();
    assert_eq!(rendered, documented);
    assert!(rendered.contains(&("POST".into(), "/v1/messages".into())));
    let tags = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('.opblock-tag')).map(t => t.getAttribute('data-tag'));",
            vec![],
        )
        .await
        .unwrap();
    for tag in ["messages", "contacts", "billing", "system"] {
        assert!(tags.as_array().unwrap().contains(&json!(tag)), "{tags}");
    }
    assert!(
        b.text_of(".info .title").await.starts_with("Switchboard"),
        "the document's title"
    );

    // One operation opened: its request body, parameters and responses.
    assert_eq!(
        b.client.execute(OPEN_SEND, vec![]).await.unwrap(),
        json!(true)
    );
    until(&b, SEND_RESPONSES, Duration::from_secs(10)).await;
    let details = b.client.execute(SEND_DETAILS, vec![]).await.unwrap();
    b.shot("post-v1-messages").await;
    assert!(
        details["request_body"]
            .as_str()
            .is_some_and(|t| t.contains("application/json")),
        "{details:#}"
    );
    let codes = details["responses"].as_array().unwrap();
    for code in ["202", "401", "422"] {
        assert!(codes.contains(&json!(code)), "{details:#}");
    }
    assert!(
        details["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap_or("").contains("Idempotency-Key")),
        "{details:#}"
    );
    b.assert_no_dialog().await;

    // Offline: every resource the page loaded, and every request Chromium sent, was to the
    // gateway (a `data:` URI is no request; the stylesheet's icons are such).
    let origin = gw.url.trim_end_matches('/');
    let resources = b.client.execute(RESOURCES, vec![]).await.unwrap();
    let resources = resources.as_array().unwrap();
    assert!(resources.len() >= 4, "{resources:?}");
    for name in resources {
        let name = name.as_str().unwrap();
        assert!(
            name.starts_with(&format!("{origin}/")),
            "{name} is not on {origin}"
        );
    }
    let mut requests = Vec::new();
    for entry in b.logs("performance").await {
        let message: Value =
            serde_json::from_str(entry["message"].as_str().unwrap_or("{}")).unwrap_or_default();
        if message["message"]["method"] == "Network.requestWillBeSent" {
            requests.push(
                message["message"]["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    assert!(
        requests.iter().any(|u| u.ends_with("/openapi.json")),
        "{requests:#?}"
    );
    for url in &requests {
        assert!(
            url.starts_with(&format!("{origin}/")) || url.starts_with("data:"),
            "a request left the gateway: {url}"
        );
    }
    let errors: Vec<Value> = b
        .logs("browser")
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.client.clone().close().await.unwrap();
}
