//! Host-side bindings for `switchboard:channel@0.1.0` (schemas/wit).
//!
//! `http.send` is async so a plugin waiting on a provider parks a fiber, not a thread; the
//! other imports are cheap and synchronous. Exports are async because every call runs under
//! an epoch deadline and a tokio timeout.

wasmtime::component::bindgen!({
    path: "../schemas/wit",
    world: "channel-plugin",
    imports: {
        "switchboard:channel/http.send": async,
        default: trappable,
    },
    exports: { default: async },
});

pub use self::exports::switchboard::channel::plugin as exports_plugin;
pub use self::switchboard::channel::types as wit;
