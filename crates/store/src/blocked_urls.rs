//! The per-connection URL block list: URLs a provider flagged (or the workspace listed) are
//! refused up front, and messages that failed `url_blocked` become resendable once their URL
//! is taken off.

use crate::sql::{Connection, OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::{BlockedUrlView, now_ms, rfc3339};

impl Store {
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
                    "INSERT INTO blocked_urls (connection_id, url, reason, message_id, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
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
        self.read(move |c| blocked_among(c, &connection_id, &urls))
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

/// [`Store::blocked_among`] on the caller's connection.
pub fn blocked_among(
    c: &Connection,
    connection_id: &str,
    urls: &[String],
) -> Result<Vec<BlockedUrlView>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT url, reason, message_id, added_at FROM blocked_urls WHERE connection_id = ?1 AND url = ?2",
    )?;
    let mut found = Vec::new();
    for url in urls {
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
}
