//! Crash safety: what was accepted with 202 survives SIGKILL and is sent exactly once.
//!
//! The first test is the simplest case (everything held at the provider, one kill). The
//! [`chaos`] suite kills the gateway at random moments, many times, and audits the result;
//! [`lookup`] shows how receipts lost with the gateway are recovered.

pub mod audit;
pub mod chaos;
mod lookup;

use std::time::Duration;

use serde_json::json;

use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

#[tokio::test]
async fn accepted_messages_survive_sigkill_and_are_delivered_exactly_once() {
    let sim = SandboxProcess::start();
    let dir = fresh_dir("crash");
    let listen = format!("127.0.0.1:{}", free_port());
    let args = ["--sandbox-url", sim.url.as_str()];

    // Hold every send at the provider so nothing completes before the kill: the gateway dies
    // with deliveries committed, some of them mid-request.
    let client = reqwest::Client::new();
    client
        .post(format!("{}/_sandbox/faults", sim.url))
        .json(&json!({"channel": "sms", "action": {"latency_ms": 10_000}}))
        .send()
        .await
        .unwrap();

    let mut gw = Gateway::start_in(&dir, &listen, &args);
    let n = 40;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            gw.send_sms(&format!("+1415556{i:04}"), &format!("crash test {i}"))
                .await,
        );
    }
    gw.kill();

    // Between the lives of the gateway, nothing was delivered.
    let stats = sim_get(&sim.url, "/_sandbox/stats").await;
    assert_eq!(stats["sms"]["unique_accepted"], 0, "{stats}");
    client
        .delete(format!("{}/_sandbox/faults", sim.url))
        .send()
        .await
        .unwrap();

    let gw = Gateway::start_in(&dir, &listen, &args);
    let restart_log = gw.log();
    assert!(
        restart_log.contains("plugin loaded plugin=\"twilio-sms\" channel=\"sms\" from_cache=true"),
        "the restart loads the compiled plugin from the artifact cache:\n{restart_log}"
    );
    for id in &ids {
        gw.wait_for(id, "delivered", Duration::from_secs(60)).await;
    }
    let stats = sim_get(&sim.url, "/_sandbox/stats").await;
    assert_eq!(
        stats["sms"]["unique_accepted"], n,
        "each message reached the provider exactly once: {stats}"
    );
    let messages = sim_get(&sim.url, "/_sandbox/sms/messages").await;
    let list = messages.as_array().unwrap();
    assert_eq!(list.len(), n as usize);
    for m in list {
        assert_eq!(
            m["callbacks"].as_array().map(|c| !c.is_empty()),
            Some(true),
            "{m}"
        );
    }
}
