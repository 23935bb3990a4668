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

/// The delivery's attempts that ended with an unfinished lease: not counted against the
/// attempt budget.
pub fn unfinished_leases(c: &Connection, delivery_id: &str) -> Result<u32, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT COUNT(*) FROM attempts WHERE delivery_id = ?1 AND outcome = 'unknown' AND detail = ?2",
        )?
        .query_row(params![delivery_id, UNFINISHED_LEASE], |r| r.get::<_, i64>(0))? as u32)
}

/// When the delivery's last attempt lost its answer: from the start of the first such
/// attempt to the end of the last (every one of them may have created the message).
pub fn lost_window(
    c: &Connection,
    delivery_id: &str,
) -> Result<Option<(Millis, Millis)>, StoreError> {
    let last: Option<String> = c
        .prepare_cached(
            "SELECT outcome FROM attempts WHERE delivery_id = ?1 ORDER BY number DESC LIMIT 1",
        )?
        .query_row([delivery_id], |r| r.get(0))
        .optional()?;
    if last.as_deref() != Some("unknown") {
        return Ok(None);
    }
    Ok(c
        .prepare_cached(
            "SELECT MIN(started_at), MAX(finished_at) FROM attempts WHERE delivery_id = ?1 AND outcome = 'unknown'",
        )?
        .query_row([delivery_id], |r| {
            Ok((r.get::<_, Option<Millis>>(0)?, r.get::<_, Option<Millis>>(1)?))
        })
        .optional()?
        .and_then(|(from, to)| Some((from?, to?))))
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
    let from_policy = policy
        .and_then(|p| serde_json::from_str::<Policy>(&p).ok())
        .and_then(|p| p.ambiguous_sends);
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
