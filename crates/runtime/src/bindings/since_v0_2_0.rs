//! Host-side bindings for `switchboard:channel@0.2.0` (`schemas/wit/since_v0.2.0`).
//!
//! 0.2.0 imports 0.1.0's interfaces and speaks 0.1.0's vocabulary (its `deps/` folder is the
//! 0.1.0 package), so those map onto [`super::since_v0_1_0`]'s modules: one set of host
//! imports serves both versions, and only the exported `plugin` interface is new (it adds
//! `find-sent`).

wasmtime::component::bindgen!({
    path: "../../schemas/wit/since_v0.2.0",
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

pub use self::exports::switchboard::channel0_2_0::plugin as exports_plugin;

use super::since_v0_3_0::events as latest;
use exports_plugin::{AttemptWindow, FindOutcome};

impl From<latest::AttemptWindow> for AttemptWindow {
    fn from(w: latest::AttemptWindow) -> Self {
        AttemptWindow {
            started_ms: w.started_ms,
            finished_ms: w.finished_ms,
        }
    }
}

impl From<FindOutcome> for latest::FindOutcome {
    fn from(o: FindOutcome) -> Self {
        match o {
            FindOutcome::Found(sent) => latest::FindOutcome::Found(sent),
            FindOutcome::NotFound => latest::FindOutcome::NotFound,
            FindOutcome::NotYet(ms) => latest::FindOutcome::NotYet(ms),
            FindOutcome::CannotAsk => latest::FindOutcome::CannotAsk,
        }
    }
}
