//! Sign-ins with a provider that connect channel accounts (the console's "Connect with
//! Facebook"): rows only. The `state` and the pick form's token arrive as digests, and the
//! pages the provider listed arrive sealed; what a flow may do and when it expires are the
//! gateway's (`facebook_login/`).

use crate::StoreError;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

#[derive(Debug, Clone)]
pub struct FlowRow {
    pub id: String,
    pub workspace_id: String,
    pub member_id: String,
    pub provider: String,
    /// The connection this flow reconnects, if it was started from one.
    pub reconnect: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub called_back_at: Option<i64>,
    pub pick_token_hash: Option<String>,
    /// The vault's envelope of what the provider listed (with its tokens).
    pub sealed_pages: Option<String>,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, workspace_id, member_id, provider, reconnect, created_at, expires_at, called_back_at, pick_token_hash, sealed_pages, finished_at";

fn flow(r: &Row<'_>) -> crate::sql::Result<FlowRow> {
    Ok(FlowRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        member_id: r.get(2)?,
        provider: r.get(3)?,
        reconnect: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        called_back_at: r.get(7)?,
        pick_token_hash: r.get(8)?,
        sealed_pages: r.get(9)?,
        finished_at: r.get(10)?,
    })
}

pub fn insert_flow(t: &Transaction, row: &FlowRow, state_hash: &str) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO oauth_flows (id, state_hash, workspace_id, member_id, provider, reconnect, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        row.id,
        state_hash,
        row.workspace_id,
        row.member_id,
        row.provider,
        row.reconnect,
        row.created_at,
        row.expires_at
    ])?;
    Ok(())
}

/// Mark the flow of `state_hash` called back, once: `None` for a state that is unknown,
/// already used or expired at `now`.
pub fn take_state(
    t: &Transaction,
    state_hash: &str,
    now: i64,
) -> Result<Option<FlowRow>, StoreError> {
    Ok(t.prepare_cached(&format!(
        "UPDATE oauth_flows SET called_back_at = ?2
             WHERE state_hash = ?1 AND called_back_at IS NULL AND expires_at > ?2
             RETURNING {COLUMNS}"
    ))?
    .query_row(params![state_hash, now], flow)
    .optional()?)
}

pub fn set_pages(
    t: &Transaction,
    id: &str,
    pick_token_hash: &str,
    sealed_pages: &str,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE oauth_flows SET pick_token_hash = ?2, sealed_pages = ?3 WHERE id = ?1",
    )?
    .execute(params![id, pick_token_hash, sealed_pages])?;
    Ok(())
}

pub fn flow_by_id(c: &Connection, id: &str) -> Result<Option<FlowRow>, StoreError> {
    Ok(
        c.prepare_cached(&format!("SELECT {COLUMNS} FROM oauth_flows WHERE id = ?1"))?
            .query_row([id], flow)
            .optional()?,
    )
}

/// Finish the flow, once: `false` if it was already finished. Its sealed pages are erased.
pub fn finish_flow(t: &Transaction, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(t
        .prepare_cached(
            "UPDATE oauth_flows SET finished_at = ?2, sealed_pages = NULL WHERE id = ?1 AND finished_at IS NULL",
        )?
        .execute(params![id, now])?
        == 1)
}
