//! Routed messages: a policy's steps and channels, planned at accept time and carried out
//! step by step, with every decision in the same transaction as the state it changes.
//!
//! A routed message has one `route_steps` row per step and one `route_entries` row per
//! channel of each step (its lane and position in the lane, and what intake planned: the
//! connection, the address, the quote, or why the channel is skipped). Deliveries are created
//! only when a lane reaches an entry. A step's deadline is a column: the router finds due
//! steps through an index, so a timer survives any crash, and firing it (finishing the step
//! and starting the next one's deliveries) is one commit: after a SIGKILL it has either
//! happened once or not at all.
//!
//! A delivery status change marks its step `dirty` (see `outbox::set_status`); the router
//! re-evaluates dirty and due steps. A receipt for a step that is no longer running changes
//! the delivery (and shows as a late delivery in the view) but triggers nothing.

use rusqlite::{OptionalExtension, Transaction, params};

use super::messages::{insert_event, parse_status};
use super::outbox::refresh_message;
use super::{AddressKey, Inserted, Store, StoreError};
use crate::model::{
    FailureReason, Millis, NewMessage, RouteEntryView, RouteStepView, RouteView, Status, new_id,
    now_ms, rfc3339,
};
use crate::routing::policy::{Condition, Policy};

/// One channel of one step, as intake planned it.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    pub step: usize,
    pub lane: usize,
    pub position: usize,
    pub channel: String,
    pub connection_id: Option<String>,
    pub product: Option<String>,
    pub units: Option<u32>,
    pub encoding: Option<String>,
    pub country: Option<String>,
    pub address: Option<AddressKey>,
    /// Why this channel will not be used: `no_connection`, `no_address`, `opted_out`,
    /// `invalid_format`.
    pub skip: Option<(String, String)>,
    /// Send without the subject (the channel cannot carry it to this recipient).
    pub drop_subject: bool,
}

#[derive(Debug, Clone)]
pub struct InsertRouted {
    pub id: String,
    pub workspace_id: String,
    pub request: NewMessage,
    pub request_hash: String,
    pub idempotency_key: Option<String>,
    pub policy: Policy,
    pub entries: Vec<PlannedEntry>,
}

/// What one pass of the router did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteProgress {
    pub steps_evaluated: usize,
    pub deliveries_started: usize,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Store {
    /// Commit a routed message, its plan, and the first step's deliveries.
    pub async fn insert_routed(&self, m: InsertRouted) -> Result<Inserted, StoreError> {
        self.write(move |t| {
            if let Some(key) = &m.idempotency_key
                && let Some((id, status, hash)) = super::messages::find_by_key(t, &m.workspace_id, key)?
            {
                return Ok(Inserted::Existing { same_request: hash == m.request_hash, id, status });
            }
            let now = now_ms();
            let mut contact_id = None;
            for e in m.entries.iter().filter(|e| e.skip.is_none()) {
                if let Some(key) = &e.address {
                    let platform = m.request.to.push_platform.as_deref().filter(|_| key.kind == "push");
                    let (id, _) = super::contacts::resolve(t, key, m.request.to.name.as_deref(), platform, now)?;
                    contact_id.get_or_insert(id);
                }
            }
            let request = serde_json::to_string(&m.request).map_err(corrupt)?;
            let policy = serde_json::to_string(&m.policy).map_err(corrupt)?;
            t.prepare_cached(
                "INSERT INTO messages (id, workspace_id, channel, status, request, request_hash, idempotency_key, created_at, updated_at,
                    contact_id, route_policy, route_outcome)
                 VALUES (?1, ?2, '', 'queued', ?3, ?4, ?5, ?6, ?6, ?7, ?8, 'running')",
            )?
            .execute(params![m.id, m.workspace_id, request, m.request_hash, m.idempotency_key, now, contact_id, policy])?;
            for step in 0..m.policy.steps.len() {
                t.prepare_cached("INSERT INTO route_steps (message_id, step, state) VALUES (?1, ?2, 'pending')")?
                    .execute(params![m.id, step])?;
            }
            for e in &m.entries {
                t.prepare_cached(
                    "INSERT INTO route_entries (message_id, step, lane, position, channel, connection_id, product, units, encoding,
                        country, address_kind, address, skip_reason, skip_detail, state, drop_subject)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'waiting', ?15)",
                )?
                .execute(params![
                    m.id, e.step, e.lane, e.position, e.channel, e.connection_id, e.product, e.units, e.encoding, e.country,
                    e.address.as_ref().map(|a| a.kind.clone()), e.address.as_ref().map(|a| a.address.clone()),
                    e.skip.as_ref().map(|s| s.0.clone()), e.skip.as_ref().map(|s| s.1.clone()), e.drop_subject,
                ])?;
            }
            start_step(t, &m.id, &m.policy, 0, now)?;
            refresh_message(t, &m.id, now)?;
            Ok(Inserted::New)
        })
        .await
    }

    /// Re-evaluate running steps that changed or fell due, in one commit.
    pub async fn advance_routes(&self, limit: u32) -> Result<RouteProgress, StoreError> {
        self.write(move |t| {
            let now = now_ms();
            let due: Vec<(String, i64)> = t
                .prepare_cached(
                    "SELECT message_id, step FROM route_steps WHERE dirty = 1 AND state = 'running'
                     UNION
                     SELECT message_id, step FROM route_steps WHERE state = 'running' AND deadline_at <= ?1
                     LIMIT ?2",
                )?
                .query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut progress = RouteProgress::default();
            for (message_id, step) in due {
                progress.steps_evaluated += 1;
                progress.deliveries_started += advance(t, &message_id, step as usize, now)?;
                refresh_message(t, &message_id, now)?;
            }
            Ok(progress)
        })
        .await
    }

    /// The earliest deadline of a running step, for the router's sleep.
    pub async fn next_route_deadline(&self) -> Result<Option<Millis>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MIN(deadline_at) FROM route_steps WHERE state = 'running'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// The contact said stop on this channel: never contacted there again.
    pub async fn record_opt_out(
        &self,
        workspace_id: String,
        channel: String,
        address: String,
        detail: String,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            t.prepare_cached(
                "INSERT OR IGNORE INTO opt_outs (workspace_id, channel, address, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![workspace_id, channel, address, detail, now_ms()])?;
            Ok(())
        })
        .await
    }

    pub async fn opted_out(
        &self,
        workspace_id: String,
        channel: String,
        address: String,
    ) -> Result<bool, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM opt_outs WHERE workspace_id = ?1 AND channel = ?2 AND address = ?3",
            )?
            .exists(params![workspace_id, channel, address])?)
        })
        .await
    }
}

/// Start step `step` (or, past the last one, end the route as failed). Returns the number
/// of deliveries created. A step none of whose lanes can send is recorded as skipped and the
/// next one starts at once.
fn start_step(
    t: &Transaction,
    message_id: &str,
    policy: &Policy,
    step: usize,
    now: Millis,
) -> Result<usize, StoreError> {
    let Some(def) = policy.steps.get(step) else {
        t.prepare_cached("UPDATE messages SET route_outcome = 'failed' WHERE id = ?1")?
            .execute([message_id])?;
        return Ok(0);
    };
    let timeout = def.timeout_ms.unwrap_or(0).min(i64::MAX as u64) as i64;
    t.prepare_cached(
        "UPDATE route_steps SET state = 'running', started_at = ?3, deadline_at = ?4, dirty = 0 WHERE message_id = ?1 AND step = ?2",
    )?
    .execute(params![message_id, step, now, now.saturating_add(timeout)])?;
    let lanes = def.lanes().len();
    let mut started = 0;
    for lane in 0..lanes {
        started += usize::from(activate_next(t, message_id, step, lane, now)?);
    }
    if started == 0 {
        finish_step(
            t,
            message_id,
            step,
            "skipped",
            "no channel of this step can reach the recipient",
            now,
        )?;
        return start_step(t, message_id, policy, step + 1, now);
    }
    Ok(started)
}

/// Move a lane to its next usable entry: skipped entries are marked so, the first usable one
/// gets a delivery due now. Returns false when the lane has nothing left.
fn activate_next(
    t: &Transaction,
    message_id: &str,
    step: usize,
    lane: usize,
    now: Millis,
) -> Result<bool, StoreError> {
    type Waiting = (
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<u32>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let waiting: Vec<Waiting> = t
        .prepare_cached(
            "SELECT position, channel, connection_id, product, units, encoding, country, address_kind, address, skip_reason
             FROM route_entries WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND state = 'waiting' ORDER BY position",
        )?
        .query_map(params![message_id, step, lane], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
        })?
        .collect::<Result<_, _>>()?;
    for (
        position,
        channel,
        connection_id,
        product,
        units,
        encoding,
        country,
        kind,
        address,
        skip,
    ) in waiting
    {
        let set_state = |state: &str, delivery: Option<&str>| -> Result<(), StoreError> {
            t.prepare_cached(
                "UPDATE route_entries SET state = ?5, delivery_id = ?6 WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND position = ?4",
            )?
            .execute(params![message_id, step, lane, position, state, delivery])?;
            Ok(())
        };
        let Some(connection_id) = connection_id.filter(|_| skip.is_none()) else {
            set_state("skipped", None)?;
            continue;
        };
        let delivery_id = new_id("dlv");
        t.prepare_cached(
            "INSERT INTO deliveries (id, message_id, connection_id, channel, status, product, units, encoding, country,
                next_attempt_at, created_at, updated_at, address_kind, address, step)
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![delivery_id, message_id, connection_id, channel, product, units, encoding, country, now, kind, address, step])?;
        insert_event(
            t,
            &delivery_id,
            Status::Queued,
            now,
            "router",
            Some(&format!("step {step}: {channel}")),
            true,
        )?;
        crate::events::record_for_message(
            t,
            message_id,
            "message.fallback",
            now,
            serde_json::json!({
                "action": "started",
                "step": step,
                "lane": lane,
                "position": position,
                "channel": channel,
                "delivery_id": delivery_id,
            }),
        )?;
        set_state("active", Some(&delivery_id))?;
        return Ok(true);
    }
    Ok(false)
}

fn finish_step(
    t: &Transaction,
    message_id: &str,
    step: usize,
    state: &str,
    detail: &str,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE route_steps SET state = ?3, finished_at = ?4, detail = ?5, dirty = 0 WHERE message_id = ?1 AND step = ?2",
    )?
    .execute(params![message_id, step, state, now, detail])?;
    Ok(crate::events::record_for_message(
        t,
        message_id,
        "message.fallback",
        now,
        serde_json::json!({ "action": "step_finished", "step": step, "state": state, "detail": detail }),
    )?)
}

fn meets(condition: Condition, status: Status) -> bool {
    match condition {
        Condition::Accepted => matches!(status, Status::Sent | Status::Delivered | Status::Seen),
        Condition::Delivered => matches!(status, Status::Delivered | Status::Seen),
        Condition::Seen => status == Status::Seen,
    }
}

/// Evaluate one running step. Returns the number of deliveries it started.
fn advance(
    t: &Transaction,
    message_id: &str,
    step: usize,
    now: Millis,
) -> Result<usize, StoreError> {
    let row: Option<(String, Option<Millis>, Option<String>)> = t
        .prepare_cached(
            "SELECT s.state, s.deadline_at, m.route_policy FROM route_steps s JOIN messages m ON m.id = s.message_id
             WHERE s.message_id = ?1 AND s.step = ?2",
        )?
        .query_row(params![message_id, step], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((state, deadline, Some(policy))) = row else {
        return Ok(0);
    };
    if state != "running" {
        return Ok(0);
    }
    let policy: Policy = serde_json::from_str(&policy).map_err(corrupt)?;
    let condition = policy.steps.get(step).map(|s| s.until).unwrap_or_default();
    let lanes = policy.steps.get(step).map(|s| s.lanes().len()).unwrap_or(0);

    let mut started = 0;
    let mut succeeded = 0;
    let mut pending = 0;
    let mut any_sent = false;
    // A failure whose reason does not fall back ends the lane, and the route with it.
    let mut stopped_by: Option<FailureReason> = None;
    for lane in 0..lanes {
        let active: Option<(i64, String, String, Option<String>)> = t
            .prepare_cached(
                "SELECT e.position, e.delivery_id, d.status, d.failure_reason FROM route_entries e JOIN deliveries d ON d.id = e.delivery_id
                 WHERE e.message_id = ?1 AND e.step = ?2 AND e.lane = ?3 AND e.state = 'active'",
            )?
            .query_row(params![message_id, step, lane], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let lane_succeeded: bool = t
            .prepare_cached("SELECT 1 FROM route_entries WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND state = 'succeeded'")?
            .exists(params![message_id, step, lane])?;
        if lane_succeeded {
            succeeded += 1;
            any_sent = true;
            continue;
        }
        let Some((position, _delivery, status, reason)) = active else {
            continue;
        };
        any_sent = true;
        let status = parse_status(&status)?;
        let set = |state: &str| -> Result<(), StoreError> {
            t.prepare_cached(
                "UPDATE route_entries SET state = ?5 WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND position = ?4",
            )?
            .execute(params![message_id, step, lane, position, state])?;
            Ok(())
        };
        if meets(condition, status) {
            set("succeeded")?;
            succeeded += 1;
        } else if status == Status::Failed {
            set("failed")?;
            let reason = reason
                .as_deref()
                .and_then(FailureReason::parse)
                .unwrap_or(FailureReason::Unknown);
            if !policy.falls_back_on(reason) {
                stopped_by = Some(reason);
            } else if activate_next(t, message_id, step, lane, now)? {
                started += 1;
                pending += 1;
            }
        } else {
            pending += 1;
        }
    }

    if pending == 0 {
        let (state, detail) = if succeeded > 0 {
            ("succeeded", format!("{} met", condition.as_str()))
        } else if any_sent {
            ("failed", "every channel of this step failed".to_string())
        } else {
            (
                "skipped",
                "no channel of this step could be used".to_string(),
            )
        };
        let (state, detail) = match stopped_by {
            Some(reason) if succeeded == 0 => (
                "failed",
                format!(
                    "failed with `{}`, which does not fall back",
                    reason.as_str()
                ),
            ),
            _ => (state, detail),
        };
        finish_step(t, message_id, step, state, &detail, now)?;
        if succeeded > 0 {
            t.prepare_cached("UPDATE messages SET route_outcome = 'succeeded' WHERE id = ?1")?
                .execute([message_id])?;
        } else if stopped_by.is_some() {
            t.prepare_cached(
                "UPDATE route_entries SET state = 'stopped' WHERE message_id = ?1 AND step > ?2",
            )?
            .execute(params![message_id, step])?;
            t.prepare_cached(
                "UPDATE route_steps SET state = 'stopped', detail = 'an earlier step failed with a reason that does not fall back'
                 WHERE message_id = ?1 AND step > ?2",
            )?
            .execute(params![message_id, step])?;
            t.prepare_cached("UPDATE messages SET route_outcome = 'failed' WHERE id = ?1")?
                .execute([message_id])?;
        } else {
            started += start_step(t, message_id, &policy, step + 1, now)?;
        }
    } else if deadline.is_some_and(|d| d <= now) {
        // Deliveries still under way keep going (a late receipt is recorded on them) but
        // no longer decide anything.
        t.prepare_cached("UPDATE route_entries SET state = 'timed_out' WHERE message_id = ?1 AND step = ?2 AND state = 'active'")?
            .execute(params![message_id, step])?;
        t.prepare_cached("UPDATE route_entries SET state = 'stopped' WHERE message_id = ?1 AND step = ?2 AND state = 'waiting'")?
            .execute(params![message_id, step])?;
        finish_step(
            t,
            message_id,
            step,
            "timed_out",
            &format!("{} not met in time", condition.as_str()),
            now,
        )?;
        started += start_step(t, message_id, &policy, step + 1, now)?;
    } else {
        t.prepare_cached("UPDATE route_steps SET dirty = 0 WHERE message_id = ?1 AND step = ?2")?
            .execute(params![message_id, step])?;
    }
    Ok(started)
}

/// `(step, state, started_at, deadline_at, finished_at, detail)`.
type StepRow = (
    i64,
    String,
    Option<Millis>,
    Option<Millis>,
    Option<Millis>,
    Option<String>,
);

/// The route of a message for its view, if it was routed.
pub(super) fn route_view(
    c: &rusqlite::Connection,
    message_id: &str,
) -> Result<Option<RouteView>, StoreError> {
    let row: Option<(Option<String>, Option<String>)> = c
        .prepare_cached("SELECT route_policy, route_outcome FROM messages WHERE id = ?1")?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((Some(policy), outcome)) = row else {
        return Ok(None);
    };
    let policy: Policy = serde_json::from_str(&policy).map_err(corrupt)?;
    let mut steps = Vec::new();
    let mut stmt = c.prepare_cached(
        "SELECT step, state, started_at, deadline_at, finished_at, detail FROM route_steps WHERE message_id = ?1 ORDER BY step",
    )?;
    let rows: Vec<StepRow> = stmt
        .query_map([message_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    for (step, state, started, deadline, finished, detail) in rows {
        let def = policy.steps.get(step as usize);
        let condition = def.map(|d| d.until).unwrap_or_default();
        let entries = c
            .prepare_cached(
                "SELECT e.lane, e.channel, e.state, e.delivery_id, d.status, d.failure_reason, e.skip_reason, e.skip_detail
                 FROM route_entries e LEFT JOIN deliveries d ON d.id = e.delivery_id
                 WHERE e.message_id = ?1 AND e.step = ?2 ORDER BY e.lane, e.position",
            )?
            .query_map(params![message_id, step], |r| {
                let entry_state: String = r.get(2)?;
                let status: Option<String> = r.get(4)?;
                let status = status.and_then(|s| Status::parse(&s));
                Ok(RouteEntryView {
                    lane: r.get(0)?,
                    channel: r.get(1)?,
                    late: entry_state == "timed_out" && status.is_some_and(|s| meets(condition, s)),
                    state: entry_state,
                    delivery: r.get(3)?,
                    status,
                    failure_reason: r.get(5)?,
                    skip_reason: r.get(6)?,
                    skip_detail: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        steps.push(RouteStepView {
            index: step as u32,
            until: condition.as_str().into(),
            timeout_ms: def.and_then(|d| d.timeout_ms),
            state,
            started_at: started.map(rfc3339),
            deadline_at: deadline.map(rfc3339),
            finished_at: finished.map(rfc3339),
            detail,
            channels: entries,
        });
    }
    Ok(Some(RouteView {
        policy: policy.name,
        outcome: outcome.unwrap_or_else(|| "running".into()),
        steps,
    }))
}
