//! Queue growth: how fast the gateway dispatches with a million messages queued, against the
//! same work with a small queue.
//!
//! `cargo bench -p switchboard --bench backlog` (env `BACKLOG_SMALL` (20,000), `BACKLOG_LARGE`
//! (1,000,000) and `BACKLOG_MEASURED` (10,000) change the sizes).
//!
//! Filling a million-message queue through the API would take longer than the measurement
//! itself (the accept path is measured by the `gateway` bench), so each queue is made from one
//! message the gateway accepted: the gateway is stopped, its queued delivery is copied N times
//! in SQL (message, delivery and its `queued` timeline entry, each with its own id, so every
//! copy is a distinct send with its own idempotency key), and the gateway is started again on
//! that file. The figure is the time the simulator takes to receive the first
//! `BACKLOG_MEASURED` sends after the restart, for each queue size, in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::{Value, json};

mod common;

use common::{Proc, cpu_seconds, env_usize, free_port, rss_mib, spawn};

fn gateway(sim: &str, dir: &Path) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.display().to_string();
    spawn(
        &[
            "serve",
            "--sandbox-url",
            sim,
            "--listen",
            &listen,
            "--data-dir",
            &data,
            "--rate-limit-per-key",
            "0",
        ],
        "switchboard listening on ",
    )
}

async fn stats(client: &reqwest::Client, sim: &str) -> Value {
    client
        .get(format!("{sim}/_sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Copy the one queued delivery in `dir`'s database `n - 1` times.
fn clone_queue(dir: &Path, n: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut c = Connection::open(dir.join("switchboard.db"))?;
    c.pragma_update(None, "synchronous", "OFF")?;
    let t = c.transaction()?;
    let (message, delivery): (String, String) = t.query_row(
        "SELECT message_id, id FROM deliveries ORDER BY created_at LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    // The template goes back to `queued` (it was being sent when the gateway stopped).
    t.execute(
        "UPDATE deliveries SET status = 'queued', lease_token = NULL, lease_until = NULL,
         next_attempt_at = ?2 WHERE id = ?1",
        params![delivery, now],
    )?;
    t.execute(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)
         INSERT INTO messages (id, workspace_id, channel, status, request, request_hash,
                               idempotency_key, created_at, updated_at)
         SELECT m.id || printf('%07d', k.i), m.workspace_id, m.channel, 'queued', m.request,
                m.request_hash, NULL, ?3, ?3
         FROM messages m, k WHERE m.id = ?1",
        params![message, (n - 1) as i64, now],
    )?;
    t.execute(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)
         INSERT INTO deliveries (id, message_id, connection_id, channel, status, product, units,
                                 encoding, country, attempts, next_attempt_at, created_at,
                                 updated_at, address_kind, address)
         SELECT d.id || printf('%07d', k.i), d.message_id || printf('%07d', k.i), d.connection_id,
                d.channel, 'queued', d.product, d.units, d.encoding, d.country, 0, ?3 + k.i / 1000,
                ?3, ?3, d.address_kind, d.address
         FROM deliveries d, k WHERE d.id = ?1",
        params![delivery, (n - 1) as i64, now],
    )?;
    t.execute(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)
         INSERT INTO events (delivery_id, status, at, source, detail, applied)
         SELECT ?1 || printf('%07d', k.i), 'queued', ?3, 'api', NULL, 1 FROM k",
        params![delivery, (n - 1) as i64, now],
    )?;
    t.commit()?;
    Ok(started.elapsed())
}

/// Make a queue of `n` in a fresh data dir, start the gateway on it and time the first
/// `measured` sends reaching the simulator. Returns (sends/s, RSS with the queue).
async fn run(
    client: &reqwest::Client,
    sim: &str,
    n: usize,
    measured: usize,
) -> anyhow::Result<(f64, f64)> {
    let dir = std::env::temp_dir().join(format!("switchboard-backlog-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    client.post(format!("{sim}/_sandbox/reset")).send().await?;
    // Hold the one send at the provider so its delivery is still queued when we stop.
    client
        .post(format!("{sim}/_sandbox/faults"))
        .json(&json!({"channel": "sms", "action": {"latency_ms": 600_000}}))
        .send()
        .await?;
    let (gw, url) = gateway(sim, &dir);
    let key = std::fs::read_to_string(dir.join("sandbox.key"))?
        .trim()
        .to_string();
    // Enough for every copy's hold: the wallet is not what is measured.
    let r = client
        .put(format!("{url}/v1/sandbox/wallet"))
        .bearer_auth(&key)
        .json(&json!({"paid_micros": 100_000_000_000_000i64, "credit_micros": 0}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "wallet: {}", r.status());
    let r = client
        .post(format!("{url}/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"channel": "sms", "to": {"phone": "+14155550100"},
                      "content": {"text": "Your code is 123456"}}))
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 202, "accept: {}", r.status());
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(gw);

    let took = clone_queue(&dir, n)?;
    let db = std::fs::metadata(dir.join("switchboard.db"))?.len();
    println!(
        "queue of {n}: written in {:.1} s, database {:.0} MiB",
        took.as_secs_f64(),
        db as f64 / (1 << 20) as f64
    );
    client
        .delete(format!("{sim}/_sandbox/faults"))
        .send()
        .await?;
    client.post(format!("{sim}/_sandbox/reset")).send().await?;

    let (gw, _url) = gateway(sim, &dir);
    let pid = gw.0.id();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(900);
    let mut first: Option<Instant> = None;
    let mut rss = 0.0f64;
    let mut cpu_at_first = 0.0f64;
    loop {
        let sent = stats(client, sim).await["sms"]["unique_accepted"]
            .as_u64()
            .unwrap_or(0) as usize;
        rss = rss.max(rss_mib(pid));
        if sent > 0 && first.is_none() {
            first = Some(Instant::now());
            cpu_at_first = cpu_seconds(pid);
        }
        if sent >= measured || Instant::now() > deadline {
            let from = first.unwrap_or(started);
            let secs = from.elapsed().as_secs_f64();
            let rate = sent as f64 / secs;
            let cpu_per_send = (cpu_seconds(pid) - cpu_at_first) * 1e6 / sent.max(1) as f64;
            println!(
                "queue of {n}: first {sent} sends in {secs:.2} s = {rate:.0} sends/s, gateway CPU {cpu_per_send:.0} µs per send (start-up to first send {:.2} s, peak RSS {rss:.0} MiB)",
                (from - started).as_secs_f64()
            );
            drop(gw);
            let _ = std::fs::remove_dir_all(&dir);
            return Ok((rate, rss));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let small = env_usize("BACKLOG_SMALL", 20_000);
    let large = env_usize("BACKLOG_LARGE", 1_000_000);
    let measured = env_usize("BACKLOG_MEASURED", 10_000).min(small);
    let sim_listen = format!("127.0.0.1:{}", free_port());
    let (_sim, sim) = spawn(
        &["sandbox", "--listen", &sim_listen],
        "simulators listening on ",
    );
    let client = reqwest::Client::new();
    let (small_rate, _) = run(&client, &sim, small, measured).await?;
    let (large_rate, _) = run(&client, &sim, large, measured).await?;
    println!(
        "dispatch with {large} queued runs at {:.2}x the rate with {small} queued (target: within 2x)",
        large_rate / small_rate
    );
    Ok(())
}
