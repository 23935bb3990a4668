//! A secret sent to an allowed host that quotes the request back (as providers do in error
//! messages) comes back to the plugin as `[redacted]`, so it cannot reach a failure detail,
//! an event or a log line from there.

use std::time::Duration;

use serde_json::json;

use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, test_plugins_dir};

const CANARY: &str = "canary-echo-4b7e19d2c6a85f30";

#[tokio::test]
async fn a_secret_echoed_by_an_allowed_host_reaches_the_plugin_redacted() {
    let sim = SandboxProcess::start();
    let dir = fresh_dir("plugin-echo");
    let listen = format!("127.0.0.1:{}", free_port());
    let gw = Gateway::start_in(
        &dir,
        &listen,
        &[
            "--sandbox-url",
            sim.url.as_str(),
            "--allow-origin",
            sim.url.as_str(),
            "--plugins-dir",
            test_plugins_dir(),
        ],
    );
    let (status, conn) = gw
        .post_json(
            "/v1/connections",
            &json!({
                "plugin": "test-exfil",
                "name": "echo",
                "config": {"echo_url": format!("{}/_sandbox/echo", sim.url), "echo_user": "echo-user"},
                "secrets": {"api_key": CANARY},
            }),
        )
        .await;
    assert_eq!(status, 201, "{conn}");
    let id = gw
        .send(&json!({
            "channel": "test-exfil",
            "connection": conn["id"],
            "to": {"phone": "+14155550120"},
            "content": {"text": "echo"},
        }))
        .await;
    let msg = gw.wait_for(&id, "failed", Duration::from_secs(30)).await;
    let detail = msg["deliveries"][0]["failure"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // All four requests went out and were answered: the host is allowed, so nothing was
    // denied, and what came back had the secret cut out of a header, the JSON body, the
    // Bearer token and the Basic credential (base64 of `echo-user:<secret>`).
    assert_eq!(detail.matches("ECHO status 200").count(), 4, "{detail}");
    assert!(!detail.contains("truncated"), "{detail}");
    for quoted in [
        r#""x-key":"[redacted]""#,
        r#"{\"key\":\"[redacted]\"}"#,
        r#""authorization":"Bearer [redacted]""#,
        r#""authorization":"Basic [redacted]""#,
    ] {
        assert!(detail.contains(quoted), "{quoted} not in {detail}");
    }

    let (_, events) = gw.get("/v1/events?limit=100").await;
    for (what, text) in [
        ("message view", msg.to_string()),
        ("events", events.to_string()),
        ("log", gw.log()),
    ] {
        assert!(!text.contains(CANARY), "the secret reached the {what}");
    }
}
