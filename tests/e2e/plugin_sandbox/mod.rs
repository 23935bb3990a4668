//! Misbehaving plugins fail only their own call, within the deadline, with a clear reason,
//! while other messages keep flowing; and a plugin that accepts callbacks without verifying
//! them cannot change anything.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, test_plugins_dir};

#[tokio::test]
async fn hostile_plugins_are_contained_and_sms_keeps_flowing() {
    let deadline_ms = 1500;
    let gw = Gateway::start(
        "plugin-sandbox",
        &[
            "--plugins-dir",
            test_plugins_dir(),
            "--send-deadline-ms",
            &deadline_ms.to_string(),
            "--plugin-memory-mib",
            "32",
        ],
    );
    let (_, plugins) = gw.get("/v1/plugins").await;
    let names: Vec<&str> = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "facebook-messenger",
            "fcm-apns-push",
            "sendgrid-email",
            "solapi-alimtalk",
            "test-hog",
            "test-probe",
            "test-snoop",
            "test-spin",
            "test-trusting",
            "twilio-sms"
        ]
    );

    let started = Instant::now();
    let send = |channel: &str| json!({"channel": channel, "to": {"phone": "+14155550120"}, "content": {"text": "hi"}});
    let mut hostile = Vec::new();
    for channel in ["test-spin", "test-hog", "test-snoop"] {
        let (status, body) = gw.post_message(&send(channel)).await;
        assert_eq!(status, 202, "{channel}: {body}");
        hostile.push((channel, body["id"].as_str().unwrap().to_string()));
    }
    let mut sms = Vec::new();
    for i in 0..20 {
        sms.push(
            gw.send_sms(&format!("+141555503{i:02}"), "still here")
                .await,
        );
    }
    for id in &sms {
        gw.wait_for(id, "delivered", Duration::from_secs(30)).await;
    }

    let failure = |msg: &Value| msg["deliveries"][0]["failure"].clone();
    for (channel, id) in &hostile {
        let msg = gw.wait_for(id, "failed", Duration::from_secs(30)).await;
        let f = failure(&msg);
        let attempt = &msg["deliveries"][0]["attempts"][0];
        let detail = f["detail"].as_str().unwrap();
        match *channel {
            "test-spin" => {
                assert_eq!(f["reason"], "plugin_error", "{msg:#}");
                assert!(detail.contains("deadline"), "{detail}");
                // Stopped by its deadline, not by anything slower.
                let took = attempt["duration_ms"].as_i64().unwrap();
                assert!(
                    took >= deadline_ms - 20 && took < deadline_ms + 1000,
                    "spin ran {took} ms"
                );
            }
            "test-hog" => {
                assert_eq!(f["reason"], "plugin_error", "{msg:#}");
                assert!(detail.contains("memory limit of 32 MiB"), "{detail}");
            }
            "test-snoop" => {
                assert_eq!(f["reason"], "permission_denied", "{msg:#}");
                assert!(
                    detail.contains("http://evil.example.com is not on this plugin's allow-list"),
                    "{detail}"
                );
            }
            _ => unreachable!(),
        }
        assert_eq!(
            msg["deliveries"][0]["attempts"].as_array().unwrap().len(),
            1,
            "a broken plugin is not retried"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // The gateway is still healthy.
    let health: Value = gw
        .http()
        .get(format!("{}/healthz", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let log = gw.log();
    assert!(
        log.contains("plugin request denied"),
        "the denial is logged"
    );
    assert!(
        !log.contains(switchboard_sandbox::SANDBOX_AUTH_TOKEN),
        "no secret in the logs"
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
