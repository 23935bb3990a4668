//! Test plugins, built only when a test or bench depends on this crate, in the manner of
//! wasmtime's `crates/test-programs/artifacts`.
//!
//! The guests under `tests/plugins/` misbehave on purpose (endless loops, memory bombs,
//! secret exfiltration, traps, a plugin built for an API version the host does not support).
//! A release build of the gateway never compiles them; tests load them with
//! `serve --plugins-dir` [`DIR`].

/// The folder holding one `<name>.wasm` component per test plugin.
pub const DIR: &str = env!("SWITCHBOARD_TEST_PLUGINS_DIR");

/// The path of one test plugin's component, by its folder name under `tests/plugins/`.
pub fn path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(DIR).join(format!("{name}.wasm"))
}
