//! Build-script helper shared by `switchboard-bundled-plugins` and `switchboard-test-plugins`.
//!
//! Why it exists: plugins are separate crates compiled for `wasm32-wasip2`, which a build
//! script cannot express as ordinary dependencies. Each artifact crate calls [`build`] from its
//! `build.rs` with the folder of plugin crates it packages. Keeping the guest build in those
//! small crates, instead of the host's build script, means editing one plugin rebuilds the
//! artifact crate and the binary that links it, not the host library.
//!
//! All callers share one nested target directory (`target/wasm-plugins`), so the SDK and its
//! dependencies compile once for every guest. A nested cargo waits on that directory's lock
//! rather than the outer build's, which is why it is separate from the host's target.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A plugin crate found under a folder: its package name and directory name.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub dir: String,
}

/// A plugin compiled to a component.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub package: Package,
    pub wasm: PathBuf,
}

/// The workspace root, from an artifact crate's `CARGO_MANIFEST_DIR` (`<root>/crates/<name>`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .expect("artifact crates live in <root>/crates/<name>")
        .to_path_buf()
}

/// Compile every plugin crate directly under `root/folder` for `wasm32-wasip2` with the
/// workspace's `plugin` profile, and tell cargo to rerun when their sources, the SDK or the
/// WIT contract change.
///
/// Panics with an actionable message when the guest build fails: a build script has no other
/// way to report, and the commonest cause is a missing target.
pub fn build(root: &Path, folder: &str) -> Vec<Artifact> {
    // The guests' sources and everything of ours they depend on; host crates are left out so
    // a host change never reruns this script.
    for dir in [
        folder,
        "plugin-sdk",
        "schemas/wit",
        "crates/iso-time",
        "crates/vocab",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let packages = packages(&root.join(folder));
    if packages.is_empty() {
        return Vec::new();
    }
    let target_dir = root.join("target/wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "--target-dir",
        ])
        .arg(&target_dir);
    for p in &packages {
        cmd.args(["-p", &p.name]);
    }
    // Flags and wrappers meant for the host build (clippy, coverage, sanitizers) must not
    // leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo for the wasm plugins");
    if !status.success() {
        panic!(
            "building the plugins in {folder}/ for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
        );
    }
    let wasm_dir = target_dir.join("wasm32-wasip2/plugin");
    packages
        .into_iter()
        .map(|package| Artifact {
            wasm: wasm_dir.join(format!("{}.wasm", package.name.replace('-', "_"))),
            package,
        })
        .collect()
}

/// Every crate directly under `dir`, sorted by package name. A folder with a `.wip` file opts
/// out until it compiles for wasm.
pub fn packages(dir: &Path) -> Vec<Package> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        if entry.path().join(".wip").exists() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
            continue;
        };
        if let Some(name) = package_name(&text) {
            found.push(Package {
                name,
                dir: entry.file_name().to_string_lossy().into_owned(),
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The `name` of a manifest's `[package]` table (the first `name =` line after it).
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest
                .trim_start()
                .strip_prefix('=')?
                .trim()
                .trim_matches('"');
            return Some(value.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn reads_the_package_name_only() {
        let manifest = "[lib]\nname = \"not_this\"\n[package]\nname = \"switchboard-plugin-sms\"\nversion = \"1\"\n";
        assert_eq!(
            package_name(manifest).as_deref(),
            Some("switchboard-plugin-sms")
        );
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
    }
}
