//! Builds every channel plugin under `plugins/` (bundled into the binary) and the hostile
//! test plugins under `tests/plugins/` (loaded by tests through `--plugins-dir`) as
//! wasm32-wasip2 components, with the workspace's `plugin` profile.
//!
//! A separate target directory keeps the nested cargo from waiting on the outer one's lock.
//! The only manual prerequisite is `rustup target add wasm32-wasip2`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf();
    for dir in [
        "plugins",
        "plugin-sdk",
        "vocab",
        "schemas/wit",
        "tests/plugins",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let bundled = packages(&root.join("plugins"));
    let hostile = packages(&root.join("tests/plugins"));
    let target_dir = root.join("target/wasm-plugins");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (name, _) in bundled.iter().chain(&hostile) {
        cmd.args(["-p", name]);
    }
    // Flags and wrappers meant for the host build (clippy, coverage, sanitizers) must not
    // leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo for the wasm plugins");
    if !status.success() {
        panic!(
            "building the plugins for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
        );
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let wasm_dir = target_dir.join("wasm32-wasip2/plugin");
    let mut code = String::from(
        "/// `(crate directory name, component bytes)` for each bundled plugin.\npub const PLUGINS: &[(&str, &[u8])] = &[\n",
    );
    for (name, dir) in &bundled {
        let wasm = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        code.push_str(&format!(
            "    ({dir:?}, include_bytes!({:?})),\n",
            wasm.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), code).expect("writing bundled.rs");

    let test_dir = out_dir.join("test-plugins");
    let _ = std::fs::remove_dir_all(&test_dir);
    std::fs::create_dir_all(&test_dir).expect("creating test-plugins dir");
    for (name, dir) in &hostile {
        let src = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        std::fs::copy(&src, test_dir.join(format!("{dir}.wasm"))).expect("copying a test plugin");
    }
    println!(
        "cargo:rustc-env=SWITCHBOARD_TEST_PLUGINS_DIR={}",
        test_dir.display()
    );
}

/// `(package name, directory name)` of every crate directly under `dir`.
fn packages(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        // A plugin under construction opts out of the build until it compiles for wasm.
        if entry.path().join(".wip").exists() {
            continue;
        }
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text.lines().find_map(|l| {
            l.trim().strip_prefix("name").map(|r| {
                r.trim_start()
                    .trim_start_matches('=')
                    .trim()
                    .trim_matches('"')
                    .to_string()
            })
        });
        if let Some(name) = name {
            found.push((name, entry.file_name().to_string_lossy().into_owned()));
        }
    }
    found.sort();
    found
}
