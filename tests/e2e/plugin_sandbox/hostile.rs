//! Every hostile plugin at once: each fails only its own message, with its reason, while SMS
//! and email keep delivering, the gateway stays healthy and its memory stays bounded.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, test_plugins_dir};

/// What `test-exfil` tries to steal; it must show up nowhere.
const CANARY: &str = "canary-5f1d0c7e9b2a4e38a6d1";

fn to_phone(channel: &str, text: &str) -> Value {
    json!({"channel": channel, "to": {"phone": "+14155550120"}, "content": {"text": text}})
}

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
            "generic-webhook",
            "sendgrid-email",
            "solapi-alimtalk",
            "test-api-0-2",
            "test-api-0-3",
            "test-deep",
            "test-exfil",
            "test-flaky",
            "test-flood",
            "test-hog",
            "test-probe",
            "test-snoop",
            "test-spin",
            "test-trap",
            "test-trusting",
            "test-unversioned",
            "twilio-sms"
        ]
    );
    // The sandbox connection has no secret; this one does.
    let (status, body) = gw
        .post_json(
            "/v1/connections",
            &json!({"plugin": "test-exfil", "name": "exfil", "config": {}, "secrets": {"api_key": CANARY}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let exfil_conn = body["id"].as_str().unwrap().to_string();

    let started = Instant::now();
    let mut hostile = Vec::new();
    for (channel, text) in [
        ("test-spin", "hi"),
        ("test-hog", "hi"),
        ("test-snoop", "hi"),
        ("test-deep", "hi"),
        ("test-exfil", "0"),
        ("test-exfil", "4"),
        ("test-flood", "id"),
        ("test-flood", "detail"),
        ("test-flood", "huge"),
    ] {
        let mut msg = to_phone(channel, text);
        if channel == "test-exfil" {
            msg["connection"] = json!(exfil_conn);
        }
        let (status, body) = gw.post_message(&msg).await;
        assert_eq!(status, 202, "{channel}: {body}");
        hostile.push((channel, text, body["id"].as_str().unwrap().to_string()));
    }
    // Refused at intake, synchronously: a trap in `validate`, and more violations than anyone
    // needs (cut to the host's cap).
    let (status, body) = gw.post_message(&to_phone("test-trap", "hi")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "plugin_error", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("validate trapped") && message.contains("unreachable"),
        "{message}"
    );
    let (status, body) = gw.post_message(&to_phone("test-flood", "violations")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let violations = body["error"]["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 64, "cut to the cap of 64 out of 20,000");

    let mut fine = Vec::new();
    for i in 0..20 {
        fine.push(
            gw.send_sms(&format!("+141555503{i:02}"), "still here")
                .await,
        );
    }
    let mut emails = Vec::new();
    for i in 0..5 {
        emails.push(
            gw.send(&json!({"channel": "email", "to": {"email": format!("ada{i}@example.com")}, "content": {"subject": "hi", "text": "still here"}}))
                .await,
        );
    }
    for id in &fine {
        gw.wait_for(id, "delivered", Duration::from_secs(30)).await;
    }
    // The email simulator opens what it delivers.
    for id in &emails {
        gw.wait_for(id, "seen", Duration::from_secs(30)).await;
    }

    for (channel, text, id) in &hostile {
        let msg = gw.wait_for(id, "failed", Duration::from_secs(30)).await;
        let f = &msg["deliveries"][0]["failure"];
        let attempt = &msg["deliveries"][0]["attempts"][0];
        let detail = f["detail"].as_str().unwrap();
        let plugin_error = |needle: &str| {
            assert_eq!(f["reason"], "plugin_error", "{channel} {text}: {msg:#}");
            assert!(detail.contains(needle), "{channel} {text}: {detail}");
        };
        match (*channel, *text) {
            ("test-spin", _) => {
                plugin_error("deadline");
                // Stopped by its deadline, not by anything slower.
                let took = attempt["duration_ms"].as_i64().unwrap();
                assert!(
                    took >= deadline_ms - 20 && took < deadline_ms + 1000,
                    "spin ran {took} ms"
                );
            }
            ("test-hog", _) => plugin_error("memory limit of 32 MiB"),
            ("test-deep", _) => plugin_error("send trapped: stack overflow"),
            ("test-snoop", _) => {
                assert_eq!(f["reason"], "permission_denied", "{msg:#}");
                assert!(
                    detail.contains("http://evil.example.com is not on this plugin's allow-list"),
                    "{detail}"
                );
            }
            ("test-exfil", start) => {
                assert_eq!(f["reason"], "permission_denied", "{msg:#}");
                assert!(!detail.contains("LEAKED"), "{detail}");
                let denied = detail.matches("is not on this plugin's allow-list").count();
                if start == "0" {
                    // URL query, userinfo, header, body: all denied, and denials count
                    // against the call's budget of 4 requests.
                    assert_eq!(denied, 4, "{detail}");
                    assert_eq!(detail.matches("BudgetExhausted").count(), 3, "{detail}");
                } else {
                    // Bearer, Basic, and a look-alike of the allowed host.
                    assert_eq!(denied, 3, "{detail}");
                    assert!(
                        detail.contains("https://api.allowed.example.evil.com is not"),
                        "{detail}"
                    );
                }
            }
            ("test-flood", "id") => plugin_error(
                "send returned too much: a provider message id of 1048576 bytes (at most 256)",
            ),
            ("test-flood", "huge") => plugin_error(
                "send returned too much: more than 8 MiB copied out of the guest in one transfer",
            ),
            ("test-flood", "detail") => {
                // A provider failure the plugin reported, with its text cut to the cap.
                assert_eq!(f["reason"], "provider_error", "{msg:#}");
                assert!(
                    detail.len() < 1100 && detail.ends_with("[truncated from 1048576 bytes]"),
                    "{} bytes: …{}",
                    detail.len(),
                    &detail[detail.len().saturating_sub(60)..]
                );
                let code = f["provider_code"].as_str().unwrap();
                assert!(code.len() < 120, "{code}");
            }
            _ => unreachable!(),
        }
        assert_eq!(
            msg["deliveries"][0]["attempts"].as_array().unwrap().len(),
            1,
            "a broken plugin is not retried"
        );
        assert!(
            !msg.to_string().contains(CANARY),
            "the secret is in a message"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    gw.assert_healthy().await;
    // Many copies of 20 MiB results, 32 MiB memory bombs and 1 MiB strings passed through:
    // none of it may pile up in the gateway.
    let rss = gw.rss_bytes();
    assert!(rss < 1 << 30, "gateway resident memory {rss} bytes");

    let (_, events) = gw.get("/v1/events?limit=100").await;
    assert!(
        events["data"].as_array().is_some_and(|e| !e.is_empty()),
        "{events}"
    );
    assert!(
        !events.to_string().contains(CANARY),
        "the secret is in an event"
    );
    let log = gw.log();
    assert!(
        log.contains("plugin request denied"),
        "the denial is logged"
    );
    assert!(
        log.contains("test-exfil") && log.contains("evil.example.com"),
        "the exfiltration attempt is logged"
    );
    assert!(!log.contains(CANARY), "no secret in the logs");
    assert!(
        !log.contains(switchboard_sandbox::SANDBOX_AUTH_TOKEN),
        "no secret in the logs"
    );
}
