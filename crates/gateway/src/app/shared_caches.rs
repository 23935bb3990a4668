//! Keeping each node's memory true when several nodes share one PostgreSQL database.
//!
//! A node keeps two things in memory: API keys by digest (so a request costs no query to
//! authenticate) and connections with their opened secrets. The node that changes one
//! updates its own memory in the same request; the others learn of it from the
//! `cache_epochs` table, which a trigger bumps in the transaction that changed the table
//! (PostgreSQL migration 2). Every node reads those few rows every [`POLL`] and reloads what
//! moved, so a revoked key, a reconnected or disabled connection, or a new one takes effect
//! on every node within [`BOUND`].
//!
//! Why polling and not LISTEN/NOTIFY: a notification sent while a node is reconnecting is
//! lost, and a node would then serve a revoked key until the next change. A poll of one tiny
//! table cannot miss a change, costs one indexed read per node per poll, and gives a bound
//! that holds whatever happened to the connection in between. Prices, policies and webhook
//! endpoints are read from the database where they are used, so they need nothing here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::Gateway;

/// How often a node reads the epochs.
pub const POLL: Duration = Duration::from_millis(250);
/// How long after its commit a change is seen by every node, at worst: one poll, plus the
/// reload it starts (reading the connections table and opening their secrets), with room
/// for a busy machine. The e2e test `multinode::revoking_a_key_on_one_node_stops_it_on_the_other`
/// checks it.
pub const BOUND: Duration = Duration::from_secs(2);

/// Poll the epochs for as long as the gateway runs; on SQLite there is nothing to do.
pub async fn watch(gateway: Arc<Gateway>) {
    if !gateway.store.is_shared() {
        return;
    }
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let epochs = match gateway.store.cache_epochs().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "reading cache epochs failed");
                continue;
            }
        };
        // The first read refreshes everything too: the caches were loaded before it, and a
        // change another node committed in between would otherwise become the baseline and
        // never be seen (a full run caught a rename missed that way).
        let mut moved = Vec::new();
        for (name, epoch) in epochs {
            if seen.insert(name.clone(), epoch) != Some(epoch) {
                moved.push(name);
            }
        }
        for name in moved {
            refresh(&gateway, &name).await;
        }
    }
}

async fn refresh(gateway: &Gateway, table: &str) {
    match table {
        "api_keys" | "workspaces" => {
            // Under the cache lock, and with the revocation count moved on, so a lookup that
            // read a key before the change cannot cache it afterwards (see `authorize`).
            let mut cache = gateway.key_cache.write().unwrap_or_else(|p| p.into_inner());
            gateway
                .key_revocations
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            cache.clear();
        }
        "connections" => {
            if let Err(e) = gateway
                .connections
                .reload(&gateway.store, &gateway.vault, &gateway.public_url)
                .await
            {
                tracing::warn!(error = %e, "reloading connections changed by another node failed");
            }
        }
        _ => {}
    }
}
