//! Automation runs, their no-reply timers and the events the figures are summed from: rows
//! only. What a step does, which branch a reply takes and what counts as participating are
//! the gateway's (`automations/`).
//!
//! Every move of a run is a conditional update on its `seq` ([`save_run`]): the engine, a
//! customer's reply and a timeout may race on several nodes, and only the first to commit
//! moves the run, so no step runs twice and no wait fires twice.

use crate::StoreError;
use crate::model::Millis;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

/// One run of one version of an automation on one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub workspace_id: String,
    pub automation_id: String,
    pub version: u32,
    pub conversation_id: String,
    pub contact_id: String,
    /// `running` (ready for the engine), `waiting`, `completed`, `stopped`, `timed_out`,
    /// `failed`.
    pub state: String,
    pub step: Option<String>,
    /// Bumped by every move: the token each conditional write names.
    pub seq: i64,
    /// Answers an `ask` step has taken so far.
    pub attempt: u32,
    pub wait_due_at: Option<Millis>,
    /// The run's answers as a JSON object (`{"<step id>": value}`).
    pub answers: String,
    pub participated: bool,
    pub stop_reason: Option<String>,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
}

impl Run {
    pub fn is_live(&self) -> bool {
        self.state == "running" || self.state == "waiting"
    }
}

const COLUMNS: &str = "id, workspace_id, automation_id, version, conversation_id, contact_id, state, step, seq, attempt, wait_due_at, answers, participated, stop_reason, started_at, ended_at";

fn run_row(r: &Row<'_>) -> crate::sql::Result<Run> {
    Ok(Run {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        automation_id: r.get(2)?,
        version: r.get::<_, i64>(3)? as u32,
        conversation_id: r.get(4)?,
        contact_id: r.get(5)?,
        state: r.get(6)?,
        step: r.get(7)?,
        seq: r.get(8)?,
        attempt: r.get::<_, i64>(9)? as u32,
        wait_due_at: r.get(10)?,
        answers: r.get(11)?,
        participated: r.get::<_, i64>(12)? != 0,
        stop_reason: r.get(13)?,
        started_at: r.get(14)?,
        ended_at: r.get(15)?,
    })
}

/// A new run. `false` when the conversation already has a live run of the automation (the
/// unique index of live runs refused it), so a trigger racing on two nodes starts one.
pub fn insert_run(t: &Transaction, r: &Run) -> Result<bool, StoreError> {
    let n = t
        .prepare_cached(
            "INSERT INTO automation_runs (id, workspace_id, automation_id, version, conversation_id, contact_id, state, step, seq, attempt, wait_due_at, answers, participated, stop_reason, started_at, ended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            r.id,
            r.workspace_id,
            r.automation_id,
            i64::from(r.version),
            r.conversation_id,
            r.contact_id,
            r.state,
            r.step,
            r.seq,
            i64::from(r.attempt),
            r.wait_due_at,
            r.answers,
            i64::from(r.participated),
            r.stop_reason,
            r.started_at,
            r.ended_at
        ])?;
    Ok(n == 1)
}

/// Write `r` as the run's next move, if nobody moved it since `r.seq - 1`: whether it did.
pub fn save_run(t: &Transaction, r: &Run) -> Result<bool, StoreError> {
    let n = t
        .prepare_cached(
            "UPDATE automation_runs SET state = ?2, step = ?3, seq = ?4, attempt = ?5, wait_due_at = ?6, answers = ?7, participated = ?8, stop_reason = ?9, ended_at = ?10
             WHERE id = ?1 AND seq = ?4 - 1",
        )?
        .execute(params![
            r.id,
            r.state,
            r.step,
            r.seq,
            i64::from(r.attempt),
            r.wait_due_at,
            r.answers,
            i64::from(r.participated),
            r.stop_reason,
            r.ended_at
        ])?;
    Ok(n == 1)
}

pub fn run(c: &Connection, id: &str) -> Result<Option<Run>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM automation_runs WHERE id = ?1"
    ))?
    .query_row([id], run_row)
    .optional()?)
}

/// The live runs on a conversation, oldest first.
pub fn live_runs(c: &Connection, conversation_id: &str) -> Result<Vec<Run>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM automation_runs WHERE conversation_id = ?1 AND state IN ('running', 'waiting') ORDER BY started_at, id"
    ))?
    .query_map([conversation_id], run_row)?
    .collect::<Result<_, _>>()?)
}

/// The live run of an automation on a conversation.
pub fn live_run(
    c: &Connection,
    automation_id: &str,
    conversation_id: &str,
) -> Result<Option<Run>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM automation_runs WHERE automation_id = ?1 AND conversation_id = ?2 AND state IN ('running', 'waiting')"
    ))?
    .query_row([automation_id, conversation_id], run_row)
    .optional()?)
}

/// Runs the engine has work for: ready ones, then waits whose time has come.
pub fn runs_due(c: &Connection, now: Millis, limit: u32) -> Result<Vec<Run>, StoreError> {
    let mut out: Vec<Run> = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM automation_runs WHERE state = 'running' ORDER BY started_at LIMIT ?1"
        ))?
        .query_map(params![i64::from(limit)], run_row)?
        .collect::<Result<_, _>>()?;
    let room = limit.saturating_sub(out.len() as u32);
    if room > 0 {
        out.extend(
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM automation_runs WHERE state = 'waiting' AND wait_due_at <= ?1 ORDER BY wait_due_at LIMIT ?2"
            ))?
            .query_map(params![now, i64::from(room)], run_row)?
            .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(out)
}

/// The earliest wait still ahead, so the engine's loop can sleep until then.
pub fn next_wait_due(c: &Connection) -> Result<Option<Millis>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT MIN(wait_due_at) FROM automation_runs WHERE state = 'waiting' AND wait_due_at IS NOT NULL",
    )?
    .query_row([], |r| r.get(0))?)
}

/// What the figures are summed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    pub workspace_id: String,
    pub automation_id: String,
    pub run_id: String,
    pub contact_id: String,
    pub conversation_id: String,
    /// `triggered`, `participated`, `completed`, `stopped`, `step` (entered), `branch` (taken).
    pub kind: String,
    pub step: Option<String>,
    pub branch: Option<String>,
    /// The conversation's channel when the trigger came.
    pub channel: Option<String>,
    pub at: Millis,
}

pub fn insert_event(t: &Transaction, e: &RunEvent) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO automation_events (workspace_id, automation_id, run_id, contact_id, conversation_id, kind, step, branch, channel, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        e.workspace_id,
        e.automation_id,
        e.run_id,
        e.contact_id,
        e.conversation_id,
        e.kind,
        e.step,
        e.branch,
        e.channel,
        e.at
    ])?;
    Ok(())
}

/// The events of one run, oldest first.
pub fn run_events(c: &Connection, run_id: &str) -> Result<Vec<RunEvent>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT workspace_id, automation_id, run_id, contact_id, conversation_id, kind, step, branch, channel, at FROM automation_events WHERE run_id = ?1 ORDER BY seq",
    )?
    .query_map([run_id], event_row)?
    .collect::<Result<_, _>>()?)
}

fn event_row(r: &Row<'_>) -> crate::sql::Result<RunEvent> {
    Ok(RunEvent {
        workspace_id: r.get(0)?,
        automation_id: r.get(1)?,
        run_id: r.get(2)?,
        contact_id: r.get(3)?,
        conversation_id: r.get(4)?,
        kind: r.get(5)?,
        step: r.get(6)?,
        branch: r.get(7)?,
        channel: r.get(8)?,
        at: r.get(9)?,
    })
}

/// A `visitor.no_reply` timer: the automation fires on the conversation at `due_at` unless
/// the customer writes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub automation_id: String,
    pub conversation_id: String,
    pub workspace_id: String,
    pub due_at: Millis,
}

/// Arm (or re-arm from a later agent message) an automation's timer on a conversation.
pub fn arm_timer(t: &Transaction, timer: &Timer) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO automation_timers (automation_id, conversation_id, workspace_id, due_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (automation_id, conversation_id) DO UPDATE SET due_at = excluded.due_at",
    )?
    .execute(params![timer.automation_id, timer.conversation_id, timer.workspace_id, timer.due_at])?;
    Ok(())
}

/// The customer wrote: no timer on the conversation fires.
pub fn clear_timers(t: &Transaction, conversation_id: &str) -> Result<(), StoreError> {
    t.prepare_cached("DELETE FROM automation_timers WHERE conversation_id = ?1")?
        .execute([conversation_id])?;
    Ok(())
}

pub fn timers_due(c: &Connection, now: Millis, limit: u32) -> Result<Vec<Timer>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT automation_id, conversation_id, workspace_id, due_at FROM automation_timers WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
    )?
    .query_map(params![now, i64::from(limit)], |r| {
        Ok(Timer {
            automation_id: r.get(0)?,
            conversation_id: r.get(1)?,
            workspace_id: r.get(2)?,
            due_at: r.get(3)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// Take a due timer: `true` for the one caller whose commit removes it, so a timer fires
/// once whatever restarts or clock jumps come between.
pub fn take_timer(t: &Transaction, timer: &Timer) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "DELETE FROM automation_timers WHERE automation_id = ?1 AND conversation_id = ?2 AND due_at = ?3",
    )?
    .execute(params![timer.automation_id, timer.conversation_id, timer.due_at])?
        == 1)
}

pub fn next_timer_due(c: &Connection) -> Result<Option<Millis>, StoreError> {
    Ok(
        c.prepare_cached("SELECT MIN(due_at) FROM automation_timers")?
            .query_row([], |r| r.get(0))?,
    )
}

/// Whether the bot hosts a conversation, the connection its customer wrote through and
/// that connection's channel.
pub fn conversation_facts(
    c: &Connection,
    conversation_id: &str,
) -> Result<(bool, Option<String>, Option<String>), StoreError> {
    Ok(
        c.prepare_cached("SELECT hosted, connection_id, channel FROM conversations WHERE id = ?1")?
            .query_row([conversation_id], |r| {
                Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .unwrap_or((false, None, None)),
    )
}

/// A contact's valid addresses by kind (the newest of each), for conditions.
pub fn contact_address_map(
    c: &Connection,
    contact_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (kind, address) in c
        .prepare_cached(
            "SELECT kind, address FROM contact_addresses WHERE contact_id = ?1 AND valid = 1 ORDER BY created_at DESC",
        )?
        .query_map([contact_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?
    {
        if !out.iter().any(|(k, _)| *k == kind) {
            out.push((kind, address));
        }
    }
    Ok(out)
}

/// The contact's address of `kind` on a connection's scope (a Messenger PSID is scoped to
/// its page), the newest valid one.
pub fn contact_address(
    c: &Connection,
    contact_id: &str,
    kind: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT scope, address FROM contact_addresses WHERE contact_id = ?1 AND kind = ?2 AND valid = 1 ORDER BY created_at DESC LIMIT 1",
    )?
    .query_row([contact_id, kind], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?)
}
