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

/// An allow-list entry with a port opens that port only: a host name resolving to the
/// address does not open its other ports, for plugin requests and webhook endpoints alike.
#[tokio::test]
async fn an_allow_list_port_is_held_to_even_through_a_host_name() {
    let open = Receiver::start().await;
    let closed = Receiver::start().await;
    let allow = format!("127.0.0.1:{}", open.port);
    let (open_url, closed_url) = (
        format!("http://localhost:{}", open.port),
        format!("http://localhost:{}", closed.port),
    );
    let gw = Gateway::start(
        "netguard-port",
        &[
            "--plugins-dir",
            test_plugins_dir(),
            "--allow-origin",
            &open_url,
            "--allow-origin",
            &closed_url,
            "--allow-private-net",
            &allow,
            "--max-attempts",
            "1",
            "--send-deadline-ms",
            "2000",
        ],
    );

    let m = probe(&gw, &format!("{closed_url}/probe")).await;
    let failure = &m["deliveries"][0]["failure"];
    assert_eq!(m["status"], "failed", "{m:#}");
    assert_eq!(failure["reason"], "permission_denied", "{m:#}");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{}", closed.port)),
        "{failure}"
    );
    let m = probe(&gw, &format!("{open_url}/probe")).await;
    assert_eq!(m["status"], "sent", "{m:#}");
    assert_eq!(open.received().len(), 1);

    // Webhook endpoints: the workspace admin names the URL, the operator's entry decides.
    for url in [&open_url, &closed_url] {
        let (s, ep) = gw
            .post_json(
                "/v1/webhook-endpoints",
                &json!({"url": format!("{url}/hook"), "event_types": ["message.queued"]}),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::CREATED, "{ep}");
    }
    gw.send_sms("+14155550166", "who hears this").await;
    open.wait_for(2, Duration::from_secs(20)).await;
    let (_, endpoints) = gw.get("/v1/webhook-endpoints").await;
    let closed_ep = endpoints["data"]
        .as_array()
        .or(endpoints.as_array())
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().starts_with(&closed_url))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let error = loop {
        let (_, list) = gw
            .get(&format!("/v1/webhook-endpoints/{closed_ep}/deliveries"))
            .await;
        if let Some(e) = list[0]["attempts"][0]["error"].as_str() {
            break e.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "{list:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains("not allow-listed"), "{error}");
    assert!(
        closed.received().is_empty(),
        "a request reached the port nobody allowed"
    );
}
