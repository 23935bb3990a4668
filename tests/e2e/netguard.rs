//! Plugin HTTP cannot reach loopback, private or link-local addresses unless the operator
//! allow-lists them, even when the origin itself is allowed: the address is checked after
//! resolution, where the connection is made.

use std::time::Duration;

use serde_json::json;

use crate::receiver::Receiver;
use crate::support::{Gateway, test_plugins_dir};

async fn probe(gw: &Gateway, url: &str) -> serde_json::Value {
    let id = gw
        .send(&json!({"channel": "test-probe", "to": {"phone": "+14155550100"}, "content": {"text": url}}))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = gw.get(&format!("/v1/messages/{id}")).await;
        if m["status"] == "sent" || m["status"] == "failed" {
            return m;
        }
        assert!(std::time::Instant::now() < deadline, "{m:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn plugin_requests_to_loopback_and_private_addresses_need_the_operator() {
    let target = Receiver::start().await;
    let mapped = format!("http://[::ffff:127.0.0.1]:{}", target.port);
    let common = [
        "--plugins-dir",
        test_plugins_dir(),
        "--allow-origin",
        &target.url,
        "--allow-origin",
        &mapped,
        "--allow-origin",
        "http://10.0.0.1",
        "--max-attempts",
        "1",
        "--send-deadline-ms",
        "2000",
    ];

    let denied = Gateway::start("netguard-denied", &common);
    for url in [
        format!("{}/probe", target.url),
        "http://10.0.0.1/probe".to_string(),
        format!("http://[::ffff:127.0.0.1]:{}/probe", target.port),
    ] {
        let m = probe(&denied, &url).await;
        let failure = &m["deliveries"][0]["failure"];
        assert_eq!(m["status"], "failed", "{url}: {m:#}");
        assert_eq!(failure["reason"], "permission_denied", "{url}: {m:#}");
        assert!(
            failure["detail"]
                .as_str()
                .unwrap()
                .contains("loopback, private or link-local"),
            "{url}: {failure}"
        );
    }
    assert!(
        target.received().is_empty(),
        "a denied request left the host"
    );
    drop(denied);

    let mut args = common.to_vec();
    let allow = format!("127.0.0.1:{}", target.port);
    args.extend([
        "--allow-private-net",
        &allow,
        "--allow-private-net",
        "10.0.0.1",
    ]);
    let allowed = Gateway::start("netguard-allowed", &args);
    let m = probe(&allowed, &format!("{}/probe", target.url)).await;
    assert_eq!(m["status"], "sent", "{m:#}");
    assert_eq!(m["deliveries"][0]["provider_message_id"], "probe-200");
    assert_eq!(target.received().len(), 1);
    // Allow-listed, so the request goes out: whatever happens at 10.0.0.1 on this machine
    // (an answer, a timeout), it is not the guard's refusal.
    let m = probe(&allowed, "http://10.0.0.1/probe").await;
    assert_ne!(
        m["deliveries"][0]["failure"]["reason"], "permission_denied",
        "{m:#}"
    );
}
