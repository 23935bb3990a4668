//! The channel plugins that ship inside the `switchboard` binary.
//!
//! Why a crate of its own: the plugins are guests compiled for `wasm32-wasip2` by this
//! crate's build script. Only the binary (and tests and benches that want real plugins)
//! depend on it, so editing a plugin rebuilds this crate and relinks the binary, while the
//! host libraries stay compiled. The host receives the bytes at start-up
//! (`GatewayConfig::bundled`) and never names a plugin.

/// `(crate directory name, component bytes)` for each plugin under `plugins/`, sorted by
/// package name.
pub mod table {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

pub use table::PLUGINS;
