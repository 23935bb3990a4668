//! The multi-node crash suite: two nodes on one database, standalone simulators, mixed load
//! through both (charged SMS, fallback routes, routes whose timer fires, status webhooks),
//! and one node SIGKILLed again and again and restarted. Afterwards every accepted message is
//! final, each provider saw each send at most once where it deduplicates, the ledger audits
//! clean with no hold left open, and every timer fired exactly once.
//!
//! ```sh
//! cargo test -p switchboard --test e2e_postgres -- multinode::chaos          # CI size
//! MULTINODE_MESSAGES=5000 MULTINODE_KILLS=40 \
//!   cargo test -p switchboard --test e2e_postgres -- multinode::chaos --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::Cluster;
use crate::crash::audit;
use crate::crash::chaos::{Kind, WALLET_MICROS, all_final, env_or, send_until_accepted};
use crate::receiver::Receiver;
use crate::support::sim_get;

/// Every `TIMED`-th message is a route whose first step waits for `seen` (which SMS never
/// reaches) for two seconds, so its timer fires and the email goes; the rest are the single
/// node suite's kinds.
const TIMED: usize = 5;

fn timed_email(i: usize) -> String {
    format!("timer{i}@example.com")
}

fn timed_request(i: usize) -> Value {
    json!({
        "policy": {"name": "inline", "steps": [
            {"send": {"channel": "sms"}, "until": "seen", "timeout_ms": 2000},
            {"send": {"channel": "email"}, "until": "accepted", "timeout_ms": 600_000}
        ]},
        "to": {"phone": format!("+1650{:07}", 4_000_000 + i), "email": timed_email(i)},
        "content": {"text": format!("timed message {i}")}
    })
}

/// Post until a node answers 2xx: through the balancer, which skips the dead node.
async fn send_timed(http: &reqwest::Client, url: &str, key: &str, i: usize) -> String {
    loop {
        let answer = http
            .post(format!("{url}/v1/messages"))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("timed-{i}"))
            .json(&timed_request(i))
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.unwrap();
                return v["id"].as_str().unwrap().to_string();
            }
            Err(_) => {}
            Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {}
            Ok(r) => panic!(
                "timed message {i}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_killed_again_and_again_lose_nothing_and_send_nothing_twice() {
    let messages = env_or("MULTINODE_MESSAGES", 1000) as usize;
    let kills = env_or("MULTINODE_KILLS", 12) as usize;
    let seed = env_or("CRASH_SEED", rand::random::<u32>() as u64);
    println!("multi-node crash suite: {messages} messages, {kills} kills, CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let receiver = Receiver::start().await;
    let allow = format!("127.0.0.1:{}", receiver.port);
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start(
            "mn-chaos",
            2,
            &[
                "--status-lookup-after-ms",
                "1500",
                "--max-attempts",
                "10",
                "--allow-private-net",
                &allow,
            ],
        )
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    for rule in [
        json!({"channel": "sms", "times": 40, "action": {"reset": true, "accept": true}}),
        json!({"channel": "sms", "action": {"latency_ms": 20}}),
    ] {
        let r = http
            .post(format!("{}/_sandbox/faults", cluster.sim.url))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let a = cluster.node(0);
    let key = a.key.clone();
    let (s, _) = a
        .call(
            Method::PUT,
            "/v1/sandbox/wallet",
            &key,
            Some(&json!({"paid_micros": WALLET_MICROS, "credit_micros": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, ep) = a
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            &key,
            Some(&json!({"url": receiver.url, "event_types": ["message.delivered", "message.failed"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ep}");

    // Half the senders go to node 1 (never killed) directly, half through the balancer.
    let urls = [cluster.node(1).url.clone(), cluster.balancer.url.clone()];
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(BTreeMap::<usize, String>::new()));
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..12 {
        let (next, done, accepted) = (next.clone(), done.clone(), accepted.clone());
        let (http, key, url) = (http.clone(), key.clone(), urls[s % 2].clone());
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return;
                }
                let id = if i % TIMED == TIMED - 1 {
                    send_timed(&http, &url, &key, i).await
                } else {
                    send_until_accepted(&http, &url, &key, i).await
                };
                accepted.lock().await.insert(i, id);
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    let mut kills_while_sending = 0;
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        if done.load(Ordering::Relaxed) < messages {
            kills_while_sending += 1;
        }
        cluster.kill(0);
        tokio::task::block_in_place(|| cluster.restart(0));
    }
    while let Some(r) = senders.join_next().await {
        r.expect("a sender panicked");
    }
    let accepted = accepted.lock().await.clone();
    println!(
        "{} accepted; {kills_while_sending} of {kills} kills landed while messages were still being sent",
        accepted.len()
    );
    assert_eq!(accepted.len(), messages);
    let distinct: BTreeSet<&String> = accepted.values().collect();
    assert_eq!(distinct.len(), messages, "one message per Idempotency-Key");

    // Every accepted message reaches a final state, read through either node.
    let finals = all_final(&accepted, |i| cluster.node(i % 2)).await;
    let mut timed = 0;
    for (i, msg) in &finals {
        if i % TIMED == TIMED - 1 {
            // The timer fired once: the first step timed out, one email went.
            assert_eq!(
                msg["route"]["steps"][0]["state"], "timed_out",
                "message {i}: {msg:#}"
            );
            assert_eq!(msg["route"]["outcome"], "succeeded", "message {i}: {msg:#}");
            let emails = msg["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["channel"] == "email")
                .count();
            assert_eq!(emails, 1, "message {i}: {msg:#}");
            timed += 1;
        } else {
            audit::message_outcome(*i, Kind::of(*i), msg);
        }
    }

    // The providers: the single-node suite's kinds exactly as there, and one email per timer.
    let stats = sim_get(&cluster.sim.url, "/_sandbox/stats").await;
    println!("simulators: {stats}");
    let untimed: Vec<usize> = (0..messages).filter(|i| i % TIMED != TIMED - 1).collect();
    audit::providers_saw_sends_once(&cluster.sim.url, &untimed).await;
    let mails = sim_get(&cluster.sim.url, "/_sandbox/email/messages").await;
    let mut per_timer: BTreeMap<String, usize> = BTreeMap::new();
    for m in mails.as_array().unwrap() {
        for to in m["to"].as_array().unwrap() {
            *per_timer
                .entry(to.as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    for i in (0..messages).filter(|i| i % TIMED == TIMED - 1) {
        assert_eq!(
            per_timer.get(&timed_email(i)),
            Some(&1),
            "timed message {i}: its timer fired once"
        );
    }
    println!("{timed} timers fired once each");

    // Webhooks are at least once: every final message's event arrived, perhaps more than once.
    let bound = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: BTreeSet<String> = receiver
            .received()
            .iter()
            .filter_map(|r| r.json()["data"]["message_id"].as_str().map(str::to_string))
            .collect();
        let missing = accepted.values().filter(|id| !seen.contains(*id)).count();
        if missing == 0 {
            println!(
                "webhooks: {} posts for {messages} messages",
                receiver.received().len()
            );
            break;
        }
        assert!(
            Instant::now() < bound,
            "{missing} messages never got their webhook"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The books, read from the database after both nodes are gone.
    cluster.kill(0);
    cluster.kill(1);
    audit::ledger_balances(cluster.node_dir(0), WALLET_MICROS);
}
