//! Channel connections held in memory: the dispatcher and webhook handler look one up per
//! message, so this must not cost a database read. Each connection carries its own in-flight
//! limit, so one slow provider cannot take every dispatch slot.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Semaphore;

use crate::model::Millis;
use crate::runtime::{ConnectionCtx, Secret};
use crate::store::{ConnectionRecord, Store, StoreError, secrets_owner};
use crate::vault::Vault;

pub struct Connection {
    pub id: String,
    pub workspace_id: String,
    pub channel: String,
    pub plugin: String,
    pub status: String,
    pub status_detail: Option<String>,
    pub max_in_flight: u32,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub ctx: Arc<ConnectionCtx>,
    pub in_flight: Arc<Semaphore>,
}

#[derive(Default)]
pub struct Connections {
    by_id: RwLock<HashMap<String, Arc<Connection>>>,
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
        let records = store.connections().await?;
        let mut map = HashMap::new();
        for rec in records {
            let existing = self.get(&rec.id);
            let conn = build(rec, vault, public_url, existing.as_deref())?;
            map.insert(conn.id.clone(), Arc::new(conn));
        }
        *self.by_id.write().unwrap_or_else(|p| p.into_inner()) = map;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The workspace's connection for a channel: the oldest active one, else the oldest
    /// waiting for a reconnect (its messages are kept and fail `token_expired`, resendable
    /// after the reconnect, rather than being refused at the door).
    pub fn for_channel(&self, workspace_id: &str, channel: &str) -> Option<Arc<Connection>> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut found: Vec<_> = map
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
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut found: Vec<_> = map
            .values()
            .filter(|c| c.workspace_id == workspace_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// Change a connection's status in memory after the store recorded it.
    pub fn set_status(&self, id: &str, status: &str, detail: Option<String>) {
        let mut map = self.by_id.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = map.get(id).cloned() {
            map.insert(
                id.to_string(),
                Arc::new(Connection {
                    id: old.id.clone(),
                    workspace_id: old.workspace_id.clone(),
                    channel: old.channel.clone(),
                    plugin: old.plugin.clone(),
                    status: status.to_string(),
                    status_detail: detail,
                    max_in_flight: old.max_in_flight,
                    created_at: old.created_at,
                    updated_at: crate::model::now_ms(),
                    ctx: old.ctx.clone(),
                    in_flight: old.in_flight.clone(),
                }),
            );
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
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(conn.id.clone(), Arc::new(conn));
        Ok(())
    }

    /// Take a deleted connection out of service.
    pub fn remove(&self, id: &str) {
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
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
    let secrets: std::collections::BTreeMap<String, String> = vault
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
        created_at: rec.created_at,
        updated_at: rec.updated_at,
        ctx: Arc::new(ctx),
        in_flight,
    })
}
