//! End-to-end figures for the real binary, three processes on one machine:
//! `switchboard sandbox` (the Twilio simulator), `switchboard serve --sandbox-url` (the
//! gateway, durable SQLite in a temp dir) and this load generator, all over loopback.
//!
//! `cargo bench -p switchboard --bench gateway` (env `BENCH_MESSAGES`, `BENCH_QUEUED` and
//! `BENCH_CONCURRENCY` change the sizes).
//!
//! It prints:
//! - the simulator's raw ceiling: sends straight at it, no gateway;
//! - accept throughput and latency through the gateway, and delivered throughput (accepted
//!   to `delivered` by the provider's signed callback) with end-to-end latency;
//! - accept latency at a steady 1,000 messages/s;
//! - the gateway's resident memory idle, after the run, and with a large queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
#[path = "common/sandboxed.rs"]
mod sandboxed;

use common::{cpu_seconds, env_usize, rss_mib};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn line(name: &str, n: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{name:<34} {n:>7} in {:>7.2?}  {:>8.0}/s  p50 {:>8.2?}  p99 {:>8.2?}",
        elapsed,
        n as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}

/// Run `n` requests with `concurrency` workers; returns the wall time and each latency.
async fn load<F, Fut>(n: usize, concurrency: usize, make: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, make) = (next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                make(i).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (start.elapsed(), all)
}

/// CPU per message over a phase, gateway and simulator, from /proc (see `cpu_seconds`).
fn cpu_line(messages: usize, before: (f64, f64), after: (f64, f64)) {
    let per = |b: f64, a: f64| (a - b) * 1e6 / messages as f64;
    println!(
        "CPU per message delivered:          gateway {:>5.0} µs, simulator {:>5.0} µs",
        per(before.0, after.0),
        per(before.1, after.1)
    );
}

/// The gateway's own counters on `/metrics`, not estimates: SQL statements the store ran
/// (`switchboard_store_statements_total`) and plugin instances calls ran on, warm and fresh
/// (`switchboard_plugin_instances_total`).
#[derive(Clone, Copy)]
struct Counts {
    statements: u64,
    warm: u64,
    fresh: u64,
}

async fn counts(client: &reqwest::Client, gw: &str) -> anyhow::Result<Counts> {
    let text = client
        .get(format!("{gw}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let read = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no {prefix} on /metrics"))
    };
    Ok(Counts {
        statements: read("switchboard_store_statements_total ")?,
        warm: read("switchboard_plugin_instances_total{source=\"warm\"} ").unwrap_or(0),
        fresh: read("switchboard_plugin_instances_total{source=\"fresh\"} ").unwrap_or(0),
    })
}

fn sms_body(i: usize, tag: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"channel": "sms", "to": {"phone": format!("+1415{:07}", i % 10_000_000)}, "content": {"text": format!("{tag} {i}: your code is 123456")}}))
        .unwrap()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let messages = env_usize("BENCH_MESSAGES", 20_000);
    let queued = env_usize("BENCH_QUEUED", 100_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 64);
    let data_dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);

    let sandboxed::Sandboxed {
        sim_proc,
        sim,
        gw_proc,
        gw,
        key,
    } = sandboxed::sandboxed(&data_dir);
    let pid = gw_proc.0.id();
    let sim_pid = sim_proc.0.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    println!(
        "machine: {} cores; concurrency {concurrency}; SQLite synchronous=FULL in {}",
        std::thread::available_parallelism()?,
        data_dir.display()
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("gateway RSS idle: {:.1} MiB", rss_mib(pid));

    // 1. The simulator's raw ceiling, no gateway in the path.
    let c = client.clone();
    let url = format!(
        "{sim}/2010-04-01/Accounts/{}/Messages.json",
        switchboard_sandbox::SANDBOX_ACCOUNT_SID
    );
    let (elapsed, lat) = load(messages, concurrency, move |i| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let form = [
                ("To", format!("+1415{:07}", i)),
                ("From", switchboard_sandbox::SANDBOX_FROM_NUMBER.into()),
                ("Body", format!("raw {i}")),
            ];
            let r = c
                .post(&url)
                .basic_auth(
                    switchboard_sandbox::SANDBOX_ACCOUNT_SID,
                    Some(switchboard_sandbox::SANDBOX_AUTH_TOKEN),
                )
                .header("idempotency-key", format!("raw-{i}"))
                .form(&form)
                .send()
                .await
                .expect("simulator send");
            assert_eq!(r.status(), 201);
        }
    })
    .await;
    line("simulator raw ceiling (sends)", messages, elapsed, lat);
    client.post(format!("{sim}/_sandbox/reset")).send().await?;

    // 2. Through the gateway: accepted (202, durably committed) and delivered.
    let counts_before = counts(&client, &gw).await?;
    let cpu_before = (cpu_seconds(pid), cpu_seconds(sim_pid));
    let (c, gw_url, k) = (client.clone(), gw.clone(), key.clone());
    let (elapsed, lat) = load(messages, concurrency, move |i| {
        let (c, gw_url, k) = (c.clone(), gw_url.clone(), k.clone());
        async move {
            let r = c
                .post(format!("{gw_url}/v1/messages"))
                .bearer_auth(&k)
                .body(sms_body(i, "e2e"))
                .send()
                .await
                .expect("accept");
            assert_eq!(r.status(), 202);
        }
    })
    .await;
    line("gateway accept (202 committed)", messages, elapsed, lat);
    let accept_done = Instant::now() - elapsed;
    let deadline = Instant::now() + Duration::from_secs(600);
    let delivered_at = loop {
        let s: Value = client
            .get(format!("{sim}/_sandbox/stats"))
            .send()
            .await?
            .json()
            .await?;
        let callbacks = s["sms"]["callbacks_sent"].as_u64().unwrap_or(0) as usize;
        if callbacks >= 2 * messages || Instant::now() > deadline {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Before the listing below, which is the bench's reading, not the gateway's work.
    let cpu_after = (cpu_seconds(pid), cpu_seconds(sim_pid));
    let counts_after = counts(&client, &gw).await?;
    // Every message's own latency, from its committed creation to its `delivered` event.
    let mut e2e = Vec::with_capacity(messages);
    let mut delivered = 0usize;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{gw}/v1/messages?limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(&key)
            .send()
            .await?
            .json()
            .await?;
        for m in page["data"].as_array().unwrap() {
            if m["status"] == "delivered" {
                delivered += 1;
                let created = humantime::parse_rfc3339(m["created_at"].as_str().unwrap())?;
                let updated = humantime::parse_rfc3339(m["updated_at"].as_str().unwrap())?;
                e2e.push(updated.duration_since(created).unwrap_or_default());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    line(
        "gateway accepted -> delivered",
        delivered,
        delivered_at - accept_done,
        e2e,
    );
    cpu_line(messages, cpu_before, cpu_after);
    let statements = counts_after.statements - counts_before.statements;
    println!(
        "SQL statements per message delivered: {:.1} (store counter, {statements} in all)",
        statements as f64 / messages as f64,
    );
    println!(
        "plugin instances per message delivered: {:.2} warm, {:.2} fresh",
        (counts_after.warm - counts_before.warm) as f64 / messages as f64,
        (counts_after.fresh - counts_before.fresh) as f64 / messages as f64,
    );
    println!("gateway RSS after the run: {:.1} MiB", rss_mib(pid));

    // 3. Accept latency at a steady 1,000 messages/s for 5 s.
    let mut lat = Vec::new();
    let mut handles = Vec::new();
    let start = Instant::now();
    for i in 0..5_000usize {
        let due = start + Duration::from_micros(1000 * i as u64);
        tokio::time::sleep_until(due.into()).await;
        let (c, gw_url, k) = (client.clone(), gw.clone(), key.clone());
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c
                .post(format!("{gw_url}/v1/messages"))
                .bearer_auth(&k)
                .body(sms_body(1_000_000 + i, "paced"))
                .send()
                .await
                .expect("accept");
            assert_eq!(r.status(), 202);
            t.elapsed()
        }));
    }
    for h in handles {
        lat.push(h.await?);
    }
    line("accept at 1,000/s (paced)", 5_000, start.elapsed(), lat);

    // 4. Routed: an inline policy sending SMS and email in parallel, every channel planned
    // (validate + quote on each plugin) at accept time; then until both sends are accepted.
    let routed = env_usize("BENCH_ROUTED", 5_000);
    client.post(format!("{sim}/_sandbox/reset")).send().await?;
    let (c, gw_url, k) = (client.clone(), gw.clone(), key.clone());
    let (elapsed, lat) = load(routed, concurrency, move |i| {
        let (c, gw_url, k) = (c.clone(), gw_url.clone(), k.clone());
        async move {
            let body = json!({"policy": {"name": "bench", "steps": [
                {"send": {"parallel": [{"channel": "sms"}, {"channel": "email"}]}, "until": "accepted", "timeout_ms": 60_000}
            ]}, "to": {"phone": format!("+1415{:07}", 3_000_000 + i), "email": format!("r{i}@example.com")},
               "content": {"subject": "Routed", "text": format!("routed {i}")}});
            let r = c
                .post(format!("{gw_url}/v1/messages"))
                .bearer_auth(&k)
                .json(&body)
                .send()
                .await
                .expect("accept");
            assert_eq!(r.status(), 202);
        }
    })
    .await;
    line("routed accept (sms + email planned)", routed, elapsed, lat);
    let started = Instant::now() - elapsed;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let s: Value = client
            .get(format!("{sim}/_sandbox/stats"))
            .send()
            .await?
            .json()
            .await?;
        let sends = s["sms"]["unique_accepted"].as_u64().unwrap_or(0)
            + s["email"]["unique_accepted"].as_u64().unwrap_or(0);
        if sends as usize >= 2 * routed || Instant::now() > deadline {
            let took = started.elapsed();
            println!(
                "{:<40} {:>7} sends in {:>7.2} s = {:>8.0} sends/s",
                "routed: accept -> both channels sent",
                sends,
                took.as_secs_f64(),
                sends as f64 / took.as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 5. A large queue: the provider holds every request, so accepted messages pile up.
    client
        .post(format!("{sim}/_sandbox/faults"))
        .json(&json!({"channel": "sms", "action": {"latency_ms": 600_000}}))
        .send()
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (c, gw_url, k) = (client.clone(), gw.clone(), key.clone());
    let (elapsed, lat) = load(queued, concurrency, move |i| {
        let (c, gw_url, k) = (c.clone(), gw_url.clone(), k.clone());
        async move {
            let r = c
                .post(format!("{gw_url}/v1/messages"))
                .bearer_auth(&k)
                .body(sms_body(2_000_000 + i, "queued"))
                .send()
                .await
                .expect("accept");
            assert_eq!(r.status(), 202);
        }
    })
    .await;
    line("accept into a backlog", queued, elapsed, lat);
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "gateway RSS with {queued} messages queued: {:.1} MiB",
        rss_mib(pid)
    );
    let db = std::fs::metadata(data_dir.join("switchboard.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(data_dir.join("switchboard.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("database size: {:.1} MiB", db as f64 / (1 << 20) as f64);
    drop(gw_proc);
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
