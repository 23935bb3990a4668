//! From committed events to deliveries: the fan-out, claims and attempts, replay, the event
//! listing and pruning.

use std::collections::HashMap;

use switchboard_store::sql::{OptionalExtension, params};

use super::{AttemptResult, AttemptView, DeliveryView, DueDelivery, live_endpoint_column};
use crate::EventView;
use crate::model::{Millis, new_id, now_ms, rfc3339};
use crate::store::StoreError;

/// Whether an endpoint's stored type list covers `kind` (an empty list covers every type). A
/// list that does not parse covers nothing: an unreadable row must not turn into a
/// subscription to everything.
fn subscribed(types_json: &str, kind: &str) -> bool {
    serde_json::from_str::<Vec<String>>(types_json)
        .is_ok_and(|types| types.is_empty() || types.iter().any(|t| t == kind))
}

impl super::EventLog {
    /// Whether events committed since the last fan-out (a read: most polls find none).
    pub async fn events_waiting(&self) -> Result<bool, StoreError> {
        self.store
            .read(|c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM workspace_events
                   WHERE seq > (SELECT seq FROM workspace_event_cursor WHERE id = 1))",
                )?
                .query_row([], |r| r.get(0))?)
            })
            .await
    }

    /// Turn new events into deliveries, in commit order. Returns how many events were read.
    pub async fn fan_out_events(&self, limit: u32) -> Result<usize, StoreError> {
        self.store.write(move |t| {
            let cursor: i64 = t.query_row("SELECT seq FROM workspace_event_cursor WHERE id = 1", [], |r| r.get(0))?;
            type Event = (i64, String, String, String, Option<String>);
            let events: Vec<Event> = t
                .prepare_cached(
                    "SELECT seq, id, workspace_id, type, endpoint_id FROM workspace_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![cursor, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<_, _>>()?;
            let Some(last) = events.last().map(|e| e.0) else { return Ok(0) };
            let now = now_ms();
            let mut endpoints: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for (_, event_id, ws, kind, only) in &events {
                if !endpoints.contains_key(ws) {
                    let list = t
                        .prepare_cached(
                            "SELECT id, event_types FROM webhook_endpoints WHERE workspace_id = ?1 AND deleted_at IS NULL AND status = 'enabled'",
                        )?
                        .query_map([ws], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                    endpoints.insert(ws.clone(), list);
                }
                for (endpoint_id, types) in &endpoints[ws] {
                    // An event meant for one endpoint goes there whatever it subscribes to,
                    // and nowhere else.
                    let wanted = match only {
                        Some(only) => only == endpoint_id,
                        None => subscribed(types, kind),
                    };
                    if wanted {
                        insert_delivery(t, endpoint_id, event_id, ws, false, now)?;
                    }
                }
            }
            t.execute("UPDATE workspace_event_cursor SET seq = ?1 WHERE id = 1", [last])?;
            Ok(events.len())
        })
        .await
    }

    /// Claim due deliveries for one attempt each. The claim pushes `next_attempt_at` out by
    /// `lease_ms`, so a crash mid-attempt retries after the lease instead of losing it.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: u32,
        lease_ms: Millis,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.store.write(move |t| {
            let now = now_ms();
            let due: Vec<DueDelivery> = t
                .prepare_cached(
                    "SELECT d.id, d.endpoint_id, e.url, e.secret, CASE WHEN e.previous_until > ?1 THEN e.previous_secret END,
                            d.event_id, ev.payload, d.attempts
                     FROM webhook_deliveries d
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id
                     JOIN workspace_events ev ON ev.id = d.event_id
                     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND e.status = 'enabled' AND e.deleted_at IS NULL
                     ORDER BY d.next_attempt_at LIMIT ?2 /* FOR UPDATE OF d SKIP LOCKED */",
                )?
                .query_map(params![now, limit], |r| {
                    Ok(DueDelivery {
                        id: r.get(0)?,
                        endpoint_id: r.get(1)?,
                        url: r.get(2)?,
                        sealed_secret: r.get(3)?,
                        sealed_previous: r.get(4)?,
                        event_id: r.get(5)?,
                        payload: r.get(6)?,
                        attempts: r.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            for d in &due {
                t.prepare_cached("UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1")?
                    .execute(params![d.id, now + lease_ms])?;
            }
            Ok(due)
        })
        .await
    }

    /// Record attempts. A success clears the endpoint's failure run; a failure starts one,
    /// and an endpoint whose run has lasted `disable_after_ms` is disabled.
    pub async fn record_webhook_attempts(
        &self,
        results: Vec<AttemptResult>,
        disable_after_ms: Millis,
    ) -> Result<Vec<String>, StoreError> {
        self.store.write(move |t| {
            let mut disabled = Vec::new();
            for a in &results {
                t.prepare_cached(
                    "INSERT INTO webhook_attempts (delivery_id, number, at, status, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(params![a.delivery_id, a.number, a.at, a.status, a.error, a.duration_ms])?;
                let state = if a.ok { "delivered" } else if a.retry_at.is_some() { "pending" } else { "failed" };
                t.prepare_cached(
                    "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_status = ?5, last_error = ?6, updated_at = ?7
                     WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![a.delivery_id, state, a.number, if a.ok { None } else { a.retry_at }, a.status, a.error, a.at])?;
                if a.ok {
                    t.prepare_cached("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?1")?
                        .execute([&a.endpoint_id])?;
                    continue;
                }
                t.prepare_cached("UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1")?
                    .execute(params![a.endpoint_id, a.at])?;
                let n = t
                    .prepare_cached(
                        "UPDATE webhook_endpoints SET status = 'disabled', status_detail = ?3, updated_at = ?2
                         WHERE id = ?1 AND status = 'enabled' AND failing_since <= CAST(?2 AS BIGINT) - ?4",
                    )?
                    .execute(params![
                        a.endpoint_id,
                        a.at,
                        format!(
                            "disabled after every attempt failed for {} hours; last: {}",
                            disable_after_ms / 3_600_000,
                            a.error.clone().unwrap_or_else(|| format!("HTTP {}", a.status.unwrap_or(0)))
                        ),
                        disable_after_ms
                    ])?;
                if n > 0 {
                    disabled.push(a.endpoint_id.clone());
                }
            }
            Ok(disabled)
        })
        .await
    }

    /// When the next delivery is due, for the worker's sleep.
    pub async fn next_webhook_due(&self) -> Result<Option<Millis>, StoreError> {
        self.store
            .read(|c| {
                Ok(c.prepare_cached(
                    "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'",
                )?
                .query_row([], |r| r.get(0))?)
            })
            .await
    }

    pub async fn webhook_deliveries(
        &self,
        workspace_id: String,
        endpoint_id: String,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, StoreError> {
        self.store.read(move |c| {
            let mut out: Vec<DeliveryView> = c
                .prepare(
                    "SELECT d.id, d.event_id, ev.type, d.state, d.replay, d.next_attempt_at, d.created_at
                     FROM webhook_deliveries d JOIN workspace_events ev ON ev.id = d.event_id
                     WHERE d.endpoint_id = ?1 AND d.workspace_id = ?2 ORDER BY d.created_at DESC, d.id DESC LIMIT ?3",
                )?
                .query_map(params![endpoint_id, workspace_id, limit], |r| {
                    let state: String = r.get(3)?;
                    Ok(DeliveryView {
                        id: r.get(0)?,
                        event_id: r.get(1)?,
                        event_type: r.get(2)?,
                        replay: r.get(4)?,
                        next_attempt_at: r.get::<_, Option<Millis>>(5)?.filter(|_| state == "pending").map(rfc3339),
                        state,
                        created_at: rfc3339(r.get(6)?),
                        attempts: Vec::new(),
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut stmt = c.prepare_cached(
                "SELECT number, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY number",
            )?;
            for d in &mut out {
                d.attempts = stmt
                    .query_map([&d.id], |r| {
                        Ok(AttemptView {
                            number: r.get(0)?,
                            at: rfc3339(r.get(1)?),
                            status: r.get(2)?,
                            error: r.get(3)?,
                            duration_ms: r.get(4)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?;
            }
            Ok(out)
        })
        .await
    }

    /// Deliver stored events to an endpoint again: those in `[since, until)`, or one event,
    /// optionally only those whose last delivery there failed. Returns how many were queued.
    pub async fn replay_events(
        &self,
        workspace_id: String,
        endpoint_id: String,
        range: ReplayRange,
    ) -> Result<Option<usize>, StoreError> {
        self.store.write(move |t| {
            let types: Option<String> =
                live_endpoint_column(t, &workspace_id, &endpoint_id, "event_types")?;
            let Some(types) = types else { return Ok(None) };
            let events: Vec<(String, String, Option<String>)> = t
                .prepare(
                    "SELECT ev.id, ev.type, ev.endpoint_id FROM workspace_events ev
                     WHERE ev.workspace_id = ?1 AND ev.created_at >= ?2 AND ev.created_at < ?3
                       AND (ev.endpoint_id IS NULL OR ev.endpoint_id = ?6)
                       AND (CAST(?4 AS TEXT) IS NULL OR ev.id = ?4)
                       AND (?5 = 0 OR EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.endpoint_id = ?6 AND d.state = 'failed')
                                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.endpoint_id = ?6 AND d.state IN ('delivered', 'pending')))
                     ORDER BY ev.seq LIMIT ?7",
                )?
                .query_map(
                    params![workspace_id, range.since, range.until, range.event_id, range.only_failed, endpoint_id, range.limit],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
                .collect::<Result<_, _>>()?;
            let now = now_ms();
            let mut n = 0;
            for (event_id, kind, only) in events {
                // The query kept only events meant for everyone or for this endpoint.
                if only.is_some() || subscribed(&types, &kind) {
                    insert_delivery(t, &endpoint_id, &event_id, &workspace_id, true, now)?;
                    n += 1;
                }
            }
            Ok(Some(n))
        })
        .await
    }

    /// The workspace's events, newest first; `before` pages by event id.
    pub async fn events(
        &self,
        workspace_id: String,
        kind: Option<String>,
        before: Option<String>,
        limit: u32,
    ) -> Result<Vec<EventView>, StoreError> {
        self.store.read(move |c| {
            let before_seq: Option<i64> = match before {
                Some(id) => c
                    .query_row("SELECT seq FROM workspace_events WHERE id = ?1 AND workspace_id = ?2", params![id, workspace_id], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            Ok(c.prepare(
                "SELECT id, payload FROM workspace_events WHERE workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR type = ?2)
                   AND (CAST(?3 AS BIGINT) IS NULL OR seq < ?3) ORDER BY seq DESC LIMIT ?4",
            )?
            .query_map(params![workspace_id, kind, before_seq, limit], |r| {
                let id: String = r.get(0)?;
                let payload: String = r.get(1)?;
                Ok((id, payload))
            })?
            .filter_map(|row| {
                let (id, payload) = row.ok()?;
                let mut v: serde_json::Value = serde_json::from_str(&payload).ok()?;
                Some(EventView {
                    id,
                    kind: v["type"].as_str()?.to_string(),
                    timestamp: v["timestamp"].as_str()?.to_string(),
                    data: v["data"].take(),
                })
            })
            .collect())
        })
        .await
    }

    /// Forget events older than `before`, with their finished deliveries and attempts.
    /// Events still being delivered, or not yet fanned out, stay, and so does the newest
    /// event: event numbers come from the table's highest one, so emptying it would number
    /// the next event 1 again, at or below the fan-out cursor, and it would never go out.
    pub async fn prune_events(&self, before: Millis, limit: u32) -> Result<usize, StoreError> {
        self.store.write(move |t| {
            let ids: Vec<String> = t
                .prepare_cached(
                    "SELECT id FROM workspace_events
                     WHERE created_at < ?1 AND seq <= (SELECT seq FROM workspace_event_cursor WHERE id = 1)
                       AND seq < (SELECT MAX(seq) FROM workspace_events)
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = workspace_events.id AND d.state = 'pending')
                     ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![before, limit], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &ids {
                t.prepare_cached(
                    "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE event_id = ?1)",
                )?
                .execute([id])?;
                t.prepare_cached("DELETE FROM webhook_deliveries WHERE event_id = ?1")?
                    .execute([id])?;
                t.prepare_cached("DELETE FROM workspace_events WHERE id = ?1")?
                    .execute([id])?;
            }
            Ok(ids.len())
        })
        .await
    }
}

/// Which stored events a replay sends.
#[derive(Debug, Clone)]
pub struct ReplayRange {
    pub since: Millis,
    pub until: Millis,
    pub event_id: Option<String>,
    pub only_failed: bool,
    pub limit: u32,
}

fn insert_delivery(
    t: &switchboard_store::sql::Transaction,
    endpoint_id: &str,
    event_id: &str,
    ws: &str,
    replay: bool,
    now: Millis,
) -> switchboard_store::sql::Result<()> {
    t.prepare_cached(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, workspace_id, state, next_attempt_at, replay, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?5, ?5)",
    )?
    .execute(params![new_id("whd"), endpoint_id, event_id, ws, now, replay])?;
    Ok(())
}
