//! The automations' crash test: 200 conversations in running flows (an SMS through a policy,
//! a wait for the visitor, a reply in the app's chat or an SMS on timeout) while the gateway
//! is SIGKILLed 10 times at random moments, then an audit: every run completed at the right
//! step, each SMS reached Twilio's simulator once (Twilio can be asked whether a send whose
//! answer was lost was taken), each chat reply was written once, and no wait fired twice.
//!
//! ```sh
//! AUTOMATION_CRASH_RUNS=1000 AUTOMATION_CRASH_KILLS=30 AUTOMATION_CRASH_SEED=7 \
//!   cargo test -p switchboard --test e2e -- automations::crash --nocapture
//! ```

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::MINUTE;
use crate::crash::chaos::env_or;
use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

fn phone(i: usize) -> String {
    format!("+1415{:07}", 7_000_000 + i)
}

/// POST until the gateway answers: it may be dead or starting. A repeated post whose first
/// answer was lost writes the message twice, which the flow tolerates (a second reply finds
/// no waiting run).
async fn post(gw: &Gateway, path: &str, body: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = gw
            .http()
            .post(format!("{}{path}", gw.url))
            .bearer_auth(&gw.key)
            .json(body)
            .send()
            .await;
        if let Ok(r) = sent {
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                return v;
            }
            assert!(status.is_server_error(), "{path}: {status} {v}");
        }
        assert!(Instant::now() < deadline, "{path} never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every visitor row of the automation, page by page.
async fn all_rows(gw: &Gateway, automation: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = gw
            .get(&format!(
                "/v1/automations/{automation}/runs?limit=200{cursor}"
            ))
            .await;
        rows.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return rows,
        }
    }
}

/// Kill the gateway at a random moment within `window_ms` from now, then start it again with
/// the clock where the test had it.
async fn kill_soon(
    gw: &mut Gateway,
    rng: &mut StdRng,
    window_ms: u64,
    start: &dyn Fn() -> Gateway,
    clock: i64,
) {
    tokio::time::sleep(Duration::from_millis(rng.random_range(0..window_ms))).await;
    gw.kill();
    *gw = start();
    gw.set_clock(clock).await;
}

#[tokio::test]
async fn runs_survive_sigkills_at_random_moments_and_send_nothing_twice() {
    let runs = env_or("AUTOMATION_CRASH_RUNS", 200) as usize;
    let kills = env_or("AUTOMATION_CRASH_KILLS", 10);
    let seed = env_or("AUTOMATION_CRASH_SEED", rand::rng().random());
    println!("automation crash: {runs} runs, {kills} kills, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let sim = SandboxProcess::start();
    let dir = fresh_dir("automations-crash");
    let listen = format!("127.0.0.1:{}", free_port());
    let args = ["--sandbox-url", sim.url.as_str()];
    let start = || Gateway::start_in(&dir, &listen, &args);
    let mut gw = start();
    gw.set_clock(0).await;
    post(
        &gw,
        "/v1/policies",
        &json!({"name": "text", "steps": [
            {"send": {"first_of": ["sms"]}, "until": "accepted", "timeout_ms": 600_000}]}),
    )
    .await;
    let (s, v) = gw
        .patch_json("/v1/workspace", &json!({"hosting_default": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let automation = post(
        &gw,
        "/v1/automations",
        &json!({"name": "welcome", "trigger": {"type": "conversation.started"}, "steps": [
            {"id": "hello", "send": {"text": "hello", "policy": "text"}},
            {"id": "pause", "wait": {"minutes": 10, "reply": "thanks", "timeout": "bye"}},
            {"id": "thanks", "send": {"text": "thanks"}, "next": "done"},
            {"id": "bye", "send": {"text": "bye", "policy": "text"}, "next": "done"},
            {"id": "done", "end": {}}
        ]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut contacts = Vec::new();
    for i in 0..runs {
        let c = post(
            &gw,
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone(i)}]}),
        )
        .await;
        contacts.push(c["id"].as_str().unwrap().to_string());
    }
    // Every visitor writes; the runs start and send their SMS while the gateway dies.
    for c in &contacts {
        post(
            &gw,
            &format!("/v1/conversations/{c}/messages"),
            &json!({"author": "customer", "text": "hi"}),
        )
        .await;
    }
    let thirds = [kills / 3, kills / 3, kills - 2 * (kills / 3)];
    for _ in 0..thirds[0] {
        kill_soon(&mut gw, &mut rng, 1_500, &start, 0).await;
    }
    // A reply counts only once the run waits for it: let every run reach the wait.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = all_rows(&gw, &automation).await;
        if rows.len() == runs && rows.iter().all(|r| r["run"]["state"] == "waiting") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runs never all reached the wait"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Even visitors answer, at one minute, between kills.
    gw.set_clock(MINUTE).await;
    for (i, c) in contacts.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        post(
            &gw,
            &format!("/v1/conversations/{c}/messages"),
            &json!({"author": "customer", "text": "yes"}),
        )
        .await;
        if i % 40 == 0 && rng.random_bool(0.5) {
            kill_soon(&mut gw, &mut rng, 300, &start, MINUTE).await;
        }
    }
    for _ in 0..thirds[1] {
        kill_soon(&mut gw, &mut rng, 1_500, &start, MINUTE).await;
    }
    // The others' waits run out while the gateway dies again.
    gw.set_clock(11 * MINUTE).await;
    for _ in 0..thirds[2] {
        kill_soon(&mut gw, &mut rng, 1_500, &start, 11 * MINUTE).await;
    }

    // Every run ends.
    let deadline = Instant::now() + Duration::from_secs(180);
    let rows = loop {
        let rows = all_rows(&gw, &automation).await;
        let ended = |r: &Value| r["run"]["state"] != "running" && r["run"]["state"] != "waiting";
        if rows.len() == runs && rows.iter().all(ended) {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "runs still going: {:?}",
            rows.iter()
                .filter(|r| r["run"]["state"] == "running" || r["run"]["state"] == "waiting")
                .take(5)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // A completed run's last message is committed; its SMS may still be on its way (a lost
    // answer is asked about a few seconds later). Wait for every expected one, then a while
    // longer, so a second copy would show.
    let expected = runs + runs / 2;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let sms = sim_get(&sim.url, "/_sandbox/sms/messages").await;
        if sms.as_array().map_or(0, Vec::len) >= expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {expected} SMS arrived",
            sms.as_array().map_or(0, Vec::len)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The audit.
    let sms = sim_get(&sim.url, "/_sandbox/sms/messages").await;
    let sms = sms.as_array().cloned().unwrap_or_default();
    for (i, c) in contacts.iter().enumerate() {
        let row = rows.iter().find(|r| r["contact"] == c.as_str()).unwrap();
        assert_eq!(row["run"]["state"], "completed", "{row}");
        assert_eq!(row["run"]["step"], "done", "{row}");
        assert_eq!(row["trigger_count"], 1, "{row}");
        let texts: Vec<&str> = sms
            .iter()
            .filter(|m| m["to"] == phone(i).as_str())
            .map(|m| m["body"].as_str().unwrap_or_default())
            .collect();
        let (_, conv) = gw.get(&format!("/v1/conversations/{c}")).await;
        let thanks = conv["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["author"] == "bot")
            .count();
        if i % 2 == 0 {
            assert_eq!(texts, ["hello"], "visitor {i}: each SMS once");
            assert_eq!(thanks, 1, "visitor {i}: the chat reply once");
            assert_eq!(row["status"], "completed");
        } else {
            assert_eq!(texts, ["hello", "bye"], "visitor {i}: each SMS once");
            assert_eq!(thanks, 0, "visitor {i}");
        }
    }
    let (_, st) = gw
        .get(&format!(
            "/v1/automations/{automation}/stats?since=1970-01-01&until=2999-01-01"
        ))
        .await;
    let pause = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "pause")
        .cloned()
        .unwrap();
    // Each wait ended once: by the reply or by its timeout, never both, never twice.
    let (repliers, silent) = ((runs as u64).div_ceil(2), runs as u64 / 2);
    assert_eq!(
        pause["branches"],
        json!({"reply": repliers, "timeout": silent}),
        "{st}"
    );
    assert_eq!(
        (&st["triggers"], &st["completed"], &st["participants"]),
        (&json!(runs), &json!(runs), &json!(repliers)),
        "{st}"
    );
}
