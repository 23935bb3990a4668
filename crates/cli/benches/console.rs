//! How fast the console's pages answer with a large store: `BENCH_MESSAGES` messages (default
//! 100,000) are sent through the API to as many recipients, then each page is fetched
//! `BENCH_REPEATS` times (default 20) signed in as the sandbox admin, and the median and the
//! slowest time per page are printed (loopback round trips, so essentially server time).
//!
//! `cargo bench -p switchboard --bench console`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
#[path = "common/sandboxed.rs"]
mod sandboxed;
use common::{cpu_seconds, env_usize, rss_mib};

/// The value of `name` among a response's `Set-Cookie` headers.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    body[at..at + 64].to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let messages = env_usize("BENCH_MESSAGES", 100_000);
    let repeats = env_usize("BENCH_REPEATS", 20);
    let concurrency = 64;
    let data_dir =
        std::env::temp_dir().join(format!("switchboard-bench-console-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let sandboxed::Sandboxed {
        sim_proc: _sim_proc,
        sim,
        gw_proc,
        gw,
        key,
    } = sandboxed::sandboxed(&data_dir);
    println!(
        "gateway {gw} on SQLite in {}, simulators at {sim}",
        data_dir.display()
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, gw, key, next) = (client.clone(), gw.clone(), key.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return;
                }
                let body = json!({"channel": "sms", "to": {"phone": format!("+1415{i:07}")}, "content": {"text": format!("message {i}")}});
                let r = client
                    .post(format!("{gw}/v1/messages"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                assert!(r.is_ok_and(|r| r.status() == 202), "a send was refused");
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    println!(
        "{messages} messages accepted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Let the dispatcher finish, so the timings are of the pages alone.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut busy = false;
        for status in ["queued", "sending"] {
            let page: Value = client
                .get(format!("{gw}/v1/messages?status={status}&limit=1"))
                .bearer_auth(&key)
                .send()
                .await?
                .json()
                .await?;
            busy |= !page["data"].as_array().is_none_or(Vec::is_empty);
        }
        if !busy || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("dispatched by {:.1} s", started.elapsed().as_secs_f64());

    // Sign in as the sandbox admin.
    let login = client.get(format!("{gw}/console/login")).send().await?;
    let form_cookie = set_cookie(&login, "sb_form").expect("a form cookie");
    let csrf = csrf_of(&login.text().await?);
    let password = std::fs::read_to_string(data_dir.join("sandbox-admin.password"))?;
    let signed = client
        .post(format!("{gw}/console/login"))
        .header("cookie", format!("sb_form={form_cookie}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "admin@sandbox.test"),
            ("password", password.trim()),
        ])
        .send()
        .await?;
    let session = set_cookie(&signed, "sb_session").expect("signed in");
    let cookie = format!("sb_session={session}");

    let listed: Value = client
        .get(format!("{gw}/v1/messages?limit=1"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let newest = listed["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let today = &listed["data"][0]["created_at"]
        .as_str()
        .unwrap_or("1970-01-01")[..10];
    let oldest_recipient = "%2B14150000000";
    let pages = [
        (
            "messages, newest 50".to_string(),
            "/console/messages".to_string(),
        ),
        (
            "messages, status=failed (none: every row is read)".into(),
            "/console/messages?status=failed".into(),
        ),
        (
            "messages, one recipient (the oldest)".into(),
            format!("/console/messages?recipient={oldest_recipient}"),
        ),
        (
            "messages, today".into(),
            format!("/console/messages?from={today}&to={today}"),
        ),
        (
            "one message's timeline".into(),
            format!("/console/messages/{newest}"),
        ),
        (
            "billing (usage, statement, prices)".into(),
            "/console/billing".into(),
        ),
        ("contacts, first 50".into(), "/console/contacts".into()),
        (
            "contacts, name search (no match: every row is read)".into(),
            "/console/contacts?name=nobody".into(),
        ),
        ("connections".into(), "/console/connections".into()),
    ];
    let pid = gw_proc.0.id();
    println!(
        "| page ({messages} messages) | median ms | slowest ms | gateway CPU ms per fetch | bytes |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, path) in pages {
        let mut times = Vec::with_capacity(repeats);
        let mut bytes = 0;
        let cpu = cpu_seconds(pid);
        for _ in 0..repeats {
            let t = Instant::now();
            let r = client
                .get(format!("{gw}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            assert_eq!(r.status(), 200, "{path}");
            bytes = r.bytes().await?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let cpu_ms = (cpu_seconds(pid) - cpu) * 1000.0 / repeats as f64;
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} | {:.1} | {cpu_ms:.1} | {bytes} |",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    println!("gateway resident memory: {:.0} MiB", rss_mib(pid));
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
