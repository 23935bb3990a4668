//! Warm instances: a plugin instance kept after a call that went well, for the next call of
//! the same kind on the same connection.
//!
//! Why: instantiating and tearing down an instance cost about 40 µs each time, four times per
//! SMS (assess at accept, send, two callbacks), a quarter of the gateway's CPU per message.
//! `validate` and `quote` read only the message; `handle-webhook` reads the request and the
//! connection's settings; `send` reads the message and the connection's settings and talks to
//! the provider through the host's `http` import, whose per-call budget and deadline are the
//! host's, not the instance's. All four may run on an instance that served an earlier call of
//! the same kind on the same connection. `sync-contacts` and `lookup-status` are rare and
//! still get a fresh instance every time.
//!
//! What isolation this keeps, and what it gives up:
//! - **Never across workspaces or connections.** An instance is kept under its plugin, the
//!   connection the call was for and the kind of call; a connection belongs to one workspace.
//!   A callback or send instance also remembers the connection's settings it was built with
//!   (and the outbound allow-list they give) and is dropped when they change (or when
//!   `forget_cached` is called for the connection).
//! - **Between calls on one connection, a plugin may remember.** Anything its memory holds
//!   after one call (a global, a cache) is there for the next call of that connection: the
//!   messages of the same workspace going out the same way. A plugin sees nothing it could not
//!   already see through that connection.
//! - **Nothing of the host's per-call state carries over.** The deadline, the outbound request
//!   budget, the output fuel, the memory-limit flag, whether a send's answer was lost and what
//!   `webhook-auth` proved are reset before each call, so a callback verified on one call does
//!   not count for the next, and one send's spent budget does not limit the next.
//! - **A fault ends an instance.** Only a call that returned normally gives its instance
//!   back; a trap, a deadline, a memory cap, oversized output or an instantiation error drops
//!   it, as before. An instance is also retired after [`MAX_USES`] calls or once its memory
//!   grew past [`MAX_MEMORY`], so a slow leak or a one-off spike does not stay resident.
//! - **Bounded.** At most [`PER_CONNECTION`] idle instances per connection and kind
//!   ([`SENDS_PER_CONNECTION`] for `send`), and [`MAX_IDLE`] in all. Each holds its slot of
//!   the instance pool; a call that finds the pool full evicts an idle instance rather than
//!   wait for one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wasmtime::Store;

use super::ConnectionCtx;
use super::bindings::PluginInstance;
use super::imports::CallState;

/// Idle instances kept per connection for the calls made at accept and for callbacks: about
/// one per core serving that connection.
pub const PER_CONNECTION: usize = 4;
/// Idle `send` instances kept per connection. Sends wait on the provider, so many run at
/// once: the dispatcher starts a whole claimed batch together, and with only
/// [`PER_CONNECTION`] kept, three of four sends still started a fresh instance.
pub const SENDS_PER_CONNECTION: usize = 32;
/// Idle instances kept in all (the pool holds `max_instances`, 256 by default).
pub const MAX_IDLE: usize = 64;
/// Calls one instance serves before it is retired.
pub const MAX_USES: u32 = 1_000;
/// Linear memory an instance may have grown to and still be kept.
pub const MAX_MEMORY: usize = 8 << 20;

/// Instances calls ran on since the process started: `(warm, fresh)`. Process-wide, like the
/// store's statement count, so `/metrics` and the benchmarks can show how often a call found
/// a kept instance.
pub fn instances_used() -> (u64, u64) {
    (
        WARM_USED.load(Ordering::Relaxed),
        FRESH_USED.load(Ordering::Relaxed),
    )
}

static WARM_USED: AtomicU64 = AtomicU64::new(0);
static FRESH_USED: AtomicU64 = AtomicU64::new(0);

/// Count a call's instance as warm (kept from an earlier call) or fresh.
pub(crate) fn count_use(warm: bool) {
    let counter = if warm { &WARM_USED } else { &FRESH_USED };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Which calls may share an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `validate` and `quote`: no connection settings reach the instance.
    Pure,
    /// `handle-webhook`: the connection's settings and secrets reach the instance.
    Webhook,
    /// `send`: the connection's settings reach the instance, and it may make outbound
    /// requests (allowed by those settings, budgeted per call).
    Send,
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
    pub inst: PluginInstance,
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
    pub fn wrap(store: Store<CallState>, inst: PluginInstance, key: Key) -> Warm {
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
        let limit = match w.key.kind {
            Kind::Send => SENDS_PER_CONNECTION,
            Kind::Pure | Kind::Webhook => PER_CONNECTION,
        };
        let kept = idle.by_key.entry(w.key.clone()).or_default();
        if kept.len() >= limit {
            return;
        }
        kept.push(w);
        idle.count += 1;
    }

    /// Drop one idle instance, any, to free its slot for a call that needs one. False when
    /// none is kept.
    pub fn evict_one(&self) -> bool {
        let dropped = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let Idle { by_key, count } = &mut *idle;
            let Some(key) = by_key
                .iter()
                .find(|(_, kept)| !kept.is_empty())
                .map(|(k, _)| k.clone())
            else {
                return false;
            };
            let kept = by_key.get_mut(&key).expect("the key just seen");
            let dropped = kept.pop();
            if kept.is_empty() {
                by_key.remove(&key);
            }
            *count -= usize::from(dropped.is_some());
            dropped
        };
        // Torn down outside the lock; its slot is free once this returns.
        dropped.is_some()
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
pub(crate) mod tests;
