//! Businesses connect their own accounts: connections are created, changed and removed over
//! the API; their secrets are sealed at rest and never come back out (checked by searching
//! the bytes of the database, the log and every answer); master keys rotate; and a revoked
//! token is repaired end to end by a reconnect and a bulk resend.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_sandbox as sb;

use crate::support::{Gateway, bin, free_port, fresh_dir};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn start(dir: &std::path::Path, listen: &str, env: &[(&str, &str)]) -> Gateway {
    Gateway::start_with_env(dir, listen, &[], env)
}

#[tokio::test]
async fn connection_secrets_never_leave_the_gateway_and_survive_key_rotation() {
    let dir = fresh_dir("connections-secrets");
    let listen = format!("127.0.0.1:{}", free_port());
    // Everything the gateway logs, at the most talkative level of its own code.
    let verbose = [(
        "RUST_LOG",
        "debug,switchboard=trace,switchboard_sandbox=trace",
    )];
    let gw = start(&dir, &listen, &verbose);
    let (_ws, key) = gw.new_workspace("Secretive").await;
    // A paid plan: the month's credit pays for the test's texts.
    let (s, _) = gw
        .call(
            Method::PUT,
            "/v1/billing/plan",
            &key,
            Some(&json!({"plan": "paid"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut answers = String::new();
    let mut call = async |m: Method, path: &str, body: Option<Value>| {
        let (s, v) = gw.call(m, path, &key, body.as_ref()).await;
        answers.push_str(&v.to_string());
        (s, v)
    };
    // No `base_url`: Twilio's own, which sandbox mode resolves to its simulator over TLS.
    let config = json!({"account_sid": sb::SANDBOX_ACCOUNT_SID, "from": sb::SANDBOX_FROM_NUMBER});

    // Bad input names the field and never repeats a secret value.
    let (s, e) = call(
        Method::POST,
        "/v1/connections",
        Some(json!({"plugin": "twilio-sms", "name": "sms", "config": {"account_sid": "AC1", "from": "+1", "auth_token": sb::SANDBOX_AUTH_TOKEN}, "secrets": {}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "config.auth_token");
    let (s, e) = call(
        Method::POST,
        "/v1/connections",
        Some(json!({"plugin": "twilio-sms", "name": "sms", "config": config, "secrets": {"auth_token": 5_124_578_901u64}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "secrets.auth_token");
    assert!(!e.to_string().contains("5124578901"), "{e}");
    let (s, e) = call(
        Method::POST,
        "/v1/connections",
        Some(json!({"plugin": "twilio-sms", "name": "sms", "config": config})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "secrets.auth_token", "required");
    let (s, e) = call(
        Method::POST,
        "/v1/connections",
        Some(json!({"plugin": "no-such-plugin", "name": "x"})),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("plugin"))
    );

    // Create, use, read back.
    let (s, conn) = call(
        Method::POST,
        "/v1/connections",
        Some(json!({"plugin": "twilio-sms", "name": "Our Twilio", "config": config, "secrets": {"auth_token": sb::SANDBOX_AUTH_TOKEN}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    assert_eq!(conn["secrets"], json!(["auth_token"]));
    assert_eq!(conn["status"], "active");
    let id = conn["id"].as_str().unwrap().to_string();
    let (s, sent) = call(
        Method::POST,
        "/v1/messages",
        Some(json!({"channel": "sms", "to": {"phone": "+14155550160"}, "content": {"text": "from our own account"}})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    let msg = sent["id"].as_str().unwrap().to_string();
    wait_status(&gw, &key, &msg, &["delivered"]).await;
    let (_, m) = call(Method::GET, &format!("/v1/messages/{msg}"), None).await;
    assert_eq!(m["deliveries"][0]["connection"], id.as_str());
    let (s, patched) = call(
        Method::PATCH,
        &format!("/v1/connections/{id}"),
        Some(json!({"name": "Twilio (US)", "max_in_flight": 8})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Twilio (US)");
    let (_, _) = call(Method::GET, &format!("/v1/connections/{id}"), None).await;
    let (_, _) = call(Method::GET, "/v1/connections", None).await;
    let (s, e) = call(
        Method::PATCH,
        &format!("/v1/connections/{id}"),
        Some(json!({"secrets": {"auth_token": null}})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a required secret cannot be removed: {e}"
    );

    // The secret is nowhere in the clear: not in the database (nor its WAL), the log, or
    // any answer.
    let needle = sb::SANDBOX_AUTH_TOKEN;
    assert!(!answers.contains(needle), "an answer carried the secret");
    let db = crate::support::database_contents(&dir).await;
    assert!(!contains(&db, needle), "secret in the database");
    let log = gw.log();
    assert!(log.len() > 10_000, "the log is too short to prove anything");
    assert!(!log.contains(needle), "secret in the log");
    // The sandbox's own secrets are sealed too.
    for s in [
        sb::SANDBOX_SENDGRID_API_KEY,
        sb::SANDBOX_MESSENGER_PAGES[0].access_token,
    ] {
        assert!(!contains(&db, s) && !log.contains(s));
    }

    // Rotate the master key: the new one seals, the old one still opens until resealed.
    let old_key = std::fs::read_to_string(dir.join("master.key"))
        .unwrap()
        .trim()
        .to_string();
    let new_key = String::from_utf8(
        Command::new(bin())
            .arg("new-master-key")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    drop(gw);
    let gw = start(
        &dir,
        &listen,
        &[
            ("SWITCHBOARD_MASTER_KEY", &new_key),
            ("SWITCHBOARD_MASTER_KEY_PREVIOUS", &old_key),
        ],
    );
    assert!(
        gw.log()
            .contains("secrets sealed under the current master key")
    );
    drop(gw);
    // Only the new key now: everything was resealed, sends still work.
    let gw = start(&dir, &listen, &[("SWITCHBOARD_MASTER_KEY", &new_key)]);
    // The in-process simulators listen on new ports after each restart; the connection
    // names Twilio's host, which follows them.
    let (_, sent) = gw
        .call(Method::POST, "/v1/messages", &key, Some(&json!({"channel": "sms", "to": {"phone": "+14155550161"}, "content": {"text": "after rotation"}})))
        .await;
    wait_status(&gw, &key, sent["id"].as_str().unwrap(), &["delivered"]).await;
    drop(gw);
    // The wrong key: the gateway refuses to start rather than fail every send.
    let out = Command::new(bin())
        .args(["serve", "--sandbox", "--listen", &listen, "--data-dir"])
        .arg(&dir)
        .args(crate::support::database_args(&dir))
        .env("SWITCHBOARD_MASTER_KEY", &old_key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not configured"), "{err}");

    // Deleted: gone from the API, secrets erased, messages kept.
    let gw = start(&dir, &listen, &[("SWITCHBOARD_MASTER_KEY", &new_key)]);
    let (s, _) = gw
        .call(Method::DELETE, &format!("/v1/connections/{id}"), &key, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = gw
        .call(Method::GET, &format!("/v1/connections/{id}"), &key, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = gw
        .call(Method::GET, &format!("/v1/messages/{msg}"), &key, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = gw
        .call(Method::POST, "/v1/messages", &key, Some(&json!({"channel": "sms", "to": {"phone": "+14155550162"}, "content": {"text": "x"}})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

/// Wait until the message reaches one of `statuses` (as read with `key`).
async fn wait_status(gw: &Gateway, key: &str, id: &str, statuses: &[&str]) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = gw
            .call(Method::GET, &format!("/v1/messages/{id}"), key, None)
            .await;
        if statuses.iter().any(|s| m["status"] == *s) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waiting for {statuses:?}: {m:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page's token is revoked at the provider: sends get Graph error 190, the connection
/// goes to `needs_reconnect` (and says so in an event), the business reconnects with the new
/// token, and a bulk resend delivers what failed.
#[tokio::test]
async fn a_revoked_messenger_token_is_repaired_by_reconnect_and_bulk_resend() {
    let gw = Gateway::start("connections-reconnect", &[]);
    let page = &sb::SANDBOX_MESSENGER_PAGES[0];
    let conn = switchboard_gateway::sandbox_setup::messenger_connection_id(0);
    let (s, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let psids: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = gw
                .sim_post(
                    "/_sandbox/messenger/inbound",
                    json!({"page_id": page.id, "text": "hi"}),
                )
                .await;
            v.push(r["psid"].as_str().unwrap().to_string());
        }
        v
    };
    // Wait until the gateway saw the inbound messages (the messaging window opens).
    for psid in &psids {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (_, list) = gw.get("/v1/contacts?limit=100").await;
            if list.to_string().contains(psid.as_str()) {
                break;
            }
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // The page admin changed their password: the old token is revoked.
    let fresh = gw
        .sim_post(
            &format!("/_sandbox/messenger/pages/{}/reissue-token", page.id),
            json!({}),
        )
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let send = |psid: &str| json!({"channel": "messenger", "connection": conn, "to": {"psid": psid}, "content": {"text": "your order shipped"}});
    let mut failed = Vec::new();
    for psid in &psids {
        let id = gw.send(&send(psid)).await;
        let f = gw.failure_of(&id).await;
        assert_eq!(f["reason"], "token_expired", "{f}");
        // The first send hears Graph's 190; later ones are held back by the gateway,
        // which now knows the connection needs a reconnect.
        if failed.is_empty() {
            assert_eq!(f["provider_code"], "190", "{f}");
        }
        failed.push(id);
    }
    let (_, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(c["status"], "needs_reconnect", "{c}");
    assert!(c["status_detail"].is_string(), "{c}");
    let (_, events) = gw.get("/v1/events?type=connection.needs_reconnect").await;
    assert_eq!(
        events["data"][0]["data"]["connection_id"],
        conn.as_str(),
        "{events}"
    );
    // Not resendable before the reconnect.
    let (s, r) = gw
        .post_json(&format!("/v1/connections/{conn}/resend"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["resent"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["refused"].as_array().unwrap().len(), 3, "{r}");

    // Reconnect with the new token.
    let (s, c) = gw
        .patch_json(
            &format!("/v1/connections/{conn}"),
            &json!({"secrets": {"page_access_token": fresh}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "active");
    assert!(!c.to_string().contains(&fresh));
    let (_, events) = gw.get("/v1/events?type=connection.reconnected").await;
    assert_eq!(
        events["data"][0]["data"]["connection_id"],
        conn.as_str(),
        "{events}"
    );

    // Bulk resend: all three go, and a second run resends nothing twice.
    let (s, r) = gw
        .post_json(&format!("/v1/connections/{conn}/resend"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let resent = r["resent"].as_array().unwrap();
    assert_eq!(resent.len(), 3, "{r}");
    for entry in resent {
        // Delivered, and possibly read already (the page's watermarks come quickly).
        let id = entry["resent_as"].as_str().unwrap();
        wait_status(&gw, &gw.key, id, &["delivered", "seen"]).await;
    }
    let (_, again) = gw
        .post_json(&format!("/v1/connections/{conn}/resend"), &json!({}))
        .await;
    assert_eq!(again["resent"].as_array().unwrap().len(), 0, "{again}");
}
