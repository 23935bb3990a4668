//! The database stops for a few seconds under load: the API says so (503, `Retry-After`,
//! JSON), nothing already accepted is lost, and the nodes recover by themselves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_gateway::store::pg_testing;
use tokio::sync::Mutex;

use super::Cluster;

/// The test's own PostgreSQL cluster, stopped when the test ends.
struct PrivateCluster(std::path::PathBuf);

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        pg_testing::stop_private_cluster(&self.0);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopping_under_load_means_503s_then_recovery_and_nothing_lost() {
    // Short: PostgreSQL's socket path must fit in 107 bytes.
    let pg_dir = std::env::temp_dir().join(format!("sb-outage-{}", std::process::id()));
    let url = tokio::task::block_in_place(|| pg_testing::start_private_cluster(&pg_dir));
    let pg = PrivateCluster(pg_dir);
    let cluster = tokio::task::block_in_place(|| {
        Cluster::start_on(
            "mn-outage",
            2,
            &["--status-lookup-after-ms", "1500"],
            Some(&url),
        )
    });
    let key = cluster.node(0).key.clone();
    let urls = [cluster.node(0).url.clone(), cluster.node(1).url.clone()];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(BTreeMap::<usize, String>::new()));
    let refusals = Arc::new(Mutex::new(Vec::<(StatusCode, Option<String>, Value)>::new()));
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..6 {
        let (stop, next, accepted, refusals) = (
            stop.clone(),
            next.clone(),
            accepted.clone(),
            refusals.clone(),
        );
        let (http, key, url) = (http.clone(), key.clone(), urls[s % 2].clone());
        senders.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = json!({"channel": "sms", "to": {"phone": format!("+1415{:07}", 6_000_000 + i)},
                                  "content": {"text": format!("outage {i}")}});
                // A client retries a refused message with the same key until it is accepted.
                loop {
                    let r = http
                        .post(format!("{url}/v1/messages"))
                        .bearer_auth(&key)
                        .header("Idempotency-Key", format!("outage-{i}"))
                        .json(&body)
                        .send()
                        .await
                        .expect("the node answers even without its database");
                    let status = r.status();
                    if status == StatusCode::ACCEPTED || status == StatusCode::OK {
                        let v: Value = r.json().await.unwrap();
                        accepted.lock().await.insert(i, v["id"].as_str().unwrap().to_string());
                        break;
                    }
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_string());
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    refusals.lock().await.push((status, retry_after, v));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = accepted.lock().await.len();
    let pg_path = pg.0.clone();
    tokio::task::spawn_blocking(move || pg_testing::stop_private_cluster(&pg_path))
        .await
        .unwrap();
    let stopped_at = Instant::now();
    // While it is down, each node says so on /healthz.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for gw in [cluster.node(0), cluster.node(1)] {
        let r = http
            .get(format!("{}/healthz", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key("retry-after"));
        let health: Value = r.json().await.unwrap();
        assert_eq!(health["database"]["reachable"], false, "{health}");
    }
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(stopped_at.elapsed())).await;
    let pg_path = pg.0.clone();
    tokio::task::spawn_blocking(move || pg_testing::start_private_cluster(&pg_path))
        .await
        .unwrap();
    let outage = stopped_at.elapsed();
    // Load goes on after the database is back, then stops.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = senders.join_next().await {
        r.expect("a sender panicked");
    }
    let accepted = accepted.lock().await.clone();
    let refusals = refusals.lock().await.clone();
    println!(
        "{} accepted ({before} before the outage of {outage:?}), {} refusals meanwhile",
        accepted.len(),
        refusals.len()
    );
    assert!(
        accepted.len() > before,
        "the nodes accept again once the database is back"
    );
    assert!(!refusals.is_empty(), "the outage was seen by the API");
    for (status, retry_after, body) in &refusals {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(retry_after.is_some(), "503 without Retry-After: {body}");
        assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    }

    // Nothing accepted was lost: every message is delivered.
    let deadline = Instant::now() + Duration::from_secs(120);
    for (i, id) in &accepted {
        let gw = cluster.node(i % 2);
        loop {
            let (s, msg) = gw.get(&format!("/v1/messages/{id}")).await;
            assert_eq!(s, StatusCode::OK, "message {i} is gone: {msg}");
            if msg["status"] == "delivered" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "message {i} never delivered: {msg:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for gw in [cluster.node(0), cluster.node(1)] {
        let r = http
            .get(format!("{}/healthz", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    drop(cluster);
    drop(pg);
}
