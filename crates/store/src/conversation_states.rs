//! Conversation states, owners and the events they leave: rows only. Which transitions are
//! allowed, who may take or finish, and what a statistic means are the gateway's
//! (`conversations/`).

use crate::StoreError;
use crate::model::Millis;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

/// A conversation's state row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationState {
    pub id: String,
    pub workspace_id: String,
    pub contact_id: String,
    /// `unanswered`, `active` or `finished`.
    pub state: String,
    pub owner: Option<String>,
    pub state_at: Millis,
    pub opened_at: Millis,
    pub waiting_since: Option<Millis>,
    /// When the no-reply alert of the current wait is due.
    pub alert_due_at: Option<Millis>,
    pub created_at: Millis,
    /// Whether the workspace's automations answer it (bot hosting). Read here for the views;
    /// [`save_state`] leaves it alone: only `hosting::set_hosted*` switch it, with history.
    pub hosted: bool,
}

const COLUMNS: &str = "id, workspace_id, contact_id, state, owner, COALESCE(state_at, created_at), COALESCE(opened_at, created_at), waiting_since, created_at, alert_due_at, hosted";

pub(crate) fn state_row(r: &Row<'_>) -> crate::sql::Result<ConversationState> {
    Ok(ConversationState {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        contact_id: r.get(2)?,
        state: r.get(3)?,
        owner: r.get(4)?,
        state_at: r.get(5)?,
        opened_at: r.get(6)?,
        waiting_since: r.get(7)?,
        created_at: r.get(8)?,
        alert_due_at: r.get(9)?,
        hosted: r.get(10)?,
    })
}

/// The conversation of a contact, or by its own id (either names it).
pub fn state_of(
    c: &Connection,
    workspace_id: &str,
    contact_or_id: &str,
) -> Result<Option<ConversationState>, StoreError> {
    Ok(c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM conversations WHERE workspace_id = ?1 AND (contact_id = ?2 OR id = ?2)"
        ))?
        .query_row(params![workspace_id, contact_or_id], state_row)
        .optional()?)
}

/// Write a conversation's state columns as `s` has them.
pub fn save_state(t: &Transaction, s: &ConversationState) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE conversations SET state = ?2, owner = ?3, state_at = ?4, opened_at = ?5, waiting_since = ?6, alert_due_at = ?7 WHERE id = ?1",
    )?
    .execute(params![s.id, s.state, s.owner, s.state_at, s.opened_at, s.waiting_since, s.alert_due_at])?;
    Ok(())
}

/// One transition, as the statistics read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationEvent {
    pub kind: String,
    pub member_id: Option<String>,
    pub previous_owner: Option<String>,
    /// The response time (`answered`) or the handling time (`finished`).
    pub value_ms: Option<Millis>,
    pub at: Millis,
}

pub fn insert_event(
    t: &Transaction,
    workspace_id: &str,
    conversation_id: &str,
    e: &ConversationEvent,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO conversation_events (workspace_id, conversation_id, kind, member_id, previous_owner, value_ms, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![workspace_id, conversation_id, e.kind, e.member_id, e.previous_owner, e.value_ms, e.at])?;
    Ok(())
}

/// A conversation's events, oldest first.
pub fn events(c: &Connection, conversation_id: &str) -> Result<Vec<ConversationEvent>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT kind, member_id, previous_owner, value_ms, at FROM conversation_events WHERE conversation_id = ?1 ORDER BY seq",
        )?
        .query_map([conversation_id], |r| {
            Ok(ConversationEvent {
                kind: r.get(0)?,
                member_id: r.get(1)?,
                previous_owner: r.get(2)?,
                value_ms: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Conversations by id (creation order), optionally in one state and of one owner.
pub fn list(
    c: &Connection,
    workspace_id: &str,
    state: Option<&str>,
    owner: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<ConversationState>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations
             WHERE workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR state = ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR owner = ?3) AND id > ?4
             ORDER BY id LIMIT ?5"
    ))?
    .query_map(
        params![
            workspace_id,
            state,
            owner,
            after.unwrap_or_default(),
            limit as i64
        ],
        state_row,
    )?
    .collect::<Result<_, _>>()?)
}

/// What the statistics add up over `[since, until)`, optionally for one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTotals {
    pub finished: i64,
    pub answered: i64,
    pub response_count: i64,
    pub response_ms_total: i64,
    pub handling_count: i64,
    pub handling_ms_total: i64,
    /// Conversations whose last state event at or before `until` left them active.
    pub active: i64,
}

pub fn totals(
    c: &Connection,
    workspace_id: &str,
    since: Millis,
    until: Millis,
    member: Option<&str>,
) -> Result<EventTotals, StoreError> {
    let (finished, answered, response_count, response_ms_total, handling_count, handling_ms_total) = c
        .prepare_cached(
            "SELECT
                CAST(COALESCE(SUM(CASE WHEN kind = 'finished' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COUNT(DISTINCT CASE WHEN kind = 'answered' THEN conversation_id END) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN kind = 'answered' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN kind = 'answered' THEN value_ms ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN kind = 'finished' AND value_ms IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN kind = 'finished' THEN COALESCE(value_ms, 0) ELSE 0 END), 0) AS BIGINT)
             FROM conversation_events
             WHERE workspace_id = ?1 AND at >= ?2 AND at < ?3 AND (CAST(?4 AS TEXT) IS NULL OR member_id = ?4)",
        )?
        .query_row(params![workspace_id, since, until, member], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
    // The state a conversation was in at `until` is the one its last state event set; an
    // active one belongs to whoever that event names.
    let active: i64 = c
        .prepare_cached(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM conversation_events e
             WHERE e.workspace_id = ?1 AND e.at < ?2 AND e.kind IN ('taken', 'overtaken')
               AND (CAST(?3 AS TEXT) IS NULL OR e.member_id = ?3)
               AND e.seq = (SELECT MAX(l.seq) FROM conversation_events l
                            WHERE l.conversation_id = e.conversation_id AND l.at < ?2
                              AND l.kind IN ('opened', 'taken', 'overtaken', 'finished', 'reopened', 'handed_over', 'released'))",
        )?
        .query_row(params![workspace_id, until, member], |r| r.get(0))?;
    Ok(EventTotals {
        finished,
        answered,
        response_count,
        response_ms_total,
        handling_count,
        handling_ms_total,
        active,
    })
}

/// The workspace's no-reply alert delay, if it has one.
pub fn no_reply_alert_minutes(
    c: &Connection,
    workspace_id: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(
        c.prepare_cached("SELECT no_reply_alert_minutes FROM workspaces WHERE id = ?1")?
            .query_row([workspace_id], |r| r.get(0))
            .optional()?
            .flatten(),
    )
}

pub fn set_no_reply_alert_minutes(
    t: &Transaction,
    workspace_id: &str,
    minutes: Option<i64>,
) -> Result<bool, StoreError> {
    Ok(
        t.prepare_cached("UPDATE workspaces SET no_reply_alert_minutes = ?2 WHERE id = ?1")?
            .execute(params![workspace_id, minutes])?
            == 1,
    )
}

/// Conversations whose no-reply alert is due at `now`, oldest due first.
pub fn alerts_due(
    c: &Connection,
    now: Millis,
    limit: u32,
) -> Result<Vec<ConversationState>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations WHERE alert_due_at IS NOT NULL AND alert_due_at <= ?1
             ORDER BY alert_due_at LIMIT ?2"
    ))?
    .query_map(params![now, limit as i64], state_row)?
    .collect::<Result<_, _>>()?)
}

/// The alert of the wait that began at `waiting_since` was sent: clear it, unless the
/// conversation has moved on (then nothing changes).
pub fn alert_sent(t: &Transaction, id: &str, due_at: Millis) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "UPDATE conversations SET alert_due_at = NULL WHERE id = ?1 AND alert_due_at = ?2",
    )?
    .execute(params![id, due_at])?
        == 1)
}
