//! Warm instances: a plugin instance kept after a call that went well, for the next call of
//! the same kind on the same connection.
//!
//! Why: instantiating and tearing down an instance cost about 40 µs each time, four times per
//! SMS (assess at accept, send, two callbacks), a quarter of the gateway's CPU per message.
//! Three of those calls are pure or close to it (`validate` and `quote` read only the message;
//! `handle-webhook` reads the request and the connection's secrets), so they may run on an
//! instance that served an earlier call. `send`, `sync-contacts` and `lookup-status` talk to
//! the provider and still get a fresh instance every time.
//!
//! What isolation this keeps, and what it gives up:
//! - **Never across workspaces or connections.** An instance is kept under its plugin, the
//!   connection the call was for and the kind of call; a connection belongs to one workspace.
//!   A callback instance also remembers the connection's settings it was built with and is
//!   dropped when they change (or when `forget_cached` is called for the connection).
//! - **Between calls on one connection, a plugin may remember.** Anything its memory holds
//!   after one call (a global, a cache) is there for the next call of that connection: the
//!   messages of the same workspace going out the same way. A plugin sees nothing it could not
//!   already see through that connection.
//! - **Nothing of the host's per-call state carries over.** The deadline, the outbound request
//!   budget, the output fuel, the memory-limit flag and what `webhook-auth` proved are reset
//!   before each call, so a callback verified on one call does not count for the next.
//! - **A fault ends an instance.** Only a call that returned normally gives its instance
//!   back; a trap, a deadline, a memory cap, oversized output or an instantiation error drops
//!   it, as before. An instance is also retired after [`MAX_USES`] calls or once its memory
//!   grew past [`MAX_MEMORY`], so a slow leak or a one-off spike does not stay resident.
//! - **Bounded.** At most [`PER_CONNECTION`] idle instances per connection and kind, and
//!   [`MAX_IDLE`] in all, well inside the instance pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::Store;

use super::ConnectionCtx;
use super::bindings::ChannelPlugin;
use super::imports::CallState;

/// Idle instances kept per connection and kind: about one per core serving that connection.
pub const PER_CONNECTION: usize = 4;
/// Idle instances kept in all (the pool holds `max_instances`, 256 by default).
pub const MAX_IDLE: usize = 64;
/// Calls one instance serves before it is retired.
pub const MAX_USES: u32 = 1_000;
/// Linear memory an instance may have grown to and still be kept.
pub const MAX_MEMORY: usize = 8 << 20;

/// Which calls may share an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `validate` and `quote`: no connection settings reach the instance.
    Pure,
    /// `handle-webhook`: the connection's settings and secrets reach the instance.
    Webhook,
}

/// What an idle instance is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    plugin: String,
    /// Which load of the plugin: a reloaded plugin never gets an old instance.
    generation: u64,
    connection: String,
    kind: Kind,
}

impl Key {
    pub fn new(plugin: &str, generation: u64, connection: &str, kind: Kind) -> Key {
        Key {
            plugin: plugin.to_string(),
            generation,
            connection: connection.to_string(),
            kind,
        }
    }
}

/// An instance with its store, out of the pool for one call.
pub struct Warm {
    pub store: Store<CallState>,
    pub inst: ChannelPlugin,
    key: Key,
    uses: u32,
}

#[derive(Default)]
pub struct WarmPool {
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    by_key: HashMap<Key, Vec<Warm>>,
    count: usize,
}

impl WarmPool {
    /// An idle instance for this call, if one is kept. A callback instance built for other
    /// connection settings is dropped on the way.
    pub fn take(&self, key: &Key, conn: Option<&Arc<ConnectionCtx>>) -> Option<Warm> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let Idle { by_key, count } = &mut *idle;
        let kept = by_key.get_mut(key)?;
        while let Some(w) = kept.pop() {
            *count -= 1;
            let same_settings = match (conn, &w.store.data().conn) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if same_settings {
                return Some(w);
            }
        }
        None
    }

    /// Wrap a fresh instance so it can be given back after its call.
    pub fn wrap(store: Store<CallState>, inst: ChannelPlugin, key: Key) -> Warm {
        Warm {
            store,
            inst,
            key,
            uses: 0,
        }
    }

    /// Give an instance back after a call that returned normally. It is kept only within the
    /// limits above; otherwise it is dropped here, which returns its slot to the pool.
    pub fn give_back(&self, mut w: Warm) {
        w.uses += 1;
        if w.uses >= MAX_USES || w.store.data().limiter.peak_bytes > MAX_MEMORY {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.count >= MAX_IDLE {
            return;
        }
        let kept = idle.by_key.entry(w.key.clone()).or_default();
        if kept.len() >= PER_CONNECTION {
            return;
        }
        kept.push(w);
        idle.count += 1;
    }

    /// Drop every idle instance of a connection (its settings or secrets changed).
    pub fn forget_connection(&self, connection: &str) {
        self.forget(|k| k.connection == connection);
    }

    /// Drop every idle instance of a plugin (it was loaded again).
    pub fn forget_plugin(&self, plugin: &str) {
        self.forget(|k| k.plugin == plugin);
    }

    fn forget(&self, matches: impl Fn(&Key) -> bool) {
        let dropped: Vec<Vec<Warm>> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<Key> = idle.by_key.keys().filter(|k| matches(k)).cloned().collect();
            let dropped: Vec<Vec<Warm>> =
                keys.iter().filter_map(|k| idle.by_key.remove(k)).collect();
            idle.count -= dropped.iter().map(Vec::len).sum::<usize>();
            dropped
        };
        // Instances are torn down outside the lock.
        drop(dropped);
    }

    /// Idle instances kept for a connection (for tests and metrics).
    pub fn idle_for(&self, connection: &str) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.by_key
            .iter()
            .filter(|(k, _)| k.connection == connection)
            .map(|(_, v)| v.len())
            .sum()
    }
}

#[cfg(test)]
#[path = "warm_tests.rs"]
mod tests;
