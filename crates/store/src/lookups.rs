//! Deliveries waiting at `sent` whose provider should be asked for their status (see
//! [`crate::status_lookup`]).

use crate::sql::params;

use super::{Store, StoreError};
use crate::model::Millis;

/// A delivery due for a status lookup.
#[derive(Debug, Clone)]
pub struct DueLookup {
    pub delivery_id: String,
    pub connection_id: String,
    pub provider_message_id: String,
    /// Lookups already made.
    pub lookups: u32,
}

/// What became of one lookup: when to ask again, or never.
#[derive(Debug, Clone)]
pub struct LookupDone {
    pub delivery_id: String,
    pub next_at: Option<Millis>,
}

impl Store {
    /// Deliveries at `sent` unchanged since `stale_before`, due (`lookup_at` passed) and with
    /// fewer than `max_lookups` tries, oldest first.
    pub async fn due_status_lookups(
        &self,
        stale_before: Millis,
        now: Millis,
        max_lookups: u32,
        limit: usize,
    ) -> Result<Vec<DueLookup>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, connection_id, provider_message_id, lookups FROM deliveries
                 WHERE status = 'sent' AND updated_at <= ?1
                   AND provider_message_id IS NOT NULL AND lookups < ?3
                   AND (lookup_at IS NULL OR lookup_at <= ?2)
                 ORDER BY updated_at LIMIT ?4",
            )?;
            let rows =
                stmt.query_map(params![stale_before, now, max_lookups, limit as i64], |r| {
                    Ok(DueLookup {
                        delivery_id: r.get(0)?,
                        connection_id: r.get(1)?,
                        provider_message_id: r.get(2)?,
                        lookups: r.get(3)?,
                    })
                })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Count each lookup and schedule the next; `None` stops asking (`lookups` jumps to
    /// `max_lookups`), for a channel that cannot be asked or an answer that will not change.
    pub async fn record_status_lookups(
        &self,
        done: Vec<LookupDone>,
        max_lookups: u32,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            let mut stmt = t.prepare_cached(
                "UPDATE deliveries SET
                    lookups = CASE WHEN CAST(?2 AS BIGINT) IS NULL
                                   THEN CASE WHEN lookups > ?3 THEN lookups ELSE ?3 END
                                   ELSE lookups + 1 END,
                    lookup_at = ?2
                 WHERE id = ?1",
            )?;
            for d in &done {
                stmt.execute(params![d.delivery_id, d.next_at, max_lookups])?;
            }
            Ok(())
        })
        .await
    }
}
