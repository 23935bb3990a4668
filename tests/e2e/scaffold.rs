//! `switchboard plugin new` end to end: the generated crate builds for wasm32-wasip2, its
//! native unit tests pass, it is rustfmt- and clippy-clean, and the built component sends a message in sandbox mode through
//! the simulators' stub provider, where it ends `delivered`: the stub never calls back, and
//! the generated `lookup_status` asks it (status lookups start after 300 ms here instead of
//! 15 minutes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::{Gateway, bin, fresh_dir};

/// The e2e suite is declared in `crates/cli`, two levels below the workspace root.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// `cargo` as a plugin author runs it: none of the outer build's `CARGO_*` variables or
/// flags (as crates/wasm-build strips them), a target directory under the workspace's so that
/// repeated runs are incremental.
fn cargo(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir).args(args);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if (k.starts_with("CARGO") && k != "CARGO_HOME")
            || matches!(
                k.as_ref(),
                "RUSTFLAGS" | "RUSTDOCFLAGS" | "RUSTC_WRAPPER" | "RUSTC_WORKSPACE_WRAPPER"
            )
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("CARGO_TARGET_DIR", workspace_root().join("target/scaffold"));
    let out = cmd.output().expect("running cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} in {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_scaffolded_plugin_builds_tests_and_delivers_in_sandbox_mode() {
    let dir = fresh_dir("scaffold");
    let crate_dir = dir.join("acme-notify");
    let out = Command::new(bin())
        .args(["plugin", "new", "acme-notify", "--dir"])
        .arg(&crate_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created plugin `acme-notify`"));

    // Refused, not overwritten, a second time; a bad name is refused with the rule.
    let again = Command::new(bin())
        .args(["plugin", "new", "acme-notify", "--dir"])
        .arg(&crate_dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    let bad = Command::new(bin())
        .args(["plugin", "new", "Acme_Notify", "--dir"])
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lower-case"));

    // The versions this workspace is tested with (cargo drops what the plugin does not use),
    // so the build needs no registry look-up.
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        crate_dir.join("Cargo.lock"),
    )
    .unwrap();
    cargo(
        &crate_dir,
        &["build", "--target", "wasm32-wasip2", "--release"],
    );
    cargo(&crate_dir, &["test"]);
    // What a new team starts from is as clean as the workspace's own code.
    cargo(&crate_dir, &["fmt", "--check"]);
    cargo(
        &crate_dir,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    );

    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let wasm = workspace_root().join("target/scaffold/wasm32-wasip2/release/acme_notify.wasm");
    std::fs::copy(&wasm, plugins.join("acme_notify.wasm")).unwrap();

    let gw = Gateway::start(
        "scaffold-sandbox",
        &[
            "--plugins-dir",
            plugins.to_str().unwrap(),
            "--status-lookup-after-ms",
            "300",
        ],
    );
    let (_, listed) = gw.get("/v1/plugins").await;
    assert!(listed.to_string().contains("\"acme-notify\""), "{listed}");
    let id = gw
        .send(
            &json!({"channel": "acme-notify", "to": {"phone": "+15551234567"},
            "content": {"text": "hello from a new plugin"}}),
        )
        .await;
    let m = gw.wait_for(&id, "delivered", Duration::from_secs(30)).await;
    let got = gw.sim_get("/_sandbox/stub/acme-notify/messages").await;
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(m["deliveries"][0]["provider_message_id"], got[0]["id"]);
    let body: serde_json::Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["text"], "hello from a new plugin");
}
