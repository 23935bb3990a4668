//! Channel connections: what a workspace connected (plugin, config, sealed secrets), their
//! health (`needs_reconnect` after a provider revoked the credentials) and reconnecting.
//!
//! The store never sees a secret in the clear: rows hold sealed bytes only. Sealing, opening
//! and the rules of a patch belong to [`crate::connections`], which runs them together with
//! the table functions here ([`live_connection`], [`update_connection`], ...) in one write,
//! so two concurrent PATCHes cannot lose each other's keys.

use std::collections::BTreeMap;

use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

use super::{Store, StoreError};
use crate::model::{ChatMode, ChatSetting, Millis, now_ms};

/// One connection as stored. `sealed_secrets` is the vault's envelope, never plaintext.
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
    /// The two-way chat switch and its auto-reply (a new connection is `two_way`).
    pub chat: ChatSetting,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Where a connection stands, for resend decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    pub status: String,
    pub reconnected_at: Option<Millis>,
}

const COLUMNS: &str = "id, workspace_id, channel, plugin, name, config, secrets, allowed_origins,
    max_in_flight, status, status_detail, created_at, updated_at, chat, chat_auto_reply";

fn record(r: &Row) -> crate::sql::Result<ConnectionRecord> {
    let json = |i: usize| -> crate::sql::Result<String> { r.get(i) };
    let parse_err = |i: usize, e: serde_json::Error| crate::sql::Error::conversion(i, e);
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
        chat: ChatSetting {
            mode: chat_mode(r, 13)?,
            auto_reply: r.get(14)?,
        },
    })
}

/// The `chat` column (the table's CHECK allows only the modes).
pub(crate) fn chat_mode(r: &Row, i: usize) -> crate::sql::Result<ChatMode> {
    let stored: String = r.get(i)?;
    ChatMode::parse(&stored)
        .ok_or_else(|| crate::sql::Error::conversion(i, format!("unknown chat mode `{stored}`")))
}

/// What a connection event says about the connection, from its row as it now stands.
#[derive(Debug, Clone)]
pub struct ConnectionSummary {
    pub workspace_id: String,
    pub plugin: String,
    pub channel: String,
    pub status: String,
    pub name: String,
}

pub fn connection_summary(t: &Transaction, id: &str) -> Result<ConnectionSummary, StoreError> {
    Ok(t.prepare_cached(
        "SELECT workspace_id, plugin, channel, status, name FROM connections WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok(ConnectionSummary {
            workspace_id: r.get(0)?,
            plugin: r.get(1)?,
            channel: r.get(2)?,
            status: r.get(3)?,
            name: r.get(4)?,
        })
    })?)
}

/// Soft-delete: the row stays for the history of its messages, the secrets do not.
pub fn soft_delete_connection(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let n = t
        .prepare_cached(
            "UPDATE connections SET deleted_at = ?3, status = 'deleted', secrets = '', updated_at = ?3
             WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
        )?
        .execute(params![id, workspace_id, now])?;
    Ok(n > 0)
}

/// An active connection becomes `needs_reconnect`, unless it was reconnected at or after
/// `unless_reconnected_since`.
pub fn set_needs_reconnect(
    t: &Transaction,
    connection_id: &str,
    detail: &str,
    now: Millis,
    unless_reconnected_since: Millis,
) -> Result<bool, StoreError> {
    let n = t
        .prepare_cached(
            "UPDATE connections SET status = 'needs_reconnect', status_detail = ?2, updated_at = ?3
             WHERE id = ?1 AND status = 'active'
               AND (reconnected_at IS NULL OR reconnected_at < ?4)",
        )?
        .execute(params![
            connection_id,
            detail,
            now,
            unless_reconnected_since
        ])?;
    Ok(n > 0)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A live connection of this workspace, read in the caller's transaction (a patch reads,
/// merges and writes it back in one write).
pub fn live_connection(
    c: &Connection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ConnectionRecord>, StoreError> {
    Ok(c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM connections WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL"
        ))?
        .query_row(params![id, workspace_id], record)
        .optional()?)
}

/// Write back a connection's changeable columns, as of `rec.updated_at`. `new_credentials`
/// stamps `reconnected_at`, so a failure from an attempt that used the old credentials loses
/// against it (`connections::mark_needs_reconnect`).
pub fn update_connection(
    t: &Transaction,
    rec: &ConnectionRecord,
    new_credentials: bool,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE connections SET name = ?2, config = ?3, secrets = ?4, max_in_flight = ?5, status = ?6,
            status_detail = ?7, updated_at = ?8,
            reconnected_at = CASE WHEN CAST(?9 AS BIGINT) <> 0 THEN ?8 ELSE reconnected_at END,
            chat = ?10, chat_auto_reply = ?11
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
        rec.updated_at,
        new_credentials,
        rec.chat.mode.as_str(),
        rec.chat.auto_reply,
    ])?;
    Ok(())
}

/// `(id, stored secrets)` of every live connection, for resealing.
pub fn live_connection_secrets(t: &Transaction) -> Result<Vec<(String, String)>, StoreError> {
    Ok(
        t.prepare("SELECT id, secrets FROM connections WHERE deleted_at IS NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?,
    )
}

pub fn set_connection_secrets(t: &Transaction, id: &str, sealed: &str) -> Result<(), StoreError> {
    t.execute(
        "UPDATE connections SET secrets = ?2 WHERE id = ?1",
        params![id, sealed],
    )?;
    Ok(())
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
            if reasons.is_empty() {
                return Ok(Vec::new());
            }
            // One placeholder per reason: a list parameter is the one thing the two SQL
            // dialects spell differently.
            let list = (0..reasons.len())
                .map(|i| format!("?{}", i + 4))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                // From the connection's failed deliveries (`deliveries_failed`, a partial index),
                // not from the workspace's messages: a connection with 100,000 sent messages
                // and no failure answers at once.
                "SELECT m.id FROM messages m
                 WHERE m.id IN (SELECT d.message_id FROM deliveries d
                                WHERE d.connection_id = ?2 AND d.status = 'failed' AND d.failure_reason IN ({list}))
                   AND m.workspace_id = ?1 AND m.status = 'failed'
                   AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.resend_of = m.id)
                 ORDER BY m.created_at, m.id LIMIT ?3"
            );
            let mut values: Vec<&dyn crate::sql::ToSql> = vec![&workspace_id, &connection_id, &limit];
            values.extend(reasons.iter().map(|r| r as &dyn crate::sql::ToSql));
            Ok(c.prepare(&sql)?
            .query_map(values.as_slice(), |r| r.get(0))?
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
