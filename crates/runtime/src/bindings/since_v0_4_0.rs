//! Host-side bindings for `switchboard:channel@0.4.0` (`schemas/wit/since_v0.4.0`), the latest.
//!
//! It imports 0.1.0's interfaces and speaks 0.1.0's vocabulary and 0.3.0's webhook outcome,
//! so those map onto [`super::since_v0_1_0`]'s and [`super::since_v0_3_0`]'s modules: one set
//! of host imports serves every version, and no outcome needs converting. What is new is its
//! own `senders` interface (the sender a message names, sender domains) and the exports that
//! use it; older versions answer those as a plugin without senders would
//! ([`super::versioned`]).

wasmtime::component::bindgen!({
    path: "../../schemas/wit/since_v0.4.0",
    world: "channel-plugin",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "switchboard:channel/types@0.1.0": super::since_v0_1_0::switchboard::channel::types,
        "switchboard:channel/http@0.1.0": super::since_v0_1_0::switchboard::channel::http,
        "switchboard:channel/config@0.1.0": super::since_v0_1_0::switchboard::channel::config,
        "switchboard:channel/secrets@0.1.0": super::since_v0_1_0::switchboard::channel::secrets,
        "switchboard:channel/log@0.1.0": super::since_v0_1_0::switchboard::channel::log,
        "switchboard:channel/clock@0.1.0": super::since_v0_1_0::switchboard::channel::clock,
        "switchboard:channel/cache@0.1.0": super::since_v0_1_0::switchboard::channel::cache,
        "switchboard:channel/webhook-auth@0.1.0": super::since_v0_1_0::switchboard::channel::webhook_auth,
        "switchboard:channel/events@0.3.0": super::since_v0_3_0::switchboard::channel0_3_0::events,
    },
});

pub use self::exports::switchboard::channel0_4_0::plugin as exports_plugin;
/// Senders and sender domains, as every version's answers are given to the host.
pub use self::switchboard::channel0_4_0::senders;
