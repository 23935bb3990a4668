//! The versioned plugin contract: a plugin built for an API version this gateway does not
//! support is refused by name at load, with its version and the supported range, and the
//! gateway keeps serving every other plugin; a plugin built before the SDK stamped versions is
//! judged by the interface it exports and still loads and sends.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Gateway, test_plugins_dir};

#[tokio::test]
async fn an_unsupported_api_version_is_refused_by_name_and_the_rest_keep_working() {
    let gw = Gateway::start("plugin-versions", &["--plugins-dir", test_plugins_dir()]);

    // The refusal is logged with the plugin's name, its version and the supported range.
    let log = gw.log();
    let line = log
        .lines()
        .find(|l| l.contains("plugin refused"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    for part in ["test-plugin-future", "future.wasm", "0.9.0", "0.1.x"] {
        assert!(line.contains(part), "{part} missing from: {line}");
    }

    // The operator sees it next to the loaded plugins, each with its API version.
    let (status, plugins) = gw.get("/v1/plugins").await;
    assert_eq!(status, 200, "{plugins}");
    let refused = plugins["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{plugins:#}");
    assert!(
        refused[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("future.wasm")
    );
    let error = refused[0]["error"].as_str().unwrap();
    assert!(
        error.contains("`test-plugin-future`")
            && error.contains("plugin API 0.9.0")
            && error.contains("supports 0.1.x"),
        "{error}"
    );
    let loaded: Vec<&Value> = plugins["data"].as_array().unwrap().iter().collect();
    assert!(
        loaded.iter().all(|p| p["name"] != "test-future"),
        "{plugins:#}"
    );
    for p in &loaded {
        assert_eq!(p["api_version"], "0.1.0", "{p}");
    }

    // Nothing can be sent on its channel: no plugin serves it.
    let (status, body) = gw
        .post_message(&json!({"channel": "test-future", "to": {"phone": "+14155550120"}, "content": {"text": "hi"}}))
        .await;
    assert!(status.is_client_error(), "{status} {body}");

    // Bundled channels and the other test plugins keep working.
    let sms = gw.send_sms("+14155550121", "still here").await;
    gw.wait_for(&sms, "delivered", Duration::from_secs(20))
        .await;
    let id = gw
        .send(&json!({"channel": "test-flaky", "to": {"phone": "+14155550122"}, "content": {"text": "ok"}}))
        .await;
    gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_plugin_without_a_version_stamp_loads_as_0_1_0_and_sends() {
    let gw = Gateway::start("plugin-unversioned", &["--plugins-dir", test_plugins_dir()]);
    let (_, plugins) = gw.get("/v1/plugins").await;
    let plugin = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test-unversioned")
        .unwrap_or_else(|| panic!("not loaded: {plugins:#}"));
    assert_eq!(plugin["api_version"], "0.1.0", "{plugin}");

    let id = gw
        .send(&json!({"channel": "test-unversioned", "to": {"phone": "+14155550123"}, "content": {"text": "hello"}}))
        .await;
    let msg = gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    let provider_id = msg["deliveries"][0]["provider_message_id"]
        .as_str()
        .unwrap();
    assert!(provider_id.starts_with("unversioned-"), "{msg:#}");
}
