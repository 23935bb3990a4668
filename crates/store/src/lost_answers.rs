//! Sends whose answer was lost: the window of the attempts that may have reached the
//! provider, and what the workspace (or the message's policy) chose to do when the provider
//! cannot be asked. Rows only; the reconciliation itself is the dispatcher's.

use crate::StoreError;
use crate::model::AmbiguousSends;
use crate::model::Millis;
use crate::model::policy::Policy;
use crate::sql::{Connection, OptionalExtension, Transaction, params};

/// What a lease that ended without an outcome records (`deliveries::end_leases_as_unknown`):
/// such an attempt may not have reached the plugin at all (the delivery may have waited for a
/// slot all along), so it does not count against `--max-attempts`.
pub const UNFINISHED_LEASE: &str = "the gateway stopped while this attempt may have been in flight";

/// What a claim needs to know of a delivery's lost answers, in one read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LostAnswers {
    /// When the last attempt lost its answer: from the start of the first such attempt to
    /// the end of the last (every one of them may have created the message).
    pub window: Option<(Millis, Millis)>,
    /// Attempts that were leases ended unfinished: not counted against the attempt budget.
    pub unfinished: u32,
}

pub fn lost_answers(c: &Connection, delivery_id: &str) -> Result<LostAnswers, StoreError> {
    let (last, from, to, unfinished) = c
        .prepare_cached(
            "SELECT (SELECT outcome FROM attempts WHERE delivery_id = ?1 ORDER BY number DESC LIMIT 1),
                    MIN(CASE WHEN outcome = 'unknown' THEN started_at END),
                    MAX(CASE WHEN outcome = 'unknown' THEN finished_at END),
                    COUNT(CASE WHEN outcome = 'unknown' AND detail = ?2 THEN 1 END)
             FROM attempts WHERE delivery_id = ?1",
        )?
        .query_row(params![delivery_id, UNFINISHED_LEASE], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<Millis>>(1)?,
                r.get::<_, Option<Millis>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
    let window = match (last.as_deref(), from, to) {
        (Some("unknown"), Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    Ok(LostAnswers {
        window,
        unfinished: unfinished as u32,
    })
}

/// The message's policy's choice if it has one, else its workspace's.
pub fn ambiguous_sends(c: &Connection, message_id: &str) -> Result<AmbiguousSends, StoreError> {
    let row: Option<(Option<String>, String)> = c
        .prepare_cached(
            "SELECT m.route_policy, w.ambiguous_sends FROM messages m JOIN workspaces w ON w.id = m.workspace_id WHERE m.id = ?1",
        )?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((policy, workspace)) = row else {
        return Ok(AmbiguousSends::default());
    };
    // The policy is stored as it was accepted; one that no longer parses has no say.
    let from_policy = policy
        .and_then(|p| serde_json::from_str::<Policy>(&p).ok())
        .and_then(|p| p.ambiguous_sends);
    // The column only ever holds `as_str` values; anything else reads as the default.
    Ok(from_policy.unwrap_or_else(|| AmbiguousSends::parse(&workspace).unwrap_or_default()))
}

pub fn set_ambiguous_sends(
    t: &Transaction,
    workspace_id: &str,
    to: AmbiguousSends,
) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE workspaces SET ambiguous_sends = ?2 WHERE id = ?1")?
        .execute(params![workspace_id, to.as_str()])?;
    Ok(())
}
