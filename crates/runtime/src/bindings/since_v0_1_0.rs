//! Host-side bindings for `switchboard:channel@0.1.0` (`schemas/wit/since_v0.1.0`).
//!
//! `http.send` is async so a plugin waiting on a provider parks a fiber, not a thread; the
//! other imports are cheap and synchronous. Exports are async because every call runs under
//! an epoch deadline and a tokio timeout.
//!
//! 0.1.0 is the latest version, so there are no conversions yet. When 0.2.0 comes, this
//! module gains `From` conversions from its types to the latest ones, as Zed's
//! `wasm_host/wit/since_v0_X_0.rs` modules do, and the rest of the host keeps speaking the
//! latest types only.

wasmtime::component::bindgen!({
    path: "../../schemas/wit/since_v0.1.0",
    world: "channel-plugin",
    imports: {
        "switchboard:channel/http.send": async,
        default: trappable,
    },
    exports: { default: async },
});

pub use self::exports::switchboard::channel::plugin as exports_plugin;
pub use self::switchboard::channel::types as wit;
