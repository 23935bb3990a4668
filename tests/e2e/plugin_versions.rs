//! The versioned plugin contract: a plugin built for an API version this gateway does not
//! support is refused by name at load, with its version and the supported range, and the
//! gateway keeps serving every other plugin; a plugin built before the SDK stamped versions is
//! judged by the interface it exports and still loads and sends; a plugin built for 0.1.0 (no
//! `find-sent`), one built for 0.2.0 (no echoes, no payloads) and one built for 0.3.0 (no
//! senders) keep working on a 0.4.0 host, and a lost answer of a send that cannot be asked
//! about is decided by the workspace's `ambiguous_sends`.

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
            && error.contains("supports 0.1.x, 0.2.x, 0.3.x, 0.4.x"),
        "{error}"
    );
    let loaded: Vec<&Value> = plugins["data"].as_array().unwrap().iter().collect();
    assert!(
        loaded.iter().all(|p| p["name"] != "test-future"),
        "{plugins:#}"
    );
    // The bundled plugins and the SDK-built test plugins are 0.4.0; the unversioned one is a
    // 0.1.0 component, `test-api-0-2` a 0.2.0 one and `test-api-0-3` a 0.3.0 one, and all
    // load next to them.
    for p in &loaded {
        let want = match p["name"].as_str() {
            Some("test-unversioned") => "0.1.0",
            Some("test-api-0-2") => "0.2.0",
            Some("test-api-0-3") => "0.3.0",
            _ => "0.4.0",
        };
        assert_eq!(p["api_version"], want, "{p}");
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

#[tokio::test]
async fn a_plugin_built_for_0_2_0_loads_as_0_2_0_and_sends() {
    let gw = Gateway::start("plugin-api-0-2", &["--plugins-dir", test_plugins_dir()]);
    let (_, plugins) = gw.get("/v1/plugins").await;
    let plugin = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test-api-0-2")
        .unwrap_or_else(|| panic!("not loaded: {plugins:#}"));
    assert_eq!(plugin["api_version"], "0.2.0", "{plugin}");

    let id = gw
        .send(&json!({"channel": "test-api-0-2", "to": {"phone": "+14155550125"}, "content": {"text": "hello"}}))
        .await;
    let msg = gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    let provider_id = msg["deliveries"][0]["provider_message_id"]
        .as_str()
        .unwrap();
    assert!(provider_id.starts_with("api-0-2-"), "{msg:#}");
}

/// A plugin built for 0.3.0 sends as before. It has no senders, whatever its manifest
/// claims: a message naming one is refused on its channel, and its connection has no sender
/// domains (the host does not call a 0.3.0 plugin for them).
#[tokio::test]
async fn a_plugin_built_for_0_3_0_loads_as_0_3_0_sends_and_has_no_senders() {
    let gw = Gateway::start("plugin-api-0-3", &["--plugins-dir", test_plugins_dir()]);
    let (_, plugins) = gw.get("/v1/plugins").await;
    let plugin = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test-api-0-3")
        .unwrap_or_else(|| panic!("not loaded: {plugins:#}"));
    assert_eq!(plugin["api_version"], "0.3.0", "{plugin}");

    let id = gw
        .send(&json!({"channel": "test-api-0-3", "to": {"phone": "+14155550126"}, "content": {"text": "hello"}}))
        .await;
    let msg = gw.wait_for(&id, "sent", Duration::from_secs(20)).await;
    let provider_id = msg["deliveries"][0]["provider_message_id"]
        .as_str()
        .unwrap();
    assert!(provider_id.starts_with("api-0-3-"), "{msg:#}");

    let (status, e) = gw
        .post_message(
            &json!({"channel": "test-api-0-3", "to": {"phone": "+14155550126"},
                              "from": {"email": "news@example.com"}, "content": {"text": "hello"}}),
        )
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["field"], "from", "{e}");
    let (status, e) = gw
        .post_json(
            "/v1/sender-domains",
            &json!({"connection": "con_sandbox_test_api_0_3", "domain": "example.com"}),
        )
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["code"], "domains_unsupported", "{e}");
}

/// A plugin that cannot be asked whether it sent (the SDK's default `find-sent`; a 0.1.0
/// plugin has none at all) leaves a lost answer to `ambiguous_sends`: under `fail` the delivery
/// ends `outcome_unknown` after one request, and the timeline says why.
#[tokio::test]
async fn a_lost_answer_of_a_plugin_that_cannot_be_asked_follows_ambiguous_sends() {
    // A server that takes the request and never answers: the answer is lost.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let (origin, allow) = (
        format!("http://127.0.0.1:{port}"),
        format!("127.0.0.1:{port}"),
    );
    let gw = Gateway::start(
        "plugin-cannot-ask",
        &[
            "--plugins-dir",
            test_plugins_dir(),
            "--allow-origin",
            &origin,
            "--allow-private-net",
            &allow,
            "--send-deadline-ms",
            "1500",
        ],
    );
    let (code, ws) = gw
        .patch_json("/v1/workspace", &json!({"ambiguous_sends": "fail"}))
        .await;
    assert!(code.is_success(), "{ws}");
    let id = gw
        .send(
            &json!({"channel": "test-probe", "to": {"phone": "+14155550124"},
                      "content": {"text": format!("{origin}/hang")}}),
        )
        .await;
    let msg = gw.wait_for(&id, "failed", Duration::from_secs(30)).await;
    let d = &msg["deliveries"][0];
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{msg:#}");
    assert_eq!(d["attempts"][0]["outcome"], "unknown", "{msg:#}");
    assert_eq!(d["failure"]["reason"], "outcome_unknown", "{msg:#}");
    let timeline = d["timeline"].to_string();
    assert!(
        timeline.contains("cannot be asked") && timeline.contains("ambiguous_sends: fail"),
        "{msg:#}"
    );
    assert_eq!(held.lock().unwrap().len(), 1, "one request, not sent again");
}
