//! Channel connections: what a workspace connected (plugin, config, sealed secrets), their
//! health (`needs_reconnect` after a provider revoked the credentials) and reconnecting.
//!
//! The store never sees a secret in the clear: rows hold the [`Vault`] envelope, and updates
//! that merge secrets open and reseal inside the write transaction, so two concurrent
//! PATCHes cannot lose each other's keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::model::{Millis, now_ms};
use crate::vault::Vault;

/// One connection as stored. `sealed_secrets` opens with the vault, owner [`secrets_owner`].
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    pub id: String,
    pub workspace_id: String,
    pub channel: String,
    pub plugin: String,
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub sealed_secrets: String,
    /// Origins the operator allow-listed for this connection (the sandbox's simulators).
    pub allowed_origins: Vec<String>,
    pub max_in_flight: u32,
    pub status: String,
    pub status_detail: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The associated data a connection's secrets are sealed under.
pub fn secrets_owner(connection_id: &str) -> String {
    format!("connection:{connection_id}")
}

/// Where a connection stands, for resend decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    pub status: String,
    pub reconnected_at: Option<Millis>,
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
}

/// What a patch did, for the events and caches that follow it.
#[derive(Debug)]
pub struct Patched {
    pub record: ConnectionRecord,
    /// The connection waited for new credentials and got them.
    pub reconnected: bool,
    pub secrets_changed: bool,
}

const COLUMNS: &str = "id, workspace_id, channel, plugin, name, config, secrets, allowed_origins,
    max_in_flight, status, status_detail, created_at, updated_at";

fn record(r: &Row) -> rusqlite::Result<ConnectionRecord> {
    let json = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let parse_err = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    Ok(ConnectionRecord {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        channel: r.get(2)?,
        plugin: r.get(3)?,
        name: r.get(4)?,
        config: serde_json::from_str(&json(5)?).map_err(|e| parse_err(5, e))?,
        sealed_secrets: r.get(6)?,
        allowed_origins: serde_json::from_str(&json(7)?).map_err(|e| parse_err(7, e))?,
        max_in_flight: r.get(8)?,
        status: r.get(9)?,
        status_detail: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// A connection health event, from the connection's row as it now stands.
fn connection_event(
    t: &rusqlite::Transaction,
    id: &str,
    kind: &'static str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let (ws, plugin, channel, status, name): (String, String, String, String, String) = t
        .prepare_cached(
            "SELECT workspace_id, plugin, channel, status, name FROM connections WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    let mut data = serde_json::json!({
        "connection_id": id, "name": name, "plugin": plugin, "channel": channel, "status": status,
    });
    if let Some(d) = detail {
        data["detail"] = d.into();
    }
    Ok(crate::events::record(t, &ws, kind, now_ms(), data)?)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Store {
    /// Insert a new connection, or (for the sandbox's fixed ids) replace one.
    pub async fn put_connection(
        &self,
        rec: ConnectionRecord,
        replace: bool,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            let sql = if replace {
                "INSERT INTO connections (id, workspace_id, channel, plugin, name, config, secrets, allowed_origins,
                    max_in_flight, status, status_detail, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?11)
                 ON CONFLICT(id) DO UPDATE SET channel = excluded.channel, plugin = excluded.plugin, name = excluded.name,
                    config = excluded.config, secrets = excluded.secrets, allowed_origins = excluded.allowed_origins,
                    max_in_flight = excluded.max_in_flight, status = excluded.status, updated_at = excluded.updated_at,
                    deleted_at = NULL"
            } else {
                "INSERT INTO connections (id, workspace_id, channel, plugin, name, config, secrets, allowed_origins,
                    max_in_flight, status, status_detail, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, ?11)"
            };
            t.execute(
                sql,
                params![
                    rec.id,
                    rec.workspace_id,
                    rec.channel,
                    rec.plugin,
                    rec.name,
                    to_json(&rec.config),
                    rec.sealed_secrets,
                    to_json(&rec.allowed_origins),
                    rec.max_in_flight,
                    rec.status,
                    now_ms()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Every connection not deleted.
    pub async fn connections(&self) -> Result<Vec<ConnectionRecord>, StoreError> {
        self.read(|c| {
            Ok(c.prepare(&format!(
                "SELECT {COLUMNS} FROM connections WHERE deleted_at IS NULL ORDER BY id"
            ))?
            .query_map([], record)?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Apply a patch. New secrets on a connection waiting for a reconnect make it active
    /// again; `reconnected_at` lets a failure from an attempt that used the old credentials
    /// lose against the reconnect ([`Store::mark_needs_reconnect`]).
    pub async fn patch_connection(
        &self,
        workspace_id: String,
        id: String,
        patch: ConnectionPatch,
        vault: Arc<Vault>,
    ) -> Result<Option<Patched>, StoreError> {
        self.write(move |t| {
            let Some(mut rec) = t
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM connections WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL"
                ))?
                .query_row(params![id, workspace_id], record)
                .optional()?
            else {
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
                let mut secrets: BTreeMap<String, String> =
                    vault.open_json(&owner, &rec.sealed_secrets).map_err(corrupt)?;
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
            let now = now_ms();
            rec.updated_at = now;
            t.prepare_cached(
                "UPDATE connections SET name = ?2, config = ?3, secrets = ?4, max_in_flight = ?5, status = ?6,
                    status_detail = ?7, updated_at = ?8,
                    reconnected_at = CASE WHEN ?9 THEN ?8 ELSE reconnected_at END
                 WHERE id = ?1",
            )?
            .execute(params![
                rec.id,
                rec.name,
                to_json(&rec.config),
                rec.sealed_secrets,
                rec.max_in_flight,
                rec.status,
                rec.status_detail,
                now,
                secrets_changed,
            ])?;
            let before = status_before;
            if reconnected {
                connection_event(t, &rec.id, "connection.reconnected", None)?;
            } else if rec.status != before {
                connection_event(t, &rec.id, "connection.updated", None)?;
            }
            Ok(Some(Patched {
                record: rec,
                reconnected,
                secrets_changed,
            }))
        })
        .await
    }

    /// Soft-delete: the row stays for the history of its messages, the secrets do not.
    pub async fn delete_connection(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            let n = t
                .prepare_cached(
                    "UPDATE connections SET deleted_at = ?3, status = 'deleted', secrets = '', updated_at = ?3
                     WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
                )?
                .execute(params![id, workspace_id, now_ms()])?;
            if n > 0 {
                connection_event(t, &id, "connection.updated", None)?;
            }
            Ok(n > 0)
        })
        .await
    }

    /// Seal rows written before sealing existed, and reseal rows sealed under an older
    /// master key. Returns how many rows changed.
    pub async fn reseal_connection_secrets(&self, vault: Arc<Vault>) -> Result<usize, StoreError> {
        self.write(move |t| {
            let rows: Vec<(String, String)> = t
                .prepare("SELECT id, secrets FROM connections WHERE deleted_at IS NULL")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut changed = 0;
            for (id, stored) in rows {
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
                t.execute(
                    "UPDATE connections SET secrets = ?2 WHERE id = ?1",
                    params![id, vault.seal_json(&owner, &plain)?],
                )?;
                changed += 1;
            }
            Ok(changed)
        })
        .await
    }

    /// The provider rejected the connection's credentials: stop using it until reconnected.
    /// `attempt_started_at`: a reconnect after the failing attempt began wins, since that
    /// attempt used the old credentials.
    pub async fn mark_needs_reconnect(
        &self,
        connection_id: String,
        detail: String,
        attempt_started_at: Millis,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            let n = t
                .prepare_cached(
                    "UPDATE connections SET status = 'needs_reconnect', status_detail = ?2, updated_at = ?3
                     WHERE id = ?1 AND status = 'active'
                       AND (reconnected_at IS NULL OR reconnected_at < ?4)",
                )?
                .execute(params![connection_id, detail, now_ms(), attempt_started_at])?;
            if n > 0 {
                connection_event(t, &connection_id, "connection.needs_reconnect", Some(&detail))?;
            }
            Ok(n > 0)
        })
        .await
    }

    /// Failed, not yet resent messages whose last delivery on this connection failed with
    /// one of `reasons`, oldest first: the candidates of a bulk resend.
    pub async fn failed_on_connection(
        &self,
        workspace_id: String,
        connection_id: String,
        reasons: Vec<String>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let reasons = serde_json::to_string(&reasons).map_err(corrupt)?;
            Ok(c.prepare(
                "SELECT m.id FROM messages m JOIN deliveries d ON d.message_id = m.id
                 WHERE m.workspace_id = ?1 AND d.connection_id = ?2 AND m.status = 'failed' AND d.status = 'failed'
                   AND d.failure_reason IN (SELECT value FROM json_each(?3))
                   AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.resend_of = m.id)
                 GROUP BY m.id ORDER BY m.created_at, m.id LIMIT ?4",
            )?
            .query_map(params![workspace_id, connection_id, reasons, limit], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn connection_state(
        &self,
        connection_id: String,
    ) -> Result<Option<ConnectionState>, StoreError> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT status, reconnected_at FROM connections WHERE id = ?1")?
                    .query_row([connection_id], |r| {
                        Ok(ConnectionState {
                            status: r.get(0)?,
                            reconnected_at: r.get(1)?,
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }
}
