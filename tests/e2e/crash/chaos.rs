//! The crash suite: thousands of messages through fallback policies and charged SMS while the
//! gateway is killed with SIGKILL at random moments and restarted, then an audit of what the
//! gateway, the simulators and the ledger say.
//!
//! Sizes come from the environment so the same test is the short CI run and the long one:
//!
//! ```sh
//! cargo test -p switchboard --test e2e -- crash::chaos          # CI: 2,000 messages, 20 kills
//! CRASH_MESSAGES=20000 CRASH_KILLS=100 CRASH_SEED=7 \
//!   cargo test -p switchboard --test e2e -- crash::chaos --nocapture
//! ```
//!
//! The seed is printed, so a failing run can be replayed with the same kill schedule (the
//! moments in the gateway's work that the kills land on still vary with the machine).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::audit;
use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir, sim_get};

/// $1,000: far more than the run can spend, so no send is refused for funds.
pub const WALLET_MICROS: i64 = 1_000_000_000;

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a message is, so the audit knows what the providers must have seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One charged US SMS.
    Sms,
    /// `first_of [sms, email]` to Twilio's magic invalid number: the SMS is held, rejected by
    /// the provider and released, and the email goes out instead.
    FallsBackToEmail,
    /// A parallel step: a charged SMS and an email, both delivered.
    SmsAndEmail,
}

impl Kind {
    pub fn of(i: usize) -> Kind {
        match i % 4 {
            0 | 1 => Kind::Sms,
            2 => Kind::FallsBackToEmail,
            _ => Kind::SmsAndEmail,
        }
    }

    pub fn expects_sms(self) -> bool {
        matches!(self, Kind::Sms | Kind::SmsAndEmail)
    }

    pub fn expects_email(self) -> bool {
        matches!(self, Kind::FallsBackToEmail | Kind::SmsAndEmail)
    }
}

pub fn text(i: usize) -> String {
    format!("chaos message {i}")
}

pub fn email(i: usize) -> String {
    format!("chaos{i}@example.com")
}

pub fn request(i: usize) -> Value {
    let content = json!({"text": text(i)});
    match Kind::of(i) {
        Kind::Sms => json!({
            "channel": "sms",
            "to": {"phone": format!("+1415{:07}", 2_000_000 + i)},
            "content": content,
        }),
        Kind::FallsBackToEmail => json!({
            "policy": {"name": "inline", "steps": [
                {"send": {"first_of": ["sms", "email"]}, "until": "accepted", "timeout_ms": 600_000},
            ]},
            "to": {"phone": "+15005550001", "email": email(i)},
            "content": content,
        }),
        Kind::SmsAndEmail => json!({
            "policy": {"name": "inline", "steps": [
                {"send": {"parallel": [{"channel": "sms"}, {"channel": "email"}]},
                 "until": "delivered", "timeout_ms": 600_000},
            ]},
            "to": {"phone": format!("+1628{:07}", 3_000_000 + i), "email": email(i)},
            "content": content,
        }),
    }
}

/// Send message `i` until the gateway answers 2xx, whatever happens to it in between. The
/// Idempotency-Key makes the retries safe: a request whose answer died with the gateway is
/// found committed on the next try.
pub async fn send_until_accepted(http: &reqwest::Client, url: &str, key: &str, i: usize) -> String {
    let body = request(i);
    loop {
        let answer = http
            .post(format!("{url}/v1/messages"))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("chaos-{i}"))
            .json(&body)
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => {
                let v: Value = r.json().await.expect("a 2xx carries the message");
                return v["id"].as_str().expect("message id").to_string();
            }
            // The gateway is restarting, or its socket died under the request.
            Err(_) => {}
            Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {}
            Ok(r) => {
                let status = r.status();
                panic!(
                    "message {i} refused with {status}: {}",
                    r.text().await.unwrap_or_default()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn is_final(msg: &Value) -> bool {
    let final_status = |s: &Value| matches!(s.as_str(), Some("delivered" | "seen" | "failed"));
    final_status(&msg["status"])
        && msg["route"]["outcome"].as_str() != Some("running")
        && msg["deliveries"]
            .as_array()
            .is_some_and(|ds| ds.iter().all(|d| final_status(&d["status"])))
}

/// Wait until every accepted message (by number) is final, reading message `i` through
/// `gateway_for(i)`; their final views. Fails after `CRASH_WAIT_S` (300) seconds, showing one
/// message still moving.
pub async fn all_final<'g>(
    accepted: &BTreeMap<usize, String>,
    gateway_for: impl Fn(usize) -> &'g Gateway,
) -> BTreeMap<usize, Value> {
    let deadline = Instant::now() + Duration::from_secs(env_or("CRASH_WAIT_S", 300));
    let mut pending = accepted.clone();
    let mut finals = BTreeMap::new();
    while !pending.is_empty() {
        let mut still = BTreeMap::new();
        for (i, id) in pending {
            let (status, msg) = gateway_for(i).get(&format!("/v1/messages/{id}")).await;
            assert_eq!(status, StatusCode::OK, "message {i} ({id}) is gone: {msg}");
            if is_final(&msg) {
                finals.insert(i, msg);
            } else {
                still.insert(i, id);
            }
        }
        pending = still;
        if let Some((i, id)) = pending.iter().next() {
            assert!(
                Instant::now() < deadline,
                "{} messages never reached a final state; message {i}: {:#}",
                pending.len(),
                gateway_for(*i).get(&format!("/v1/messages/{id}")).await.1
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    finals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_kills_lose_nothing_send_nothing_twice_and_leave_the_ledger_balanced() {
    let messages = env_or("CRASH_MESSAGES", 2000) as usize;
    let kills = env_or("CRASH_KILLS", 20) as usize;
    let seed = env_or("CRASH_SEED", rand::random::<u32>() as u64);
    println!("crash suite: {messages} messages, {kills} kills, CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    // The simulators live outside the gateway, so what the providers saw survives every kill.
    let sim = SandboxProcess::start();
    let dir = fresh_dir("chaos");
    let listen = format!("127.0.0.1:{}", free_port());
    // Callbacks posted while the gateway is down are lost (Twilio posts once): a delivery
    // left at `sent` is looked up at the provider after a short wait instead of 15 minutes.
    //
    // The 40 lost answers below all come in the first second or so, and test retries start at
    // 50 ms with full jitter, so one message could spend the default 5 attempts inside that
    // window and end `failed` (retryable, resendable): the policy working as configured, not
    // what this suite checks. With 10 attempts the later ones fall seconds after the window.
    let args = [
        "--sandbox-url",
        sim.url.as_str(),
        "--status-lookup-after-ms",
        "1500",
        "--max-attempts",
        "10",
    ];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // Some answers are lost after the provider took the send (the "maybe sent" case a retry
    // must not turn into a second text), and every send takes a little while, so kills land
    // on requests in flight.
    for rule in [
        json!({"channel": "sms", "times": 40, "action": {"reset": true, "accept": true}}),
        json!({"channel": "sms", "action": {"latency_ms": 20}}),
    ] {
        let r = http
            .post(format!("{}/_sandbox/faults", sim.url))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    let gw = tokio::task::block_in_place(|| Gateway::start_in(&dir, &listen, &args));
    let key = gw.key.clone();
    let url = gw.url.clone();
    let (status, _) = gw
        .call(
            reqwest::Method::PUT,
            "/v1/sandbox/wallet",
            &key,
            Some(&json!({"paid_micros": WALLET_MICROS, "credit_micros": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Senders: a shared counter hands out message numbers; each sender keeps at its message
    // through any number of restarts.
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(BTreeMap::<usize, String>::new()));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (next, done, accepted) = (next.clone(), done.clone(), accepted.clone());
        let http = http.clone();
        let (url, key) = (url.clone(), key.clone());
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return;
                }
                let id = send_until_accepted(&http, &url, &key, i).await;
                accepted.lock().await.insert(i, id);
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    let mut gw = gw;
    let mut kills_while_sending = 0;
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..1200))).await;
        if done.load(Ordering::Relaxed) < messages {
            kills_while_sending += 1;
        }
        gw.kill();
        gw = tokio::task::block_in_place(|| Gateway::start_in(&dir, &listen, &args));
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

    // Every accepted message reaches a final state.
    let finals = all_final(&accepted, |_| &gw).await;
    for (i, msg) in &finals {
        audit::message_outcome(*i, Kind::of(*i), msg);
    }

    // What the providers saw: each logical send at most once, and every one that was
    // delivered exactly once.
    let stats = sim_get(&sim.url, "/_sandbox/stats").await;
    println!("simulators: {stats}");
    audit::providers_saw_each_send_once(&sim.url, messages).await;

    // The books: stop the gateway the hard way once more and read the ledger from the file.
    gw.kill();
    audit::ledger_balances(&dir, WALLET_MICROS);
}
