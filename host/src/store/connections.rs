//! Connection lifecycle beyond creation: a provider revoking the token (`needs_reconnect`),
//! the business reconnecting with new credentials, and the per-connection URL block list.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::{BlockedUrlView, Millis, now_ms, rfc3339};

/// Where a connection stands, for resend decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    pub status: String,
    pub reconnected_at: Option<Millis>,
}

impl Store {
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
            Ok(n > 0)
        })
        .await
    }

    /// New credentials (merged over the old ones) and the connection is active again.
    pub async fn reconnect(
        &self,
        workspace_id: String,
        connection_id: String,
        secrets: BTreeMap<String, String>,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            let current: Option<String> = t
                .prepare_cached(
                    "SELECT secrets FROM connections WHERE id = ?1 AND workspace_id = ?2",
                )?
                .query_row(params![connection_id, workspace_id], |r| r.get(0))
                .optional()?;
            let Some(current) = current else {
                return Ok(false);
            };
            let mut merged: BTreeMap<String, String> =
                serde_json::from_str(&current).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            merged.extend(secrets);
            let merged =
                serde_json::to_string(&merged).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let now = now_ms();
            t.prepare_cached(
                "UPDATE connections SET secrets = ?2, status = 'active', status_detail = NULL,
                    reconnected_at = ?3, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![connection_id, merged, now])?;
            Ok(true)
        })
        .await
    }

    /// Take a connection out of service (`disabled`) or back (`active`). Disabled
    /// connections are not routed to: a policy treats their channel as not set up.
    pub async fn set_connection_status(
        &self,
        workspace_id: String,
        connection_id: String,
        status: &'static str,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            Ok(t.prepare_cached(
                "UPDATE connections SET status = ?3, updated_at = ?4 WHERE id = ?1 AND workspace_id = ?2",
            )?
            .execute(params![connection_id, workspace_id, status, now_ms()])?
                > 0)
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

    pub async fn block_urls(
        &self,
        connection_id: String,
        urls: Vec<String>,
        reason: String,
        message_id: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            let now = now_ms();
            for url in &urls {
                t.prepare_cached(
                    "INSERT OR IGNORE INTO blocked_urls (connection_id, url, reason, message_id, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![connection_id, url, reason, message_id, now])?;
            }
            Ok(())
        })
        .await
    }

    pub async fn unblock_url(
        &self,
        connection_id: String,
        url: String,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            Ok(
                t.prepare_cached("DELETE FROM blocked_urls WHERE connection_id = ?1 AND url = ?2")?
                    .execute(params![connection_id, url])?
                    > 0,
            )
        })
        .await
    }

    /// Which of these URLs are on the connection's block list (one indexed lookup each).
    pub async fn blocked_among(
        &self,
        connection_id: String,
        urls: Vec<String>,
    ) -> Result<Vec<BlockedUrlView>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT url, reason, message_id, added_at FROM blocked_urls WHERE connection_id = ?1 AND url = ?2",
            )?;
            let mut found = Vec::new();
            for url in &urls {
                if let Some(v) = stmt
                    .query_row(params![connection_id, url], |r| {
                        Ok(BlockedUrlView {
                            url: r.get(0)?,
                            reason: r.get(1)?,
                            message_id: r.get(2)?,
                            added_at: rfc3339(r.get(3)?),
                        })
                    })
                    .optional()?
                {
                    found.push(v);
                }
            }
            Ok(found)
        })
        .await
    }

    pub async fn blocked_urls(
        &self,
        connection_id: String,
    ) -> Result<Vec<BlockedUrlView>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT url, reason, message_id, added_at FROM blocked_urls WHERE connection_id = ?1 ORDER BY added_at, url",
            )?
            .query_map([connection_id], |r| {
                Ok(BlockedUrlView {
                    url: r.get(0)?,
                    reason: r.get(1)?,
                    message_id: r.get(2)?,
                    added_at: rfc3339(r.get(3)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

/// The facts [`crate::resend::verdict`] decides on, read in the caller's transaction.
pub(super) fn resend_facts(
    c: &rusqlite::Connection,
    message_id: &str,
    connection_id: &str,
    address: Option<&super::AddressKey>,
    failed_at: Option<Millis>,
    urls: &[String],
) -> Result<crate::resend::ResendFacts, StoreError> {
    let last_inbound_at = match address {
        Some(k) => c
            .prepare_cached(
                "SELECT last_inbound_at FROM contact_addresses
                 WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
            )?
            .query_row(params![k.workspace_id, k.kind, k.scope, k.address], |r| {
                r.get::<_, Option<Millis>>(0)
            })
            .optional()?
            .flatten(),
        None => None,
    };
    let (status, reconnected_at) = c
        .prepare_cached("SELECT status, reconnected_at FROM connections WHERE id = ?1")?
        .query_row([connection_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<Millis>>(1)?))
        })
        .optional()?
        .unwrap_or_else(|| ("missing".into(), None));
    let mut blocked_urls = Vec::new();
    let mut stmt =
        c.prepare_cached("SELECT 1 FROM blocked_urls WHERE connection_id = ?1 AND url = ?2")?;
    for url in urls {
        if stmt.exists(params![connection_id, url])? {
            blocked_urls.push(url.clone());
        }
    }
    let resent_as = c
        .prepare_cached("SELECT id FROM messages WHERE resend_of = ?1 ORDER BY id LIMIT 1")?
        .query_row([message_id], |r| r.get::<_, String>(0))
        .optional()?;
    Ok(crate::resend::ResendFacts {
        failed_at,
        last_inbound_at,
        connection_active: status == "active",
        reconnected_at,
        blocked_urls,
        resent_as,
    })
}
