//! Host-side bindings for `switchboard:channel@0.3.0` (`schemas/wit/since_v0.3.0`).
//!
//! Like 0.2.0, it imports 0.1.0's interfaces and speaks 0.1.0's vocabulary, so those map onto
//! [`super::since_v0_1_0`]'s modules and one set of host imports serves every version. What is
//! new is its own `events` interface: the webhook outcome with echoes and inbound payloads, and
//! 0.2.0's `find-sent` types restated there. The rest of the host speaks these types (0.4.0
//! reuses the interface itself); older versions' outcomes are converted into them
//! ([`super::versioned`]).

wasmtime::component::bindgen!({
    path: "../../schemas/wit/since_v0.3.0",
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
    },
});

pub use self::exports::switchboard::channel0_3_0::plugin as exports_plugin;
/// The webhook outcome and `find-sent` types every version's answers are converted into.
pub use self::switchboard::channel0_3_0::events;
