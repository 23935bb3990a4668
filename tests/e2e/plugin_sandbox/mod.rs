//! Misbehaving plugins fail only their own call, within the deadline, with a clear reason,
//! while other messages keep flowing ([`hostile`]); a connection whose plugin keeps faulting
//! is quarantined with growing backoff and recovers ([`quarantine`]); and a plugin that
//! accepts callbacks without verifying them cannot change anything.

mod echo;
mod hostile;
mod quarantine;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, test_plugins_dir};

/// `test-trusting` announces a capability this host does not know ("from-a-newer-sdk"): it
/// loads, the API shows the manifest's strings as they are, and the load logs a warning.
#[tokio::test]
async fn an_unknown_capability_is_ignored_with_a_warning_not_refused() {
    let gw = Gateway::start("plugin-capability", &["--plugins-dir", test_plugins_dir()]);
    let (status, plugins) = gw.get("/v1/plugins").await;
    assert_eq!(status, StatusCode::OK, "{plugins}");
    let trusting = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test-trusting")
        .expect("test-trusting is loaded");
    assert_eq!(trusting["capabilities"], json!(["from-a-newer-sdk"]));
    let log = gw.log();
    assert!(
        log.lines().any(|l| l.contains("unknown capability ignored")
            && l.contains("from-a-newer-sdk")
            && l.contains("test-trusting")),
        "{log}"
    );
}

/// `test-trusting` reports "delivered" for whatever message id it is posted, without checking
/// anything. The host refuses its answer: 401, nothing applied, counted as unauthorized.
#[tokio::test]
async fn a_plugin_that_trusts_every_callback_cannot_forge_a_status() {
    let gw = Gateway::start("plugin-trusting", &["--plugins-dir", test_plugins_dir()]);
    let (status, body) = gw
        .post_message(&json!({"channel": "test-trusting", "to": {"phone": "+14155550120"}, "content": {"text": "hi"}}))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let msg = gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    let provider_id = msg["deliveries"][0]["provider_message_id"]
        .as_str()
        .unwrap()
        .to_string();

    let url = format!("{}/v1/webhooks/con_sandbox_test_trusting", gw.url);
    // Verifying nothing, and asking the host to compare a guess, then ignoring the answer
    // (the sandbox connection has no secret to match).
    for guess in [None, Some("guess")] {
        let mut req = gw.http().post(&url).body(provider_id.clone());
        if let Some(g) = guess {
            req = req.header("x-trusting-token", g);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{guess:?}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_signature", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("the plugin accepted the callback without verifying a signature"),
            "{message}"
        );
    }

    let (_, after) = gw.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(after["status"], "sent", "{after:#}");
    let timeline = after["deliveries"][0]["timeline"].to_string();
    assert!(!timeline.contains("delivered"), "{timeline}");

    let metrics = gw
        .http()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.contains("provider_callbacks")
                && l.contains("con_sandbox_test_trusting")
                && l.contains("outcome=\"unauthorized\"")
        })
        .unwrap_or_else(|| panic!("no unauthorized callback metric:\n{metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
    assert!(
        gw.log().contains("callback refused"),
        "the refusal is logged"
    );
}
