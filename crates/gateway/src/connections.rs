//! Channel connections held in memory: the dispatcher and webhook handler look one up per
//! message, so this must not cost a database read. Each connection carries its own in-flight
//! limit, so one slow provider cannot take every dispatch slot.
//!
//! Secrets are sealed and opened here, never in the store: a patch ([`patch`]) and resealing
//! ([`reseal_secrets`]) open, merge and seal inside one store write, so the store holds only
//! sealed bytes and two concurrent PATCHes cannot lose each other's keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use tokio::sync::Semaphore;

use crate::model::{ChatSetting, Millis, now_ms};
use crate::runtime::{ConnectionCtx, Secret};
use crate::store::{self, ConnectionRecord, Store, StoreError};
use crate::vault::{Vault, VaultError};

/// Why a change to a connection's secrets failed; a server fault either way.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("secrets: {0}")]
    Vault(#[from] VaultError),
}

/// The associated data a connection's secrets are sealed under.
pub fn secrets_owner(connection_id: &str) -> String {
    format!("connection:{connection_id}")
}

/// A change to a connection. Config and secrets merge key by key; `None` values remove.
#[derive(Debug, Default)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub config: BTreeMap<String, Option<String>>,
    pub secrets: BTreeMap<String, Option<String>>,
    pub max_in_flight: Option<u32>,
    /// `active` or `disabled`.
    pub status: Option<String>,
    /// The two-way chat switch, with who changes it ([`crate::chat_switch`]).
    pub chat: Option<crate::chat_switch::ChatChange>,
}

/// What a patch did, for the events and caches that follow it.
#[derive(Debug)]
pub struct Patched {
    pub record: ConnectionRecord,
    /// The connection waited for new credentials and got them.
    pub reconnected: bool,
    pub secrets_changed: bool,
}

pub struct Connection {
    pub id: String,
    pub workspace_id: String,
    pub channel: String,
    pub plugin: String,
    pub status: String,
    pub status_detail: Option<String>,
    pub max_in_flight: u32,
    /// For views: inbound messages read the setting from the store, in their own commit.
    pub chat: ChatSetting,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub ctx: Arc<ConnectionCtx>,
    pub in_flight: Arc<Semaphore>,
}

/// The connections in service, by id.
///
/// Two writers meet here: a request that just committed a change puts it in at once
/// ([`Connections::upsert`], [`Connections::remove`], [`Connections::set_status`]), and a reload
/// replaces the whole map with what the store held when it read it. A reload that read the
/// table just before a change committed must not undo that change when it lands after it (a
/// connection created on PostgreSQL was refused as unknown for one poll that way), so each
/// local change is numbered, and a reload keeps what was changed here after it began reading.
#[derive(Default)]
pub struct Connections {
    inner: RwLock<Inner>,
    /// One reload at a time, so an older read never lands after a newer one.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Arc<Connection>>,
    /// The number of the last local change.
    seq: u64,
    /// The ids changed locally, with the number of their last change.
    touched: HashMap<String, u64>,
}

impl Inner {
    fn touch(&mut self, id: &str) {
        self.seq += 1;
        self.touched.insert(id.to_string(), self.seq);
    }
}

impl Connections {
    /// Re-read every connection from the store and open its secrets. `public_url` is where
    /// providers reach us.
    pub async fn reload(
        &self,
        store: &Store,
        vault: &Vault,
        public_url: &str,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let began = self.read().seq;
        let records = store.connections().await?;
        let mut map = HashMap::new();
        for rec in records {
            let existing = self.get(&rec.id);
            let conn = build(rec, vault, public_url, existing.as_deref())?;
            map.insert(conn.id.clone(), Arc::new(conn));
        }
        self.replace(began, map);
        Ok(())
    }

    /// Put a freshly read map in service, keeping what was changed here after the read
    /// began (`began` is the local change number it began at).
    fn replace(&self, began: u64, mut map: HashMap<String, Arc<Connection>>) {
        let mut inner = self.write();
        // What changed here while the store was read is at least as new as what was read.
        let changed_since: Vec<String> = inner
            .touched
            .iter()
            .filter(|(_, seq)| **seq > began)
            .map(|(id, _)| id.clone())
            .collect();
        for id in changed_since {
            match inner.by_id.get(&id) {
                Some(conn) => map.insert(id, conn.clone()),
                None => map.remove(&id),
            };
        }
        inner.touched.retain(|_, seq| *seq > began);
        inner.by_id = map;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.read().by_id.get(id).cloned()
    }

    /// The workspace's connection for a channel: the oldest active one, else the oldest
    /// waiting for a reconnect (its messages are kept and fail `token_expired`, resendable
    /// after the reconnect, rather than being refused at the door).
    pub fn for_channel(&self, workspace_id: &str, channel: &str) -> Option<Arc<Connection>> {
        let inner = self.read();
        let mut found: Vec<_> = inner
            .by_id
            .values()
            .filter(|c| {
                c.workspace_id == workspace_id
                    && c.channel == channel
                    && (c.status == "active" || c.status == "needs_reconnect")
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.status != "active", &a.id).cmp(&(b.status != "active", &b.id)));
        found.into_iter().next()
    }

    /// Every connection of a workspace, sorted by id.
    pub fn in_workspace(&self, workspace_id: &str) -> Vec<Arc<Connection>> {
        let inner = self.read();
        let mut found: Vec<_> = inner
            .by_id
            .values()
            .filter(|c| c.workspace_id == workspace_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// Change a connection's status in memory after the store recorded it.
    pub fn set_status(&self, id: &str, status: &str, detail: Option<String>) {
        let mut inner = self.write();
        if let Some(old) = inner.by_id.get(id).cloned() {
            inner.by_id.insert(
                id.to_string(),
                Arc::new(Connection {
                    id: old.id.clone(),
                    workspace_id: old.workspace_id.clone(),
                    channel: old.channel.clone(),
                    plugin: old.plugin.clone(),
                    status: status.to_string(),
                    status_detail: detail,
                    max_in_flight: old.max_in_flight,
                    chat: old.chat.clone(),
                    created_at: old.created_at,
                    updated_at: crate::model::now_ms(),
                    ctx: old.ctx.clone(),
                    in_flight: old.in_flight.clone(),
                }),
            );
            inner.touch(id);
        }
    }

    /// Put a created or changed connection in service (or replace it) after the store
    /// recorded it.
    pub fn upsert(
        &self,
        rec: ConnectionRecord,
        vault: &Vault,
        public_url: &str,
    ) -> Result<(), StoreError> {
        let existing = self.get(&rec.id);
        let conn = build(rec, vault, public_url, existing.as_deref())?;
        let mut inner = self.write();
        inner.touch(&conn.id);
        inner.by_id.insert(conn.id.clone(), Arc::new(conn));
        Ok(())
    }

    /// Take a deleted connection out of service.
    pub fn remove(&self, id: &str) {
        let mut inner = self.write();
        inner.by_id.remove(id);
        inner.touch(id);
    }
}

pub fn webhook_url(public_url: &str, connection_id: &str) -> String {
    format!(
        "{}/v1/webhooks/{connection_id}",
        public_url.trim_end_matches('/')
    )
}

fn build(
    rec: ConnectionRecord,
    vault: &Vault,
    public_url: &str,
    existing: Option<&Connection>,
) -> Result<Connection, StoreError> {
    let secrets: BTreeMap<String, String> = vault
        .open_json(&secrets_owner(&rec.id), &rec.sealed_secrets)
        .map_err(|e| StoreError::Corrupt(format!("connection {} secrets: {e}", rec.id)))?;
    // Keep the semaphore across reloads so in-flight sends stay counted.
    let in_flight = existing
        .filter(|e| e.max_in_flight == rec.max_in_flight)
        .map(|e| e.in_flight.clone())
        .unwrap_or_else(|| Arc::new(Semaphore::new(rec.max_in_flight.max(1) as usize)));
    let ctx = ConnectionCtx {
        id: rec.id.clone(),
        name: rec.name.clone(),
        webhook_url: webhook_url(public_url, &rec.id),
        config: rec.config,
        secrets: secrets
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect(),
        allowed_origins: rec.allowed_origins,
    };
    Ok(Connection {
        id: rec.id,
        workspace_id: rec.workspace_id,
        channel: rec.channel,
        plugin: rec.plugin,
        status: rec.status,
        status_detail: rec.status_detail,
        max_in_flight: rec.max_in_flight,
        chat: rec.chat,
        created_at: rec.created_at,
        updated_at: rec.updated_at,
        ctx: Arc::new(ctx),
        in_flight,
    })
}

fn corrupt(e: impl std::fmt::Display) -> ConnectionsError {
    StoreError::Corrupt(e.to_string()).into()
}

/// Apply a patch. New secrets on a connection waiting for a reconnect make it active
/// again; `reconnected_at` lets a failure from an attempt that used the old credentials
/// lose against the reconnect ([`mark_needs_reconnect`]).
pub async fn patch(
    store: &Store,
    vault: Arc<Vault>,
    workspace_id: String,
    id: String,
    patch: ConnectionPatch,
) -> Result<Option<Patched>, ConnectionsError> {
    store
        .write(move |t| {
            let Some(mut rec) = store::live_connection(t, &workspace_id, &id)? else {
                return Ok(None);
            };
            let status_before = rec.status.clone();
            if let Some(name) = patch.name {
                rec.name = name;
            }
            for (k, v) in patch.config {
                match v {
                    Some(v) => rec.config.insert(k, v),
                    None => rec.config.remove(&k),
                };
            }
            let secrets_changed = !patch.secrets.is_empty();
            if secrets_changed {
                let owner = secrets_owner(&rec.id);
                let mut secrets: BTreeMap<String, String> = vault
                    .open_json(&owner, &rec.sealed_secrets)
                    .map_err(corrupt)?;
                for (k, v) in patch.secrets {
                    match v {
                        Some(v) => secrets.insert(k, v),
                        None => secrets.remove(&k),
                    };
                }
                rec.sealed_secrets = vault.seal_json(&owner, &secrets)?;
            }
            if let Some(n) = patch.max_in_flight {
                rec.max_in_flight = n;
            }
            let reconnected = secrets_changed && rec.status == "needs_reconnect";
            if reconnected {
                rec.status = "active".into();
                rec.status_detail = None;
            }
            if let Some(status) = patch.status {
                // Disabling wins; enabling a connection that waits for credentials does not
                // make the old credentials good again.
                if status == "disabled" || rec.status == "disabled" {
                    rec.status = status;
                    rec.status_detail = None;
                }
            }
            rec.updated_at = now_ms();
            let at = rec.updated_at;
            let chat_change = patch
                .chat
                .and_then(|ch| crate::chat_switch::apply(&mut rec, ch, at));
            store::update_connection(t, &rec, secrets_changed)?;
            if let Some(ch) = &chat_change {
                crate::chat_switch::record_change(t, &rec, ch)?;
            }
            if reconnected {
                crate::events::record_connection(t, &rec.id, "connection.reconnected", None)?;
            } else if rec.status != status_before {
                crate::events::record_connection(t, &rec.id, "connection.updated", None)?;
            }
            Ok(Some(Patched {
                record: rec,
                reconnected,
                secrets_changed,
            }))
        })
        .await
}

/// Seal rows written before sealing existed, and reseal rows sealed under an older
/// master key. Returns how many rows changed.
/// Soft-delete a connection (its row stays for the history of its messages, its secrets do
/// not), announcing it in the same commit.
pub async fn delete(store: &Store, workspace_id: String, id: String) -> Result<bool, StoreError> {
    store
        .write(move |t| {
            let deleted = store::soft_delete_connection(t, &workspace_id, &id, now_ms())?;
            if deleted {
                crate::events::record_connection(t, &id, "connection.updated", None)?;
            }
            Ok(deleted)
        })
        .await
}

/// The provider rejected the connection's credentials: stop using it until reconnected,
/// and say so. `attempt_started_at`: a reconnect after the failing attempt began wins, since
/// that attempt used the old credentials.
pub async fn mark_needs_reconnect(
    store: &Store,
    connection_id: String,
    detail: String,
    attempt_started_at: Millis,
) -> Result<bool, StoreError> {
    store
        .write(move |t| {
            let marked = store::set_needs_reconnect(
                t,
                &connection_id,
                &detail,
                now_ms(),
                attempt_started_at,
            )?;
            if marked {
                crate::events::record_connection(
                    t,
                    &connection_id,
                    "connection.needs_reconnect",
                    Some(&detail),
                )?;
            }
            Ok(marked)
        })
        .await
}

pub async fn reseal_secrets(store: &Store, vault: Arc<Vault>) -> Result<usize, ConnectionsError> {
    store
        .write(move |t| {
            let mut changed = 0;
            for (id, stored) in store::live_connection_secrets(t)? {
                if !vault.needs_reseal(&stored) {
                    continue;
                }
                let owner = secrets_owner(&id);
                let plain: BTreeMap<String, String> = if Vault::is_sealed(&stored) {
                    vault
                        .open_json(&owner, &stored)
                        .map_err(|e| corrupt(format!("connection {id}: {e}")))?
                } else {
                    // Never quote the row: it is plaintext secrets.
                    serde_json::from_str(&stored).map_err(|_| {
                        corrupt(format!(
                            "connection {id}: secrets are neither sealed nor JSON"
                        ))
                    })?
                };
                store::set_connection_secrets(t, &id, &vault.seal_json(&owner, &plain)?)?;
                changed += 1;
            }
            Ok(changed)
        })
        .await
}

#[cfg(test)]
#[path = "connections_tests.rs"]
mod tests;
