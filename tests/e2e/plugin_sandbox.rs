//! Misbehaving plugins fail only their own call, within the deadline, with a clear reason,
//! while other messages keep flowing.

use std::time::{Duration, Instant};

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
