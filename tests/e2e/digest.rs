//! Members' own notifications with the sandbox clock: the 07:00 digest in each member's time
//! zone across two days (none when nothing waits, none twice after a restart at 07:00), and
//! the push to a member's phone only while they are offline.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_gateway::digest::{next_digest, time_zone};

use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Move the gateway's clock to just past `instant` (a minute after).
async fn clock_to(gw: &Gateway, instant: i64) {
    gw.set_clock(instant + 60_000 - wall_ms()).await;
}

async fn member(gw: &Gateway, email: &str, zone: &str) -> String {
    let id = crate::console::joined(gw, email, "agent", email).await;
    let (s, p) = gw
        .call(
            reqwest::Method::PUT,
            &format!("/v1/members/{id}/preferences"),
            &gw.key,
            Some(&json!({"time_zone": zone, "digest": true, "offline_push": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    id
}

/// A customer writes and `owner` takes the conversation without answering: it waits for them.
async fn waiting_for(gw: &Gateway, owner: &str, phone: &str) {
    let (_, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone}]}),
        )
        .await;
    let contact = c["id"].as_str().unwrap();
    gw.post_json(
        &format!("/v1/conversations/{contact}/messages"),
        &json!({"author": "customer", "text": "hello?"}),
    )
    .await;
    let (s, _) = gw
        .post_json(
            &format!("/v1/conversations/{contact}/take"),
            &json!({"member": owner}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

async fn digests(sim: &str, to: &str) -> usize {
    let all: Value = sim_get(sim, "/_sandbox/email/messages").await;
    all.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|m| (m["to"] == to || m["to"][0] == to) && m.to_string().contains("wait for you"))
        .count()
}

/// Wait for `to` to have `n` digests, then make sure no more come.
async fn digests_reach(sim: &str, to: &str, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while digests(sim, to).await < n {
        assert!(
            std::time::Instant::now() < deadline,
            "digest {n} to {to} never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(digests(sim, to).await, n, "to {to}");
}

#[tokio::test]
async fn each_member_gets_one_digest_at_their_own_seven_oclock() {
    let sim = SandboxProcess::start();
    let dir = fresh_dir("digest");
    let listen = format!("127.0.0.1:{}", free_port());
    let args = ["--sandbox-url", sim.url.as_str()];
    let mut gw = Gateway::start_in(&dir, &listen, &args);
    let seoul = member(&gw, "seoul@example.com", "Asia/Seoul").await;
    let ny = member(&gw, "ny@example.com", "America/New_York").await;
    waiting_for(&gw, &seoul, "+14155550501").await;
    waiting_for(&gw, &ny, "+14155550502").await;
    // The loop schedules each member's next 07:00 from now.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Two days of 07:00s, in the order they come.
    let now = wall_ms();
    let mut sevens = Vec::new();
    for (email, zone) in [
        ("seoul@example.com", "Asia/Seoul"),
        ("ny@example.com", "America/New_York"),
    ] {
        let tz = time_zone(zone).unwrap();
        let first = next_digest(now, &tz).unwrap().0;
        let second = next_digest(first, &tz).unwrap().0;
        sevens.push((first, email));
        sevens.push((second, email));
    }
    sevens.sort();
    let mut got =
        std::collections::BTreeMap::from([("seoul@example.com", 0), ("ny@example.com", 0)]);
    for (i, (at, email)) in sevens.iter().enumerate() {
        // A few minutes before: nothing new for anyone.
        gw.set_clock(at - 5 * 60_000 - wall_ms()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for (who, n) in &got {
            assert_eq!(digests(&sim.url, who).await, *n, "before {email}'s 07:00");
        }
        clock_to(&gw, *at).await;
        *got.get_mut(email).unwrap() += 1;
        digests_reach(&sim.url, email, got[email]).await;
        for (who, n) in &got {
            assert_eq!(
                digests(&sim.url, who).await,
                *n,
                "only {email} at their 07:00"
            );
        }
        if i == 2 {
            // A restart at 07:00 sends nothing twice.
            gw.kill();
            // The restarted gateway takes the simulators' clock, already past 07:00.
            gw = Gateway::start_in(&dir, &listen, &args);
            digests_reach(&sim.url, email, got[email]).await;
        }
    }
    // Nothing waits for the sandbox's admin: no digest.
    assert_eq!(digests(&sim.url, "admin@sandbox.test").await, 0);
}

#[tokio::test]
async fn an_offline_member_gets_a_push_and_an_online_one_does_not() {
    let gw = Gateway::start("member-push", &[]);
    let bob = crate::console::joined(&gw, "bob@example.com", "agent", "Bob").await;
    let prefs = |push: bool| json!({"time_zone": "Europe/Berlin", "digest": false, "offline_push": push, "push_token": "tok-bob-phone", "push_platform": "android"});
    let (s, e) = gw
        .call(
            reqwest::Method::PUT,
            &format!("/v1/members/{bob}/preferences"),
            &gw.key,
            Some(&json!({"time_zone": "Mars/Olympus", "digest": true, "offline_push": false})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("time_zone"))
    );
    let (s, _) = gw
        .call(
            reqwest::Method::PUT,
            &format!("/v1/members/{bob}/preferences"),
            &gw.key,
            Some(&prefs(true)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = gw
        .post_json(
            "/v1/notification-rules",
            &json!({"name": "everything to Bob", "condition": true, "targets": [{"member": bob}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let pushes = || async {
        let all = gw.sim_get("/_sandbox/push/messages").await;
        all["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["token"] == "tok-bob-phone")
            .count()
    };
    let settle = |n: usize| async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while pushes().await < n {
            assert!(std::time::Instant::now() < deadline, "push {n} never came");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(pushes().await, n);
    };
    // Never seen: offline, so the inbox item comes with a push.
    gw.post_json("/v1/results", &json!({"form": "lead", "values": {"n": 1}}))
        .await;
    settle(1).await;
    // Online: the inbox only.
    let (_, p) = gw
        .post_json(
            &format!("/v1/members/{bob}/activity"),
            &json!({"kind": "heartbeat"}),
        )
        .await;
    assert_eq!(p["presence"], "online", "{p}");
    gw.post_json("/v1/results", &json!({"form": "lead", "values": {"n": 2}}))
        .await;
    settle(1).await;
    // Gone: pushed again.
    gw.post_json(
        &format!("/v1/members/{bob}/activity"),
        &json!({"kind": "left"}),
    )
    .await;
    gw.post_json("/v1/results", &json!({"form": "lead", "values": {"n": 3}}))
        .await;
    settle(2).await;
    let (_, inbox) = gw.get(&format!("/v1/members/{bob}/inbox")).await;
    assert_eq!(
        inbox.as_array().unwrap().len(),
        3,
        "every result reached the inbox"
    );
}
