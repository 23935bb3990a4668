//! Dead letters: failed messages whose delivery ran out of attempts on a retryable failure
//! (`deliveries.exhausted`), not yet resent. What a redrive resends; the rule that a message
//! is resent at most once is the unique index on `messages.resend_of`.

use crate::sql::params;
use crate::{Store, StoreError};

/// Which dead letters a redrive takes.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    /// Created at or after (ms).
    pub created_from: Option<i64>,
    /// Created before (ms).
    pub created_to: Option<i64>,
    pub channel: Option<String>,
    /// The connection the exhausted delivery was on.
    pub connection: Option<String>,
    /// The exhausted delivery's last failure reason (`rate_limited`, `timeout`, ...).
    pub reason: Option<String>,
}

impl Store {
    /// Oldest first, so a redrive in pages works through the backlog in order.
    pub async fn dead_letters(
        &self,
        workspace_id: String,
        filter: DeadLetterFilter,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            // From the exhausted deliveries (`deliveries_exhausted`, a partial index), not
            // from the workspace's messages.
            let mut stmt = c.prepare_cached(
                "SELECT m.id FROM messages m
                 WHERE m.id IN (SELECT d.message_id FROM deliveries d
                                WHERE d.exhausted = 1
                                  AND (CAST(?2 AS TEXT) IS NULL OR d.connection_id = ?2)
                                  AND (CAST(?3 AS TEXT) IS NULL OR d.failure_reason = ?3))
                   AND m.workspace_id = ?1 AND m.status = 'failed'
                   AND (CAST(?4 AS TEXT) IS NULL OR m.channel = ?4)
                   AND (CAST(?5 AS BIGINT) IS NULL OR m.created_at >= ?5)
                   AND (CAST(?6 AS BIGINT) IS NULL OR m.created_at < ?6)
                   AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.resend_of = m.id)
                 ORDER BY m.created_at, m.id LIMIT ?7",
            )?;
            let ids = stmt
                .query_map(
                    params![
                        workspace_id,
                        filter.connection,
                        filter.reason,
                        filter.channel,
                        filter.created_from,
                        filter.created_to,
                        limit as i64
                    ],
                    |r| r.get(0),
                )?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
        .await
    }
}
