//! The same SMS load on three deployments, one run, one simulator: one node on SQLite, one
//! node on PostgreSQL, two nodes on one PostgreSQL database.
//!
//! `cargo bench -p switchboard --bench backends` (env `BENCH_MESSAGES`, `BENCH_CONCURRENCY`).
//!
//! For each it prints the end-to-end rate (first accept to last `delivered` callback), accept
//! p99, and CPU per delivered message of the gateway processes and of PostgreSQL (every
//! server process of the bench's cluster, and what its exited backends left to the
//! postmaster), next to the simulator's raw ceiling from the same run. PostgreSQL runs in a
//! cluster of its own under `target/pg-bench` (`tools/pg-cluster`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Proc, cpu_seconds, env_usize, free_port, rss_mib, spawn};

fn bin() -> String {
    std::env::var("BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchboard").to_string())
}

fn ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// `(utime + stime, cutime + cstime)` of a process, in seconds.
fn own_and_children(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (0.0, 0.0);
    };
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let t = ticks();
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / t;
    (at(11) + at(12), at(13) + at(14))
}

/// CPU the PostgreSQL cluster has used: its live processes, and the exited backends the
/// postmaster has reaped.
fn postgres_cpu(postmaster: u32) -> f64 {
    let mut total = own_and_children(postmaster).0 + own_and_children(postmaster).1;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|v| v.parse::<u32>().ok());
        if ppid == Some(postmaster) {
            total += own_and_children(pid).0;
        }
    }
    total
}

fn pg_cluster(cmd: &str, dir: &Path) -> String {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/pg-cluster");
    let out = Command::new("bash")
        .arg(tool)
        .arg(cmd)
        .arg(dir)
        .output()
        .expect("tools/pg-cluster");
    assert!(
        out.status.success(),
        "tools/pg-cluster {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args(["-X", "-q", url, "-c", sql])
        .stdout(Stdio::null())
        .status()
        .expect("psql");
    assert!(status.success(), "{sql}");
}

struct Node {
    proc: Proc,
    url: String,
    key: String,
    _dir: PathBuf,
}

fn start_node(name: &str, sim: &str, database: Option<&str>, master_key: &str) -> Node {
    let dir = std::env::temp_dir().join(format!("sb-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.display().to_string();
    let mut args = vec![
        "serve",
        "--sandbox-url",
        sim,
        "--listen",
        &listen,
        "--data-dir",
        &data,
        "--rate-limit-per-key",
        "0",
    ];
    if let Some(url) = database {
        args.extend(["--database", url]);
    }
    // SAFETY-free: the child inherits this variable; every node seals with the same key.
    let (proc, url) = with_env("SWITCHBOARD_MASTER_KEY", master_key, || {
        spawn(&args, "switchboard listening on ")
    });
    let key = std::fs::read_to_string(dir.join("sandbox.key"))
        .unwrap()
        .trim()
        .to_string();
    Node {
        proc,
        url,
        key,
        _dir: dir,
    }
}

/// Run `f` with one more variable in the environment children inherit.
fn with_env<T>(name: &str, value: &str, f: impl FnOnce() -> T) -> T {
    // SAFETY: the bench sets it before starting any thread that reads the environment, and
    // the same value every time.
    unsafe { std::env::set_var(name, value) };
    f()
}

fn sms_body(i: usize, tag: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"channel": "sms", "to": {"phone": format!("+1415{:07}", i % 10_000_000)}, "content": {"text": format!("{tag} {i}: your code is 123456")}}))
        .unwrap()
}

struct Figures {
    rate: f64,
    accept_p99: Duration,
    gateway_us: f64,
    postgres_us: Option<f64>,
    /// Resident memory of each node after the run.
    rss: Vec<f64>,
}

async fn run(
    client: &reqwest::Client,
    sim: &str,
    nodes: &[Node],
    postmaster: Option<u32>,
    messages: usize,
    concurrency: usize,
    tag: &str,
) -> Figures {
    client
        .post(format!("{sim}/_sandbox/reset"))
        .send()
        .await
        .unwrap();
    let gateway_cpu = || {
        nodes
            .iter()
            .map(|n| cpu_seconds(n.proc.0.id()))
            .sum::<f64>()
    };
    let (g0, p0) = (gateway_cpu(), postmaster.map(postgres_cpu));
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        nodes
            .iter()
            .map(|n| (n.url.clone(), n.key.clone()))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, targets, c, tag) = (
            next.clone(),
            targets.clone(),
            client.clone(),
            tag.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return lat;
                }
                let (url, key) = &targets[i % targets.len()];
                let t = Instant::now();
                let r = c
                    .post(format!("{url}/v1/messages"))
                    .bearer_auth(key)
                    .body(sms_body(i, &tag))
                    .send()
                    .await
                    .expect("accept");
                assert_eq!(r.status(), 202);
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    lat.sort();
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let s: Value = client
            .get(format!("{sim}/_sandbox/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if s["sms"]["callbacks_sent"].as_u64().unwrap_or(0) as usize >= 2 * messages
            || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    let (g1, p1) = (gateway_cpu(), postmaster.map(postgres_cpu));
    Figures {
        rate: messages as f64 / elapsed.as_secs_f64(),
        accept_p99: lat[((lat.len() as f64 - 1.0) * 0.99) as usize],
        gateway_us: (g1 - g0) * 1e6 / messages as f64,
        postgres_us: p0.zip(p1).map(|(a, b)| (b - a) * 1e6 / messages as f64),
        rss: nodes.iter().map(|n| rss_mib(n.proc.0.id())).collect(),
    }
}

fn print(name: &str, f: &Figures, ceiling: f64) {
    println!(
        "{name:<22} {:>6.0}/s ({:>4.1} % of ceiling)  accept p99 {:>8.2?}  CPU/msg gateway {:>5.0} µs  PostgreSQL {}  RSS {:.0?} MiB",
        f.rate,
        100.0 * f.rate / ceiling,
        f.accept_p99,
        f.gateway_us,
        f.postgres_us
            .map(|p| format!("{p:>5.0} µs"))
            .unwrap_or_else(|| "    -".into()),
        f.rss
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let messages = env_usize("BENCH_MESSAGES", 5_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 64);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let (_sim_proc, sim) = spawn(
        &["sandbox", "--listen", &format!("127.0.0.1:{}", free_port())],
        "simulators listening on ",
    );
    let master_key = String::from_utf8(Command::new(bin()).arg("new-master-key").output()?.stdout)?
        .trim()
        .to_string();
    let pg_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pg-bench");
    let admin = pg_cluster("start", &pg_dir);
    let postmaster: u32 = std::fs::read_to_string(pg_dir.join("data/postmaster.pid"))?
        .lines()
        .next()
        .unwrap_or("0")
        .trim()
        .parse()?;
    println!(
        "machine: {} cores; {messages} SMS per deployment, concurrency {concurrency}",
        std::thread::available_parallelism()?
    );

    // The simulator's raw ceiling, no gateway in the path.
    let url = format!(
        "{sim}/2010-04-01/Accounts/{}/Messages.json",
        switchboard_sandbox::SANDBOX_ACCOUNT_SID
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, url, next) = (client.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return;
                }
                let form = [
                    ("To", format!("+1415{i:07}")),
                    ("From", switchboard_sandbox::SANDBOX_FROM_NUMBER.into()),
                    ("Body", format!("raw {i}")),
                ];
                let r = c
                    .post(&url)
                    .basic_auth(
                        switchboard_sandbox::SANDBOX_ACCOUNT_SID,
                        Some(switchboard_sandbox::SANDBOX_AUTH_TOKEN),
                    )
                    .form(&form)
                    .send()
                    .await
                    .expect("simulator send");
                assert_eq!(r.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let ceiling = messages as f64 / start.elapsed().as_secs_f64();
    println!("simulator raw ceiling (sends)  {ceiling:>7.0}/s");

    let sqlite = start_node("sqlite", &sim, None, &master_key);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let f = run(
        &client,
        &sim,
        std::slice::from_ref(&sqlite),
        None,
        messages,
        concurrency,
        "sqlite",
    )
    .await;
    print("1 node, SQLite", &f, ceiling);
    drop(sqlite);

    let db = format!("bench_{}", std::process::id());
    psql(&admin, &format!("CREATE DATABASE {db}"));
    let url = format!("{}/{db}", &admin[..admin.rfind('/').unwrap()]);
    let one = start_node("pg1", &sim, Some(&url), &master_key);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let f = run(
        &client,
        &sim,
        std::slice::from_ref(&one),
        Some(postmaster),
        messages,
        concurrency,
        "pg1",
    )
    .await;
    print("1 node, PostgreSQL", &f, ceiling);
    let two = start_node("pg2", &sim, Some(&url), &master_key);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let nodes = [one, two];
    let f = run(
        &client,
        &sim,
        &nodes,
        Some(postmaster),
        messages,
        concurrency,
        "pg2",
    )
    .await;
    print("2 nodes, PostgreSQL", &f, ceiling);
    drop(nodes);
    psql(&admin, &format!("DROP DATABASE {db} WITH (FORCE)"));
    Ok(())
}
