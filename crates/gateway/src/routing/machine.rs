//! The routing state machine: a routed message's steps carried out one after another, with
//! every decision in the same transaction as the state it changes.
//!
//! Deliveries are created only when a lane reaches an entry. A step's deadline is a column
//! (see `store::routes`), and firing it (finishing the step and starting the next one's
//! deliveries) is one commit: after a SIGKILL it has either happened once or not at all.
//!
//! A delivery status change marks its step `dirty` (see `lifecycle::status::changed`); the
//! router re-evaluates dirty and due steps. A receipt for a step that is no longer running
//! changes the delivery (and shows as a late delivery in the view) but triggers nothing.

use switchboard_store::sql::Transaction;

use crate::lifecycle::accept;
use crate::lifecycle::status::{record, refresh_message};
use crate::model::policy::Policy;
use crate::model::{FailureReason, Millis, NewMessage, Status, new_id};
use crate::store::{self, Inserted, PlannedEntry, StoreError, routes};

/// A routed message as intake planned it.
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

/// Commit a routed message, its plan, and the first step's deliveries.
pub fn accept(t: &Transaction, m: &InsertRouted, now: Millis) -> Result<Inserted, StoreError> {
    let key = m.idempotency_key.as_deref();
    if let Some(original) = accept::replayed(t, &m.workspace_id, key, &m.request_hash)? {
        return Ok(original);
    }
    let mut contact_id = None;
    for e in m.entries.iter().filter(|e| e.skip.is_none()) {
        if let Some(key) = &e.address {
            let id = accept::contact_for(t, key, &m.request, now)?;
            contact_id.get_or_insert(id);
        }
    }
    store::insert_routed_message(
        t,
        &m.id,
        &m.workspace_id,
        &m.request,
        &m.request_hash,
        m.idempotency_key.as_deref(),
        contact_id.as_deref(),
        &m.policy,
        now,
    )?;
    for step in 0..m.policy.steps.len() {
        routes::insert_step(t, &m.id, step)?;
    }
    for e in &m.entries {
        routes::insert_entry(t, &m.id, e)?;
    }
    start_step(t, &m.id, &m.policy, 0, now)?;
    refresh_message(t, &m.id, now)?;
    Ok(Inserted::New)
}

/// Re-evaluate running steps that changed or fell due.
pub fn advance_due(t: &Transaction, limit: u32, now: Millis) -> Result<RouteProgress, StoreError> {
    let mut progress = RouteProgress::default();
    for (message_id, step) in routes::due_steps(t, now, limit)? {
        progress.steps_evaluated += 1;
        progress.deliveries_started += advance(t, &message_id, step as usize, now)?;
        refresh_message(t, &message_id, now)?;
    }
    Ok(progress)
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
        routes::set_outcome(t, message_id, "failed")?;
        return Ok(0);
    };
    let timeout = def.timeout_ms.unwrap_or(0).min(i64::MAX as u64) as i64;
    routes::start_step(t, message_id, step, now, now.saturating_add(timeout))?;
    let mut started = 0;
    for lane in 0..def.lanes().len() {
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
    for entry in routes::waiting_entries(t, message_id, step, lane)? {
        let Some(connection_id) = entry.connection_id.filter(|_| entry.skip_reason.is_none())
        else {
            routes::activate_entry(t, message_id, step, lane, entry.position, "skipped", None)?;
            continue;
        };
        let delivery_id = new_id("dlv");
        store::insert_delivery(
            t,
            &store::DeliveryRow {
                id: &delivery_id,
                message_id,
                connection_id: &connection_id,
                channel: &entry.channel,
                product: entry.product.as_deref(),
                units: entry.units,
                encoding: entry.encoding.as_deref(),
                country: entry.country.as_deref(),
                address_kind: entry.address_kind.as_deref(),
                address: entry.address.as_deref(),
                step: Some(step),
            },
            now,
        )?;
        let channel = &entry.channel;
        record(
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
                "position": entry.position,
                "channel": channel,
                "delivery_id": delivery_id,
            }),
        )?;
        routes::activate_entry(
            t,
            message_id,
            step,
            lane,
            entry.position,
            "active",
            Some(&delivery_id),
        )?;
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
    routes::finish_step(t, message_id, step, state, detail, now)?;
    Ok(crate::events::record_for_message(
        t,
        message_id,
        "message.fallback",
        now,
        serde_json::json!({ "action": "step_finished", "step": step, "state": state, "detail": detail }),
    )?)
}

/// Evaluate one running step. Returns the number of deliveries it started.
fn advance(
    t: &Transaction,
    message_id: &str,
    step: usize,
    now: Millis,
) -> Result<usize, StoreError> {
    let Some(routes::StepState {
        state,
        deadline,
        policy: Some(policy),
    }) = routes::step_state(t, message_id, step)?
    else {
        return Ok(0);
    };
    if state != "running" {
        return Ok(0);
    }
    let condition = policy.steps.get(step).map(|s| s.until).unwrap_or_default();
    let lanes = policy.steps.get(step).map(|s| s.lanes().len()).unwrap_or(0);

    let mut started = 0;
    let mut succeeded = 0;
    let mut pending = 0;
    let mut any_sent = false;
    // A failure whose reason does not fall back ends the lane, and the route with it.
    let mut stopped_by: Option<FailureReason> = None;
    for lane in 0..lanes {
        let active = routes::active_entry(t, message_id, step, lane)?;
        if routes::lane_succeeded(t, message_id, step, lane)? {
            succeeded += 1;
            any_sent = true;
            continue;
        }
        let Some(active) = active else {
            continue;
        };
        any_sent = true;
        let settle =
            |state: &str| routes::settle_entry(t, message_id, step, lane, active.position, state);
        if condition.met_by(active.status) {
            settle("succeeded")?;
            succeeded += 1;
        } else if active.status == Status::Failed {
            settle("failed")?;
            let reason = active
                .failure_reason
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
            routes::set_outcome(t, message_id, "succeeded")?;
        } else if stopped_by.is_some() {
            routes::stop_later_steps(t, message_id, step)?;
            routes::set_outcome(t, message_id, "failed")?;
        } else {
            started += start_step(t, message_id, &policy, step + 1, now)?;
        }
    } else if deadline.is_some_and(|d| d <= now) {
        // Deliveries still under way keep going (a late receipt is recorded on them) but
        // no longer decide anything.
        routes::time_out_entries(t, message_id, step)?;
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
        routes::clear_dirty(t, message_id, step)?;
    }
    Ok(started)
}
