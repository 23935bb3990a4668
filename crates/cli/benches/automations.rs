//! What automations cost: the bytes a waiting run keeps in the database, how fast the engine
//! fires the waits that ran out with 100,000 runs waiting, and the CPU and SQL statements
//! per step.
//!
//! `cargo bench -p switchboard --bench automations` (env `AUTOMATION_WAITING` (100,000),
//! `AUTOMATION_DUE` (10,000), `AUTOMATION_RUNS` (2,000) and `AUTOMATION_STEPS` (20) change
//! the sizes).
//!
//! One gateway (`serve --sandbox`, durable SQLite) in a temp dir:
//!
//! 1. An automation whose only step is a 60-minute `wait` (no `timeout` branch: a wait that
//!    runs out ends the run `timed_out`). A customer's first message in a hosted conversation
//!    starts one run through the API, and the engine takes it to its wait. That run is the
//!    template: with the gateway stopped, its row and its events are copied in SQL until
//!    `AUTOMATION_WAITING` runs wait (each with its own run, conversation and contact id, ids
//!    as long and as ordered as the engine's), which is far faster than a conversation per
//!    run through the API. The database's own page accounting (`dbstat`) before and after
//!    gives the bytes per run row and per event row, indexes included.
//! 2. `AUTOMATION_DUE` of the copies are due 30 minutes on, the rest in 30 days. The gateway
//!    starts again on that file, the sandbox clock moves 45 minutes, and the bench polls how
//!    many due runs still wait: timeouts fired per second, and the gateway's CPU and SQL
//!    statements per fired timeout.
//! 3. An automation of `AUTOMATION_STEPS` `tag` steps; `AUTOMATION_RUNS` runs are written
//!    ready at its first step (as a trigger writes them) while the gateway runs, and the
//!    engine takes every step: CPU and statements per step.
//!
//! The conversations of the copied runs do not exist: a wait's timeout and a `tag` step read
//! nothing of the conversation, so the engine's work is the same.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

mod common;

use common::{Proc, cpu_seconds, env_usize, free_port, rss_mib, spawn};

const MINUTE: i64 = 60_000;

fn gateway(dir: &Path) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.display().to_string();
    spawn(
        &[
            "serve",
            "--sandbox",
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Api {
    client: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("the gateway answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn expect(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&s), "{path}: {s} {v}");
        v
    }

    /// The store's statement counter on `/metrics`.
    async fn statements(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("switchboard_store_statements_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("switchboard_store_statements_total on /metrics")
    }

    async fn set_clock(&self, offset_ms: i64) {
        self.expect(
            reqwest::Method::PUT,
            "/v1/sandbox/clock",
            json!({"offset_ms": offset_ms}),
        )
        .await;
    }
}

fn open(dir: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(dir.join("switchboard.db"))?;
    c.busy_timeout(Duration::from_secs(30))?;
    Ok(c)
}

/// Bytes the database gives each automation table and its indexes (`dbstat`: whole pages,
/// the free space in them included), and the rows of each table.
fn footprint(c: &Connection) -> rusqlite::Result<Vec<(String, i64, i64)>> {
    let mut out = Vec::new();
    for table in ["automation_runs", "automation_events", "automation_timers"] {
        let bytes: i64 = c.query_row(
            "SELECT COALESCE(SUM(s.pgsize), 0) FROM dbstat s JOIN sqlite_master m ON m.name = s.name
             WHERE m.tbl_name = ?1",
            [table],
            |r| r.get(0),
        )?;
        let rows: i64 = c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        out.push((table.to_string(), bytes, rows));
    }
    Ok(out)
}

/// The same id, `i` written over its last 8 characters: as long as the engine's, and in
/// the order of `i`.
const CLONE_ID: &str = "substr(?, 1, length(?) - 8) || printf('%08x', k.i)";

/// Copy the template run (`run`) and its events `n - 1` times; the first `due` copies wait
/// until `due_at + i` ms, the others 30 days more.
fn clone_runs(
    c: &mut Connection,
    run: &str,
    n: usize,
    due: usize,
    due_at: i64,
) -> rusqlite::Result<Duration> {
    let started = Instant::now();
    c.pragma_update(None, "synchronous", "OFF")?;
    let t = c.transaction()?;
    let id = |col: &str| CLONE_ID.replace('?', col);
    t.execute(
        &format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)
             INSERT INTO automation_runs (id, workspace_id, automation_id, version, conversation_id,
                 contact_id, state, step, seq, attempt, wait_due_at, answers, participated,
                 stop_reason, started_at, ended_at)
             SELECT {}, r.workspace_id, r.automation_id, r.version, {}, {}, r.state, r.step, r.seq,
                 r.attempt, CASE WHEN k.i <= ?3 THEN ?4 + k.i ELSE ?4 + 30 * 86400000 + k.i END,
                 r.answers, r.participated, r.stop_reason, r.started_at, r.ended_at
             FROM automation_runs r, k WHERE r.id = ?1",
            id("r.id"),
            id("r.conversation_id"),
            id("r.contact_id")
        ),
        params![run, (n - 1) as i64, due as i64, due_at],
    )?;
    t.execute(
        &format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)
             INSERT INTO automation_events (workspace_id, automation_id, run_id, contact_id,
                 conversation_id, kind, step, branch, channel, at)
             SELECT e.workspace_id, e.automation_id, {}, {}, {}, e.kind, e.step, e.branch,
                 e.channel, e.at
             FROM k, automation_events e WHERE e.run_id = ?1 ORDER BY k.i, e.seq",
            id("e.run_id"),
            id("e.contact_id"),
            id("e.conversation_id")
        ),
        params![run, (n - 1) as i64],
    )?;
    t.commit()?;
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(started.elapsed())
}

async fn wait_for<F: FnMut() -> bool>(what: &str, limit: Duration, mut done: F) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(c: &Connection, sql: &str, p: impl rusqlite::Params) -> i64 {
    c.query_row(sql, p, |r| r.get(0)).expect(sql)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let waiting = env_usize("AUTOMATION_WAITING", 100_000).max(2);
    let due = env_usize("AUTOMATION_DUE", 10_000).min(waiting - 1);
    let runs = env_usize("AUTOMATION_RUNS", 2_000);
    let steps = env_usize("AUTOMATION_STEPS", 20).clamp(1, 100);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-bench-automations-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    // 1. One run through the API, taken to its wait by the engine.
    let (gw, url) = gateway(&dir);
    let key = std::fs::read_to_string(dir.join("sandbox.key"))?
        .trim()
        .to_string();
    let client = reqwest::Client::new();
    let mut api = Api { client, url, key };
    api.expect(
        Method::PATCH,
        "/v1/workspace",
        json!({"hosting_default": true}),
    )
    .await;
    let waits = api
        .expect(
            Method::POST,
            "/v1/automations",
            json!({"name": "bench: wait", "trigger": {"type": "conversation.started"},
                   "steps": [{"id": "pause", "wait": {"minutes": 60}}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let contact = api
        .expect(
            Method::POST,
            "/v1/contacts",
            json!({"addresses": [{"kind": "phone", "address": "+14155550100"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.expect(
        Method::POST,
        &format!("/v1/conversations/{contact}/messages"),
        json!({"author": "customer", "text": "hi"}),
    )
    .await;
    let db = open(&dir)?;
    let template_sql =
        "SELECT id FROM automation_runs WHERE automation_id = ?1 AND state = 'waiting'";
    wait_for("the template run to wait", Duration::from_secs(30), || {
        db.query_row(template_sql, [&waits], |r| r.get::<_, String>(0))
            .optional()
            .unwrap()
            .is_some()
    })
    .await;
    let template: String = db.query_row(template_sql, [&waits], |r| r.get(0))?;
    drop(gw);

    let mut db = db;
    let before = footprint(&db)?;
    let (run_rows, event_rows, timer_rows) = (
        count(
            &db,
            "SELECT COUNT(*) FROM automation_runs WHERE id = ?1",
            [&template],
        ),
        count(
            &db,
            "SELECT COUNT(*) FROM automation_events WHERE run_id = ?1",
            [&template],
        ),
        count(
            &db,
            "SELECT COUNT(*) FROM automation_timers WHERE conversation_id = (SELECT conversation_id FROM automation_runs WHERE id = ?1)",
            [&template],
        ),
    );
    let kinds: Vec<String> = db
        .prepare("SELECT kind || COALESCE(':' || step, '') FROM automation_events WHERE run_id = ?1 ORDER BY seq")?
        .query_map([&template], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let due_at = now_ms() + 30 * MINUTE;
    let took = clone_runs(&mut db, &template, waiting, due, due_at)?;
    let after = footprint(&db)?;
    let copies = (waiting - 1) as f64;
    println!(
        "{waiting} waiting runs: copied in {:.1} s, database and WAL {:.1} MiB",
        took.as_secs_f64(),
        ["switchboard.db", "switchboard.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum::<u64>() as f64
            / (1 << 20) as f64
    );
    println!(
        "rows per waiting run: {run_rows} run, {event_rows} events ({}), {timer_rows} timers",
        kinds.join(", ")
    );
    let mut total = 0.0;
    for ((table, b0, r0), (_, b1, r1)) in before.iter().zip(&after) {
        let rows = (r1 - r0) as f64;
        let per_run = (b1 - b0) as f64 / copies;
        total += per_run;
        if rows > 0.0 {
            println!(
                "  {table} with its indexes: {per_run:.0} bytes per waiting run ({:.0} bytes per row, {} rows)",
                (b1 - b0) as f64 / rows,
                r1
            );
        }
    }
    println!("bytes per waiting run, indexes included: {total:.0}");

    // 2. The due copies fire.
    let (gw, url) = gateway(&dir);
    api.url = url;
    let pid = gw.0.id();
    let due_sql =
        "SELECT COUNT(*) FROM automation_runs WHERE state = 'waiting' AND wait_due_at <= ?1";
    let threshold = due_at + due as i64;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&db, due_sql, [threshold]), due as i64);
    let (cpu0, st0) = (cpu_seconds(pid), api.statements().await);
    let moved = Instant::now();
    // The gateway's clock reads the wall clock plus the offset: 45 minutes on puts every due
    // copy (30 minutes on, plus at most `due` ms) behind it and none of the others.
    api.set_clock(45 * MINUTE).await;
    let mut first: Option<Instant> = None;
    let mut rss = 0.0f64;
    loop {
        let left = count(&db, due_sql, [threshold]);
        rss = rss.max(rss_mib(pid));
        if left < due as i64 && first.is_none() {
            first = Some(Instant::now());
        }
        if left == 0 {
            break;
        }
        assert!(
            moved.elapsed() < Duration::from_secs(900),
            "{left} never fired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = moved.elapsed().as_secs_f64();
    let (cpu1, st1) = (cpu_seconds(pid), api.statements().await);
    let fired = count(
        &db,
        "SELECT COUNT(*) FROM automation_runs WHERE automation_id = ?1 AND state = 'timed_out'",
        [&waits],
    );
    let from_first = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(secs);
    println!(
        "{due} of {waiting} waits due: fired in {secs:.2} s after the clock moved = {:.0} timeouts/s ({:.0} /s from the first), {fired} timed out",
        due as f64 / secs,
        due as f64 / from_first,
    );
    println!(
        "  gateway CPU {:.0} µs and {:.1} SQL statements per fired timeout; peak RSS {rss:.0} MiB",
        (cpu1 - cpu0) * 1e6 / due as f64,
        (st1 - st0) as f64 / due as f64
    );

    // 3. Steps: `runs` runs of `steps` tag steps, written ready as a trigger writes them.
    let flow: Vec<Value> = (1..=steps)
        .map(|i| json!({"id": format!("s{i}"), "tag": {"tags": [format!("t{i}")]}}))
        .collect();
    let tags = api
        .expect(
            Method::POST,
            "/v1/automations",
            json!({"name": "bench: tags", "trigger": {"type": "result.submitted", "form": "never"},
                   "steps": flow}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, st0) = (cpu_seconds(pid), api.statements().await);
    let now = now_ms() + 45 * MINUTE;
    let started = Instant::now();
    {
        let t = db.transaction()?;
        let id = |col: &str| CLONE_ID.replace('?', col);
        let k = "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)";
        t.execute(
            &format!(
                "{k} INSERT INTO automation_runs (id, workspace_id, automation_id, version,
                     conversation_id, contact_id, state, step, seq, attempt, wait_due_at, answers,
                     participated, stop_reason, started_at, ended_at)
                 SELECT 'run_b' || {}, r.workspace_id, ?3, 1, 'conv_b' || {}, r.contact_id,
                     'running', 's1', 1, 0, NULL, '{{}}', 0, NULL, ?4, NULL
                 FROM automation_runs r, k WHERE r.id = ?1",
                id("r.id"),
                id("r.conversation_id"),
            ),
            params![template, runs as i64, tags, now],
        )?;
        for kind in ["triggered", "step"] {
            t.execute(
                "INSERT INTO automation_events (workspace_id, automation_id, run_id, contact_id,
                     conversation_id, kind, step, branch, channel, at)
                 SELECT workspace_id, automation_id, id, contact_id, conversation_id, ?2,
                     CASE WHEN ?2 = 'step' THEN 's1' END, NULL,
                     CASE WHEN ?2 = 'triggered' THEN 'chat' END, started_at
                 FROM automation_runs WHERE automation_id = ?1",
                params![tags, kind],
            )?;
        }
        t.commit()?;
    }
    let live_sql = "SELECT COUNT(*) FROM automation_runs WHERE automation_id = ?1 AND state IN ('running', 'waiting')";
    loop {
        if count(&db, live_sql, [&tags]) == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "runs never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let (cpu1, st1) = (cpu_seconds(pid), api.statements().await);
    let completed = count(
        &db,
        "SELECT COUNT(*) FROM automation_runs WHERE automation_id = ?1 AND state = 'completed'",
        [&tags],
    );
    let tagged = count(
        &db,
        "SELECT COUNT(*) FROM conversation_tags WHERE conversation_id LIKE 'conv_b%'",
        (),
    );
    let taken = (runs * steps) as f64;
    println!(
        "{runs} runs of {steps} tag steps: {completed} completed, {tagged} tags, in {secs:.2} s = {:.0} steps/s",
        taken / secs
    );
    println!(
        "  gateway CPU {:.0} µs and {:.1} SQL statements per step",
        (cpu1 - cpu0) * 1e6 / taken,
        (st1 - st0) as f64 / taken
    );
    drop(gw);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
