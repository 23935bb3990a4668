//! Workspaces, their API keys and their channel connections.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::model::now_ms;

/// API keys are stored as SHA-256 digests: a leaked database file does not leak keys.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(Clone)]
pub struct ConnectionRecord {
    pub id: String,
    pub workspace_id: String,
    pub channel: String,
    pub plugin: String,
    pub name: String,
    pub config: BTreeMap<String, String>,
    /// Plain values in memory only; never serialised into API answers or logs.
    pub secrets: BTreeMap<String, String>,
    pub allowed_origins: Vec<String>,
    pub max_in_flight: u32,
    pub status: String,
}

/// Secret values are redacted: a stray `{:?}` must not put a token in a log line.
impl std::fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRecord")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("channel", &self.channel)
            .field("plugin", &self.plugin)
            .field("name", &self.name)
            .field("config", &self.config)
            .field(
                "secrets",
                &self
                    .secrets
                    .keys()
                    .map(|k| (k, "***"))
                    .collect::<BTreeMap<_, _>>(),
            )
            .field("allowed_origins", &self.allowed_origins)
            .field("max_in_flight", &self.max_in_flight)
            .field("status", &self.status)
            .finish()
    }
}

impl Store {
    pub async fn ensure_workspace(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let (id, name) = (id.to_string(), name.to_string());
        self.write(move |t| {
            t.execute(
                "INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
                params![id, name, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Add a key. `scope` is `full` (everything but billing) or `billing` (only
    /// `/v1/billing`): billing staff get keys that cannot send, and senders cannot read money.
    pub async fn add_api_key(
        &self,
        workspace_id: &str,
        key: &str,
        scope: &str,
    ) -> Result<(), StoreError> {
        let (ws, hash, prefix, scope) = (
            workspace_id.to_string(),
            hash_api_key(key),
            key.chars().take(12).collect::<String>(),
            scope.to_string(),
        );
        self.write(move |t| {
            t.execute(
                "INSERT OR IGNORE INTO api_keys (key_hash, workspace_id, prefix, created_at, scope) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, ws, prefix, now_ms(), scope],
            )?;
            Ok(())
        })
        .await
    }

    /// The workspace a key belongs to and the key's scope, if the key exists.
    pub async fn workspace_for_key(
        &self,
        key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let hash = hash_api_key(key);
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT workspace_id, scope FROM api_keys WHERE key_hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
        .await
    }

    pub async fn upsert_connection(&self, rec: ConnectionRecord) -> Result<(), StoreError> {
        self.write(move |t| {
            let now = now_ms();
            t.execute(
                "INSERT INTO connections (id, workspace_id, channel, plugin, name, config, secrets, allowed_origins,
                    max_in_flight, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
                 ON CONFLICT(id) DO UPDATE SET channel = excluded.channel, plugin = excluded.plugin, name = excluded.name,
                    config = excluded.config, secrets = excluded.secrets, allowed_origins = excluded.allowed_origins,
                    max_in_flight = excluded.max_in_flight, status = excluded.status, updated_at = excluded.updated_at",
                params![
                    rec.id,
                    rec.workspace_id,
                    rec.channel,
                    rec.plugin,
                    rec.name,
                    to_json(&rec.config),
                    to_json(&rec.secrets),
                    to_json(&rec.allowed_origins),
                    rec.max_in_flight,
                    rec.status,
                    now
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn connections(&self) -> Result<Vec<ConnectionRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, workspace_id, channel, plugin, name, config, secrets, allowed_origins, max_in_flight, status
                 FROM connections ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, u32>(8)?,
                    r.get::<_, String>(9)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, workspace_id, channel, plugin, name, config, secrets, origins, max_in_flight, status) = row?;
                let parse = |what: &str, s: &str| StoreError::Corrupt(format!("connection {id} {what}: {s}"));
                out.push(ConnectionRecord {
                    config: serde_json::from_str(&config).map_err(|e| parse("config", &e.to_string()))?,
                    secrets: serde_json::from_str(&secrets).map_err(|e| parse("secrets", &e.to_string()))?,
                    allowed_origins: serde_json::from_str(&origins).map_err(|e| parse("allowed_origins", &e.to_string()))?,
                    id,
                    workspace_id,
                    channel,
                    plugin,
                    name,
                    max_in_flight,
                    status,
                });
            }
            Ok(out)
        })
        .await
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
