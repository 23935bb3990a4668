//! A gateway started with `--log-format json`: its start-up banner is then log events on
//! standard error, not text on standard output, so it is found there.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Gateway, bin, database_args, free_port, fresh_dir};

impl Gateway {
    /// `serve --sandbox --log-format json` on a fresh data directory; standard error goes to
    /// `gateway.log` and standard output to `stdout.log` in it.
    pub fn start_json_logs(name: &str) -> Gateway {
        let dir = fresh_dir(name);
        let listen = format!("127.0.0.1:{}", free_port());
        let mut args: Vec<String> = [
            "serve",
            "--sandbox",
            "--log-format",
            "json",
            "--retry-base-ms",
            "50",
            "--listen",
            &listen,
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(dir.display().to_string());
        args.extend(database_args(&dir));
        let stderr = std::fs::File::create(dir.join("gateway.log")).unwrap();
        let stdout = std::fs::File::create(dir.join("stdout.log")).unwrap();
        let mut child = Command::new(bin())
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawning switchboard");
        let deadline = Instant::now() + Duration::from_secs(120);
        let (url, sim) = loop {
            let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
            let events: Vec<Value> = log
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let url_of = |message: &str| {
                events
                    .iter()
                    .find(|e| e["fields"]["message"] == message)
                    .and_then(|e| e["fields"]["url"].as_str())
                    .map(str::to_string)
            };
            if let (Some(url), Some(sim)) = (url_of("switchboard listening"), url_of("simulators"))
            {
                break (url, sim);
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!("gateway did not start; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let key = std::fs::read_to_string(dir.join("sandbox.key"))
            .unwrap()
            .trim()
            .to_string();
        Gateway {
            child,
            url,
            key,
            sim,
            data_dir: dir.to_path_buf(),
            owned_dir: Some(dir),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }
}
