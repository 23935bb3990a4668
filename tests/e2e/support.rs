//! Run the real `switchboard` binary on a fresh data directory and talk to it over HTTP.
//!
//! The suite is compiled twice (`e2e` and `e2e_postgres`): [`crate::BACKEND`] says which
//! database every gateway a test starts uses. On PostgreSQL each data directory gets a
//! database of its own on the test cluster (`tools/pg-cluster`), named in the directory, so a
//! gateway restarted on the same directory finds its data again, as it would its SQLite file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "support_database.rs"]
mod database;
pub use database::*;
#[path = "support_logs.rs"]
mod logs;

use reqwest::StatusCode;
use serde_json::{Value, json};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// The hostile test plugins, built only for tests by `crates/test-plugins`.
pub fn test_plugins_dir() -> &'static str {
    switchboard_test_plugins::DIR
}

/// A test's data directory under the system temp dir. It is removed when the test passes and
/// kept when it fails (its path is printed), so a failure can be read afterwards while a green
/// run leaves nothing behind: a full suite writes several hundred MiB of SQLite files and logs.
pub struct TestDir(PathBuf);

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TestDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept the failed test's data directory: {}",
                self.0.display()
            );
        } else {
            database::drop_owned_database(&self.0);
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn fresh_dir(name: &str) -> TestDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "switchboard-test-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TestDir(dir)
}

/// A free loopback port (bound then released: a restart must find the gateway at the same
/// address because providers call back to it).
///
/// Taken below Linux's ephemeral range (32768-60999): a port from `:0` is the OS's to hand
/// out again, and it did, to the in-process simulators' own `:0` listener and to outgoing
/// connections, between this check and the gateway's bind ("address already in use").
pub fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::rng();
    loop {
        let port = rng.random_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct Gateway {
    child: Child,
    pub url: String,
    pub key: String,
    /// The simulators' base URL.
    pub sim: String,
    pub data_dir: PathBuf,
    http: reqwest::Client,
    /// Set by [`Gateway::start`], which made the directory; dropped after the process is killed.
    owned_dir: Option<TestDir>,
}

impl Gateway {
    /// `serve --sandbox` on a fresh data directory, with fast retries for tests.
    pub fn start(name: &str, extra: &[&str]) -> Gateway {
        let dir = fresh_dir(name);
        let listen = format!("127.0.0.1:{}", free_port());
        let mut gateway = Gateway::start_in(&dir, &listen, extra);
        gateway.owned_dir = Some(dir);
        gateway
    }

    pub fn start_in(data_dir: &Path, listen: &str, extra: &[&str]) -> Gateway {
        Gateway::start_with_env(data_dir, listen, extra, &[])
    }

    /// Like [`Gateway::start_in`], with extra environment variables (e.g. `RUST_LOG`).
    pub fn start_with_env(
        data_dir: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Gateway {
        let mut args: Vec<String> = [
            "serve",
            "--sandbox",
            "--retry-base-ms",
            "50",
            "--listen",
            listen,
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(data_dir.display().to_string());
        args.extend(database_args(data_dir));
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("gateway.log"))
            .unwrap();
        let mut child = Command::new(bin())
            .args(&args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawning switchboard");
        let lines = read_lines(child.stdout.take().unwrap());
        let mut url = None;
        let mut sim = None;
        let deadline = Instant::now() + Duration::from_secs(120);
        while url.is_none() || sim.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("switchboard listening on ") {
                        url = Some(u.trim().to_string());
                    }
                    if let Some(s) = line.strip_prefix("simulators on ") {
                        sim = Some(s.trim().to_string());
                    }
                }
                Err(_) => {
                    let log =
                        std::fs::read_to_string(data_dir.join("gateway.log")).unwrap_or_default();
                    let _ = child.kill();
                    panic!("gateway did not start; log:\n{log}");
                }
            }
            // With --sandbox-url there is no in-process simulator line.
            if url.is_some() && args.iter().any(|a| a == "--sandbox-url") {
                let i = args.iter().position(|a| a == "--sandbox-url").unwrap();
                sim = Some(args[i + 1].clone());
            }
        }
        let key = std::fs::read_to_string(data_dir.join("sandbox.key"))
            .unwrap()
            .trim()
            .to_string();
        Gateway {
            child,
            url: url.unwrap(),
            key,
            sim: sim.unwrap(),
            data_dir: data_dir.to_path_buf(),
            owned_dir: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// SIGKILL: no shutdown hooks, no flushing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The gateway process's resident memory, from /proc (Linux), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("reading the gateway's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status");
        kib << 10
    }

    /// `GET /healthz`, asserting the gateway says it is ok.
    pub async fn assert_healthy(&self) {
        let health: Value = self
            .http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok", "{health}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("gateway.log")).unwrap_or_default()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn post_message(&self, body: &Value) -> (StatusCode, Value) {
        self.post_raw("/v1/messages", serde_json::to_vec(body).unwrap(), None)
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .body(body);
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The operator key (creates workspaces), from the data directory.
    pub fn operator_key(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("operator.key"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Any request with any key; the body as JSON if it parses, else as a string.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// PATCH a JSON body with the sandbox key.
    pub async fn patch_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, &self.key, Some(body))
            .await
    }

    /// A new workspace (through the operator key); returns its id and its all-scope key.
    pub async fn new_workspace(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/workspaces",
                &self.operator_key(),
                Some(&serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().unwrap().to_string(),
            body["api_key"]["key"].as_str().unwrap().to_string(),
        )
    }

    /// POST a JSON body to any API path with the sandbox key.
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_raw(path, serde_json::to_vec(body).unwrap(), None)
            .await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Move the gateway's and the simulators' clock to `offset_ms` past the wall clock.
    pub async fn set_clock(&self, offset_ms: i64) {
        let resp = self
            .http
            .put(format!("{}/v1/sandbox/clock", self.url))
            .bearer_auth(&self.key)
            .json(&serde_json::json!({ "offset_ms": offset_ms }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "set clock: {}", resp.status());
    }

    /// Send a message, asserting the 202, and return its id.
    pub async fn send(&self, body: &Value) -> String {
        let (status, resp) = self.post_message(body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{resp}");
        resp["id"].as_str().unwrap().to_string()
    }

    /// The message's first delivery's failure object, once it failed.
    pub async fn failure_of(&self, id: &str) -> Value {
        let msg = self.wait_for(id, "failed", Duration::from_secs(20)).await;
        msg["deliveries"][0]["failure"].clone()
    }

    /// Send one SMS and return its id, asserting the 202.
    pub async fn send_sms(&self, to: &str, text: &str) -> String {
        let (status, body) = self
            .post_message(
                &json!({"channel": "sms", "to": {"phone": to}, "content": {"text": text}}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "queued");
        body["id"].as_str().unwrap().to_string()
    }

    /// Poll until the message reaches `status` (or any final status when `status` is final
    /// and another final one is reached: the assertion then shows what happened).
    pub async fn wait_for(&self, id: &str, status: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (code, msg) = self.get(&format!("/v1/messages/{id}")).await;
            assert_eq!(code, StatusCode::OK, "{msg}");
            if msg["status"] == status {
                return msg;
            }
            if Instant::now() > deadline {
                panic!(
                    "message {id} did not reach {status} within {within:?}: {msg:#}\n--- gateway log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn sim_get(&self, path: &str) -> Value {
        sim_get(&self.sim, path).await
    }

    pub async fn sim_put(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .put(format!("{}{path}", self.sim))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "simulator control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn sim_post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.sim))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "simulator control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn sim_get(sim: &str, path: &str) -> Value {
    reqwest::get(format!("{sim}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Messages the SMS simulator accepted for one recipient.
pub async fn sim_messages_to(sim: &str, to: &str) -> Vec<Value> {
    let all = sim_get(sim, "/_sandbox/sms/messages").await;
    let list = all
        .as_array()
        .cloned()
        .or_else(|| all["messages"].as_array().cloned())
        .unwrap_or_default();
    list.into_iter().filter(|m| m["to"] == to).collect()
}

/// A separately running `switchboard sandbox` process (the crash-test topology).
pub struct SandboxProcess {
    child: Child,
    pub url: String,
}

impl SandboxProcess {
    pub fn start() -> SandboxProcess {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(bin())
            .args(["sandbox", "--listen", &listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning switchboard sandbox");
        let lines = read_lines(child.stdout.take().unwrap());
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("sandbox did not start");
        let url = line
            .strip_prefix("simulators listening on ")
            .expect("sandbox banner")
            .trim()
            .to_string();
        SandboxProcess { child, url }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Keep draining so the child never blocks on a full pipe.
                continue;
            }
        }
    });
    rx
}

/// Polls `check` until it holds; panics with the gateway log after `within`.
pub async fn wait_until(gw: &Gateway, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        if Instant::now() > deadline {
            panic!(
                "condition not met within {within:?}\n--- gateway log ---\n{}",
                gw.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
