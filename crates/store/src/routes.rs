//! The route tables: `route_steps` (one row per step of a routed message: its state and
//! deadline) and `route_entries` (one row per channel of each step: its lane, its position in
//! the lane, and what intake planned for it), plus `opt_outs`.
//!
//! A step's deadline is a column, so the router finds due steps through an index and a timer
//! survives any crash. Which step runs next, and when a step has succeeded, failed or timed
//! out, is the routing state machine's rule (`crate::routing::machine`).

use crate::sql::{Connection, OptionalExtension, Transaction, params};

use super::{AddressKey, StoreError};
use crate::model::policy::Policy;
use crate::model::{Millis, RouteEntryView, RouteStepView, RouteView, Status, rfc3339};

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

/// An entry waiting its turn in a lane.
#[derive(Debug, Clone)]
pub struct WaitingEntry {
    pub position: i64,
    pub channel: String,
    pub connection_id: Option<String>,
    pub product: Option<String>,
    pub units: Option<u32>,
    pub encoding: Option<String>,
    pub country: Option<String>,
    pub address_kind: Option<String>,
    pub address: Option<String>,
    pub skip_reason: Option<String>,
}

/// The entry a lane is waiting on, with its delivery's status.
#[derive(Debug, Clone)]
pub struct ActiveEntry {
    pub position: i64,
    pub delivery_id: String,
    pub status: Status,
    pub failure_reason: Option<String>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub fn insert_step(t: &Transaction, message_id: &str, step: usize) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO route_steps (message_id, step, state) VALUES (?1, ?2, 'pending')",
    )?
    .execute(params![message_id, step])?;
    Ok(())
}

pub fn insert_entry(t: &Transaction, message_id: &str, e: &PlannedEntry) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO route_entries (message_id, step, lane, position, channel, connection_id, product, units, encoding,
            country, address_kind, address, skip_reason, skip_detail, state, drop_subject)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'waiting', ?15)",
    )?
    .execute(params![
        message_id, e.step, e.lane, e.position, e.channel, e.connection_id, e.product, e.units, e.encoding, e.country,
        e.address.as_ref().map(|a| a.kind.clone()), e.address.as_ref().map(|a| a.address.clone()),
        e.skip.as_ref().map(|s| s.0.clone()), e.skip.as_ref().map(|s| s.1.clone()), e.drop_subject,
    ])?;
    Ok(())
}

/// `running`, `succeeded` or `failed`.
pub fn set_outcome(t: &Transaction, message_id: &str, outcome: &str) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE messages SET route_outcome = ?2 WHERE id = ?1")?
        .execute(params![message_id, outcome])?;
    Ok(())
}

/// Running steps that changed or fell due: `(message id, step)`.
pub fn due_steps(
    t: &Transaction,
    now: Millis,
    limit: u32,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(t.prepare_cached(
        "SELECT message_id, step FROM route_steps WHERE dirty = 1 AND state = 'running'
             UNION
             SELECT message_id, step FROM route_steps WHERE state = 'running' AND deadline_at <= ?1
             LIMIT ?2",
    )?
    .query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect::<Result<_, _>>()?)
}

/// The earliest deadline of a running step.
pub fn next_deadline(c: &Connection) -> Result<Option<Millis>, StoreError> {
    Ok(c.query_row(
        "SELECT MIN(deadline_at) FROM route_steps WHERE state = 'running'",
        [],
        |r| r.get(0),
    )?)
}

pub fn start_step(
    t: &Transaction,
    message_id: &str,
    step: usize,
    now: Millis,
    deadline: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE route_steps SET state = 'running', started_at = ?3, deadline_at = ?4, dirty = 0 WHERE message_id = ?1 AND step = ?2",
    )?
    .execute(params![message_id, step, now, deadline])?;
    Ok(())
}

pub fn finish_step(
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
    Ok(())
}

/// A routed delivery of `step` changed: the step must look again.
pub fn mark_dirty(t: &Transaction, message_id: &str, step: i64) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE route_steps SET dirty = 1 WHERE state = 'running' AND message_id = ?1 AND step = ?2",
    )?
    .execute(params![message_id, step])?;
    Ok(())
}

pub fn clear_dirty(t: &Transaction, message_id: &str, step: usize) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE route_steps SET dirty = 0 WHERE message_id = ?1 AND step = ?2")?
        .execute(params![message_id, step])?;
    Ok(())
}

/// A step's state and deadline, with its message's policy.
#[derive(Debug, Clone)]
pub struct StepState {
    pub state: String,
    pub deadline: Option<Millis>,
    pub policy: Option<Policy>,
}

pub fn step_state(
    t: &Transaction,
    message_id: &str,
    step: usize,
) -> Result<Option<StepState>, StoreError> {
    let row: Option<(String, Option<Millis>, Option<String>)> = t
        .prepare_cached(
            "SELECT s.state, s.deadline_at, m.route_policy FROM route_steps s JOIN messages m ON m.id = s.message_id
             WHERE s.message_id = ?1 AND s.step = ?2",
        )?
        .query_row(params![message_id, step], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(state, deadline, policy)| {
        let policy = policy
            .map(|p| serde_json::from_str(&p).map_err(corrupt))
            .transpose()?;
        Ok(StepState {
            state,
            deadline,
            policy,
        })
    })
    .transpose()
}

/// The entries of a lane still waiting, in lane order.
pub fn waiting_entries(
    t: &Transaction,
    message_id: &str,
    step: usize,
    lane: usize,
) -> Result<Vec<WaitingEntry>, StoreError> {
    Ok(t
        .prepare_cached(
            "SELECT position, channel, connection_id, product, units, encoding, country, address_kind, address, skip_reason
             FROM route_entries WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND state = 'waiting' ORDER BY position",
        )?
        .query_map(params![message_id, step, lane], |r| {
            Ok(WaitingEntry {
                position: r.get(0)?,
                channel: r.get(1)?,
                connection_id: r.get(2)?,
                product: r.get(3)?,
                units: r.get(4)?,
                encoding: r.get(5)?,
                country: r.get(6)?,
                address_kind: r.get(7)?,
                address: r.get(8)?,
                skip_reason: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// An entry's turn came: it is `active` on a delivery, or `skipped` without one.
#[allow(clippy::too_many_arguments)]
pub fn activate_entry(
    t: &Transaction,
    message_id: &str,
    step: usize,
    lane: usize,
    position: i64,
    state: &str,
    delivery_id: Option<&str>,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE route_entries SET state = ?5, delivery_id = ?6 WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND position = ?4",
    )?
    .execute(params![message_id, step, lane, position, state, delivery_id])?;
    Ok(())
}

/// An active entry's delivery decided it: `succeeded` or `failed`.
pub fn settle_entry(
    t: &Transaction,
    message_id: &str,
    step: usize,
    lane: usize,
    position: i64,
    state: &str,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE route_entries SET state = ?5 WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND position = ?4",
    )?
    .execute(params![message_id, step, lane, position, state])?;
    Ok(())
}

/// The entry a lane is waiting on, if any.
pub fn active_entry(
    t: &Transaction,
    message_id: &str,
    step: usize,
    lane: usize,
) -> Result<Option<ActiveEntry>, StoreError> {
    let row: Option<(i64, String, String, Option<String>)> = t
        .prepare_cached(
            "SELECT e.position, e.delivery_id, d.status, d.failure_reason FROM route_entries e JOIN deliveries d ON d.id = e.delivery_id
             WHERE e.message_id = ?1 AND e.step = ?2 AND e.lane = ?3 AND e.state = 'active'",
        )?
        .query_row(params![message_id, step, lane], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    row.map(|(position, delivery_id, status, failure_reason)| {
        Ok(ActiveEntry {
            position,
            delivery_id,
            status: super::parse_status(&status)?,
            failure_reason,
        })
    })
    .transpose()
}

pub fn lane_succeeded(
    t: &Transaction,
    message_id: &str,
    step: usize,
    lane: usize,
) -> Result<bool, StoreError> {
    Ok(t
        .prepare_cached("SELECT 1 FROM route_entries WHERE message_id = ?1 AND step = ?2 AND lane = ?3 AND state = 'succeeded'")?
        .exists(params![message_id, step, lane])?)
}

/// Every step after `step` stops, with its entries.
pub fn stop_later_steps(t: &Transaction, message_id: &str, step: usize) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE route_entries SET state = 'stopped' WHERE message_id = ?1 AND step > ?2",
    )?
    .execute(params![message_id, step])?;
    t.prepare_cached(
        "UPDATE route_steps SET state = 'stopped', detail = 'an earlier step failed with a reason that does not fall back'
         WHERE message_id = ?1 AND step > ?2",
    )?
    .execute(params![message_id, step])?;
    Ok(())
}

/// A step's deadline passed: its active entries time out and its waiting ones stop.
pub fn time_out_entries(t: &Transaction, message_id: &str, step: usize) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE route_entries SET state = 'timed_out' WHERE message_id = ?1 AND step = ?2 AND state = 'active'")?
        .execute(params![message_id, step])?;
    t.prepare_cached("UPDATE route_entries SET state = 'stopped' WHERE message_id = ?1 AND step = ?2 AND state = 'waiting'")?
        .execute(params![message_id, step])?;
    Ok(())
}

/// Whether the entry behind a routed delivery sends without the subject.
pub fn drops_subject(
    t: &Transaction,
    message_id: &str,
    step: i64,
    delivery_id: &str,
) -> Result<bool, StoreError> {
    Ok(t
        .prepare_cached("SELECT drop_subject FROM route_entries WHERE message_id = ?1 AND step = ?2 AND delivery_id = ?3")?
        .query_row(params![message_id, step, delivery_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

pub fn record_opt_out(
    t: &Transaction,
    workspace_id: &str,
    channel: &str,
    address: &str,
    detail: &str,
    at: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO opt_outs (workspace_id, channel, address, detail, at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    )?
    .execute(params![workspace_id, channel, address, detail, at])?;
    Ok(())
}

impl super::Store {
    /// The contact said stop on this channel: never contacted there again.
    pub async fn record_opt_out(
        &self,
        workspace_id: String,
        channel: String,
        address: String,
        detail: String,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            record_opt_out(
                t,
                &workspace_id,
                &channel,
                &address,
                &detail,
                crate::model::now_ms(),
            )
        })
        .await
    }

    pub async fn opted_out(
        &self,
        workspace_id: String,
        channel: String,
        address: String,
    ) -> Result<bool, StoreError> {
        self.read(move |c| opted_out(c, &workspace_id, &channel, &address))
            .await
    }
}

pub fn opted_out(
    c: &Connection,
    workspace_id: &str,
    channel: &str,
    address: &str,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM opt_outs WHERE workspace_id = ?1 AND channel = ?2 AND address = ?3",
    )?
    .exists(params![workspace_id, channel, address])?)
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
pub fn route_view(
    c: &crate::sql::Connection,
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
                    late: entry_state == "timed_out" && status.is_some_and(|s| condition.met_by(s)),
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
