//! Sandbox mode speaks to its simulators as production speaks to providers: over TLS, to the
//! providers' real host names (resolved to the simulators only in sandbox mode, with a CA
//! made at start-up), HTTP/2 negotiated by ALPN for APNs, and each plugin held to its own
//! manifest's hosts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::target::{Channel, Target};
use crate::support::{Gateway, test_plugins_dir};

fn row<'a>(rows: &'a [Value], host: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["host"] == host).collect()
}

#[tokio::test]
async fn every_channel_reaches_its_provider_over_tls_by_its_real_name() {
    let gw = Gateway::start(
        "sandbox-tls",
        &[
            "--plugins-dir",
            test_plugins_dir(),
            "--max-attempts",
            "1",
            "--send-deadline-ms",
            "3000",
        ],
    );
    for (n, channel) in [
        Channel::Sms,
        Channel::Email,
        Channel::Fcm,
        Channel::Apns,
        Channel::AlimTalk,
        Channel::Messenger,
    ]
    .into_iter()
    .enumerate()
    {
        let t = Target::new(channel, 40 + n as u32);
        t.prepare(&gw).await;
        let id = t.send(&gw).await;
        gw.wait_for(&id, t.ends, Duration::from_secs(30)).await;
    }

    let rows = gw.sim_get("/_sandbox/transport").await;
    let rows = rows.as_array().unwrap();
    for host in [
        "api.twilio.com",
        "api.sendgrid.com",
        "oauth2.googleapis.com",
        "fcm.googleapis.com",
        "api.push.apple.com",
        "api.solapi.com",
        "graph.facebook.com",
    ] {
        let seen = row(rows, host);
        assert!(!seen.is_empty(), "{host} saw nothing: {rows:#?}");
        assert!(
            seen.iter().all(|r| r["tls"] == true),
            "{host} was reached without TLS: {rows:#?}"
        );
    }
    assert!(
        row(rows, "api.push.apple.com")
            .iter()
            .all(|r| r["http_version"] == "HTTP/2.0"),
        "APNs negotiated HTTP/2: {rows:#?}"
    );
    // Nothing reached a provider's API over the plain listener (the control API is not
    // recorded; the plain rows left are the simulators' own callbacks' receivers, if any).
    let plain: Vec<&Value> = rows.iter().filter(|r| r["tls"] == false).collect();
    assert!(
        plain.is_empty(),
        "provider requests without TLS: {plain:#?}"
    );

    // A plugin whose manifest does not name Twilio's host cannot reach it, sandbox or not.
    let id = gw
        .send(
            &json!({"channel": "test-probe", "to": {"phone": "+14155550100"},
                      "content": {"text": "https://api.twilio.com/2010-04-01/Accounts"}}),
        )
        .await;
    let failed = gw.wait_for(&id, "failed", Duration::from_secs(30)).await;
    let failure = &failed["deliveries"][0]["failure"];
    assert_eq!(failure["reason"], "permission_denied", "{failed:#}");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains("api.twilio.com"),
        "{failure}"
    );
}
