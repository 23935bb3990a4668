//! One config file for operators: `serve --config`, layered under the environment and the
//! flags; `config check`; JSON logs. Every case runs the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, bin, free_port, fresh_dir};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The binary with `args` and exactly the `SWITCHBOARD_*` variables of `env` (none
/// inherited from whoever runs the tests), to completion or 60 s.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SWITCHBOARD_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("spawning switchboard");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("switchboard {args:?} did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `config check`'s output, asserting it succeeded.
fn check(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["config", "check"];
    all.extend_from_slice(args);
    let out = run(&all, env);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "config check failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `(value, origin)` of `key` in `config check`'s output.
fn row(output: &str, key: &str) -> (String, String) {
    let line = output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no row for {key}:\n{output}"));
    let rest = line[key.len()..].trim_start();
    let (value, origin) = rest.split_once("  ").unwrap();
    (value.trim().to_string(), origin.trim().to_string())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// One case: the environment, the flags, the value `config check` shows and its origin.
type Layers<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_comes_from_the_flag_then_the_environment_then_the_file() {
    let dir = fresh_dir("config-layers");
    let file = write(&dir, "switchboard.toml", "max_attempts = 4\n");
    let env = [("SWITCHBOARD_MAX_ATTEMPTS", "3")];
    let layers: [Layers; 3] = [
        (&[], &[], "4", format!("config file {file}")),
        (
            &env,
            &[],
            "3",
            "environment variable SWITCHBOARD_MAX_ATTEMPTS".into(),
        ),
        (
            &env,
            &["--max-attempts", "2"],
            "2",
            "flag --max-attempts".into(),
        ),
    ];
    for (env, flags, value, origin) in &layers {
        let mut args = vec!["--config", file.as_str()];
        args.extend_from_slice(flags);
        let out = check(&args, env);
        assert_eq!(
            row(&out, "max_attempts"),
            (value.to_string(), origin.clone()),
            "{out}"
        );
        assert_eq!(row(&out, "retry_base_ms").1, "default");
    }

    // The running gateway: a message that always meets a 503 fails after exactly as many
    // attempts as the winning layer says.
    for (env, flags, value, _) in &layers {
        let data = fresh_dir("config-layers-gateway");
        let listen = format!("127.0.0.1:{}", free_port());
        let mut extra = vec!["--config", file.as_str()];
        extra.extend_from_slice(flags);
        let gw =
            tokio::task::block_in_place(|| Gateway::start_with_env(&data, &listen, &extra, env));
        let to = "+14155550142";
        gw.sim_post(
            "/_sandbox/faults",
            json!({"channel": "sms", "match": {"to": to}, "times": 20, "action": {"status": 503}}),
        )
        .await;
        let id = gw.send_sms(to, "never gets through").await;
        let failed = gw.wait_for(&id, "failed", Duration::from_secs(60)).await;
        assert_eq!(failed["exhausted"], true, "{failed:#}");
        let attempts = failed["deliveries"][0]["attempts"].as_array().unwrap();
        assert_eq!(
            attempts.len().to_string(),
            *value,
            "attempts with {env:?} {flags:?}: {failed:#}"
        );
    }
}

#[test]
fn a_misspelt_key_or_a_bad_value_stops_start_up_naming_the_key_and_the_file() {
    let dir = fresh_dir("config-refused");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let misspelt = write(&dir, "misspelt.toml", "max_attempts = 3\nmax_atempts = 4\n");
    for command in [&["serve", "--sandbox"][..], &["config", "check"][..]] {
        let mut args = command.to_vec();
        args.extend([
            "--config",
            &misspelt,
            "--data-dir",
            data,
            "--listen",
            &listen,
        ]);
        let out = run(&args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "config file {misspelt}: unknown key `max_atempts` (did you mean `max_attempts`?)"
            )),
            "{stderr}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
    // Nothing started: no data directory, nothing listening.
    assert!(!Path::new(data).exists());
    assert!(std::net::TcpStream::connect(&listen).is_err());

    let wrong_type = write(&dir, "wrong.toml", "max_attempts = \"three\"\n");
    let out = run(&["serve", "--config", &wrong_type, "--data-dir", data], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("config file {wrong_type}: key `max_attempts`"))
            && stderr.contains("\"three\""),
        "{stderr}"
    );

    let out = run(
        &["serve", "--data-dir", data],
        &[("SWITCHBOARD_MAX_ATTEMPTS", "lots")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("environment variable SWITCHBOARD_MAX_ATTEMPTS: key `max_attempts`"),
        "{stderr}"
    );

    let missing = dir.join("absent.toml");
    let out = run(
        &["config", "check", "--config", missing.to_str().unwrap()],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("config file {}", missing.display())),
        "{stderr}"
    );
}

#[test]
fn config_check_never_prints_a_secret() {
    let dir = fresh_dir("config-secrets");
    let new_key = || {
        let out = run(&["new-master-key"], &[]);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (master, previous) = (new_key(), new_key());
    let db_password = "Xq7vR2pL9zKw4Tn";
    let payments_key = "sk_live_51NzQ8cKx7Gm2Lq0Tf3VbW9yRa";
    let app_secret = "4f9c2b7e1d8a6c3b5e0f9a2d7c4b1e8f";
    let operator_key = "sk_op_9d8c7b6a5f4e3d2c1b0a";
    let verify_token = "vt_3e5f7a9c1b2d4f6e8a0c";
    let file = write(
        &dir,
        "switchboard.toml",
        &format!(
            "database = \"postgres://switchboard:{db_password}@db.internal:5432/switchboard?sslmode=require\"\n\
             master_key = \"{master}\"\n\
             master_key_previous = \"{previous}\"\n\
             payments_url = \"https://payments.example.com\"\n\
             payments_key = \"{payments_key}\"\n\
             facebook_app_id = \"1234567890\"\n\
             facebook_app_secret = \"{app_secret}\"\n"
        ),
    );
    let out = run(
        &["config", "check", "--config", &file],
        &[
            ("SWITCHBOARD_OPERATOR_KEY", operator_key),
            ("SWITCHBOARD_FACEBOOK_VERIFY_TOKEN", verify_token),
        ],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let printed = format!("{stdout}{stderr}");
    for secret in [
        db_password,
        &master,
        &previous,
        payments_key,
        app_secret,
        operator_key,
        verify_token,
    ] {
        // Not the secret, nor any 8 characters of it.
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(8) {
            let part: String = window.iter().collect();
            assert!(
                !printed.contains(&part),
                "`{part}` of a secret printed:\n{printed}"
            );
        }
    }
    let from_file = format!("config file {file}");
    assert_eq!(
        row(&stdout, "database"),
        (
            "postgres://switchboard:<redacted>@db.internal:5432/switchboard?sslmode=require".into(),
            from_file.clone()
        )
    );
    for key in [
        "master_key",
        "master_key_previous",
        "payments_key",
        "facebook_app_secret",
    ] {
        assert_eq!(
            row(&stdout, key),
            ("<redacted>".into(), from_file.clone()),
            "{key}"
        );
    }
    assert_eq!(
        row(&stdout, "operator_key"),
        (
            "<redacted>".into(),
            "environment variable SWITCHBOARD_OPERATOR_KEY".into()
        )
    );
    assert_eq!(
        row(&stdout, "facebook_verify_token").0,
        "<redacted>".to_string()
    );
    // What is not secret still shows, so the check is worth reading.
    assert_eq!(row(&stdout, "facebook_app_id").0, "1234567890");
    assert_eq!(
        row(&stdout, "payments_url").0,
        "https://payments.example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let gw = tokio::task::block_in_place(|| Gateway::start_json_logs("json-logs"));
    // A send that fails once and then goes through: its failed attempt is logged.
    let to = "+14155550143";
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": to}, "times": 1, "action": {"status": 503}}),
    )
    .await;
    let id = gw.send_sms(to, "logged").await;
    gw.wait_for(&id, "delivered", Duration::from_secs(30)).await;
    let (status, _) = gw.get("/v1/no-such-endpoint").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    crate::support::wait_until(&gw, Duration::from_secs(10), async || {
        gw.log().contains("attempt failed")
    })
    .await;

    let stdout = std::fs::read_to_string(gw.data_dir.join("stdout.log")).unwrap();
    let stderr = gw.log();
    let mut events = Vec::new();
    for line in stdout.lines().chain(stderr.lines()) {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for field in ["timestamp", "level", "fields", "target"] {
            assert!(event.get(field).is_some(), "no {field}: {line}");
        }
        events.push(event);
    }
    let failed = events
        .iter()
        .find(|e| e["fields"]["message"] == "attempt failed")
        .expect("the failed attempt is logged");
    assert_eq!(failed["level"], "INFO");
    assert_eq!(failed["fields"]["reason"], "provider_transient");
    assert!(failed["fields"]["delivery"].is_string(), "{failed}");
    // The banner is events too, and names the key's file instead of printing the key.
    assert!(events.iter().any(|e| {
        e["fields"]["message"] == "sandbox API key"
            && e["fields"]["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("sandbox.key"))
    }));
    assert!(!stderr.contains(&gw.key) && !stdout.contains(&gw.key));
}

#[test]
fn the_example_file_passes_config_check_and_is_the_documented_one() {
    let example_path = root().join("switchboard.example.toml");
    let example = std::fs::read_to_string(&example_path).unwrap();
    let path = example_path.display().to_string();
    let out = check(&["--config", &path], &[]);
    let keys: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(keys.len() > 30, "{out}");
    for key in keys {
        let set = example.lines().any(|l| l.starts_with(&format!("{key} = ")));
        let shown = example
            .lines()
            .any(|l| l.starts_with(&format!("# {key} = ")));
        assert!(
            set || shown,
            "switchboard.example.toml does not show `{key}`"
        );
        if set {
            assert_eq!(row(&out, key).1, format!("config file {path}"), "{key}");
        }
    }
    let deployment = std::fs::read_to_string(root().join("docs/deployment.md")).unwrap();
    assert!(
        deployment.contains(&format!("```toml\n{example}```")),
        "docs/deployment.md must show switchboard.example.toml as it is"
    );
}
