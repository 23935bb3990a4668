//! Bot hosting: rows only. A conversation's `hosted` flag, the history of its switches, and
//! the workspace's `hosting_default`. What a switch means (its events, the automations it
//! stops) is the gateway's (`hosting.rs`).

use crate::StoreError;
use crate::model::Millis;
use crate::sql::{Connection, OptionalExtension, Transaction, params};

/// One switch of a conversation's hosting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostingChange {
    pub hosted: bool,
    /// The member who switched it (none for an API call without `member`, or an automation).
    pub member_id: Option<String>,
    /// `member`, `api` or `automation`.
    pub by: String,
    pub at: Millis,
}

/// The conversation a contact id or a conversation id names in the workspace (the
/// conversation paths accept either): its id.
pub fn resolve(
    c: &Connection,
    workspace_id: &str,
    contact_or_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT id FROM conversations WHERE workspace_id = ?1 AND (contact_id = ?2 OR id = ?2)",
    )?
    .query_row(params![workspace_id, contact_or_id], |r| r.get(0))
    .optional()?)
}

/// Set one conversation's flag. `Some(contact)` when it changed; `None` when it already had
/// that value (or is not the workspace's), so switching twice writes nothing twice.
pub fn set_hosted(
    t: &Transaction,
    workspace_id: &str,
    conversation_id: &str,
    hosted: bool,
) -> Result<Option<String>, StoreError> {
    Ok(t
        .prepare_cached(
            "UPDATE conversations SET hosted = ?3 WHERE id = ?2 AND workspace_id = ?1 AND hosted <> ?3 RETURNING contact_id",
        )?
        .query_row(params![workspace_id, conversation_id, hosted], |r| r.get(0))
        .optional()?)
}

/// Set the flag of every assigned conversation of the workspace (an owner, and not
/// finished) that does not have it yet, in one statement: `(id, contact)` of each changed.
pub fn set_hosted_all_assigned(
    t: &Transaction,
    workspace_id: &str,
    hosted: bool,
) -> Result<Vec<(String, String)>, StoreError> {
    // `state IN (...)` rather than `<> 'finished'`, so the (workspace, state) index serves it.
    Ok(t
        .prepare_cached(
            "UPDATE conversations SET hosted = ?2
             WHERE workspace_id = ?1 AND state IN ('unanswered', 'active') AND owner IS NOT NULL AND hosted <> ?2
             RETURNING id, contact_id",
        )?
        .query_map(params![workspace_id, hosted], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

pub fn insert_change(
    t: &Transaction,
    workspace_id: &str,
    conversation_id: &str,
    ch: &HostingChange,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO hosting_changes (workspace_id, conversation_id, hosted, member_id, switched_by, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![workspace_id, conversation_id, ch.hosted, ch.member_id, ch.by, ch.at])?;
    Ok(())
}

/// A conversation's switches, oldest first.
pub fn history(c: &Connection, conversation_id: &str) -> Result<Vec<HostingChange>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT hosted, member_id, switched_by, at FROM hosting_changes WHERE conversation_id = ?1 ORDER BY seq",
        )?
        .query_map([conversation_id], |r| {
            Ok(HostingChange {
                hosted: r.get(0)?,
                member_id: r.get(1)?,
                by: r.get(2)?,
                at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Whether a new conversation of the workspace starts hosted.
pub fn hosting_default(c: &Connection, workspace_id: &str) -> Result<bool, StoreError> {
    Ok(
        c.prepare_cached("SELECT hosting_default FROM workspaces WHERE id = ?1")?
            .query_row([workspace_id], |r| r.get(0))
            .optional()?
            .unwrap_or(false),
    )
}

pub fn set_hosting_default(
    t: &Transaction,
    workspace_id: &str,
    hosted: bool,
) -> Result<bool, StoreError> {
    Ok(
        t.prepare_cached("UPDATE workspaces SET hosting_default = ?2 WHERE id = ?1")?
            .execute(params![workspace_id, hosted])?
            == 1,
    )
}
