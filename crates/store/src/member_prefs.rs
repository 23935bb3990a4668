//! What a member wants to be told, and when: their time zone, the daily digest and the
//! offline push, their presence and the digest's schedule. Rows only; the rules (when 07:00
//! is, who is offline, what the digest lists) are the gateway's (`digest.rs`).

use crate::StoreError;
use crate::model::Millis;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefsRow {
    pub member_id: String,
    pub workspace_id: String,
    pub email: String,
    pub name: String,
    pub time_zone: String,
    pub digest: bool,
    pub offline_push: bool,
    pub push_token: Option<String>,
    pub push_platform: Option<String>,
    pub last_seen_at: Option<Millis>,
    pub present: bool,
    pub digest_due_at: Option<Millis>,
    pub digest_last_day: Option<String>,
    /// How their lists name a contact.
    pub list_label: crate::model::ListLabel,
}

const COLUMNS: &str = "id, workspace_id, email, name, time_zone, notify_digest, notify_offline_push, push_token, push_platform, last_seen_at, present, digest_due_at, digest_last_day, list_label";

fn prefs(r: &Row<'_>) -> crate::sql::Result<PrefsRow> {
    Ok(PrefsRow {
        member_id: r.get(0)?,
        workspace_id: r.get(1)?,
        email: r.get(2)?,
        name: r.get(3)?,
        time_zone: r.get(4)?,
        digest: r.get::<_, i64>(5)? != 0,
        offline_push: r.get::<_, i64>(6)? != 0,
        push_token: r.get(7)?,
        push_platform: r.get(8)?,
        last_seen_at: r.get(9)?,
        present: r.get::<_, i64>(10)? != 0,
        digest_due_at: r.get(11)?,
        digest_last_day: r.get(12)?,
        list_label: {
            let label: String = r.get(13)?;
            crate::model::ListLabel::parse(&label).ok_or_else(|| {
                crate::sql::Error::conversion(13, format!("unknown list label {label:?}"))
            })?
        },
    })
}

pub fn prefs_of(
    c: &Connection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Option<PrefsRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM members WHERE workspace_id = ?1 AND id = ?2"
    ))?
    .query_row(params![workspace_id, member_id], prefs)
    .optional()?)
}

/// Save the preferences part of `p`; a changed time zone or digest switch reschedules the
/// digest (`digest_due_at` to `None`, which the digest loop fills in).
pub fn save_prefs(t: &Transaction, p: &PrefsRow) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE members SET time_zone = ?3, notify_digest = ?4, notify_offline_push = ?5, push_token = ?6, push_platform = ?7, list_label = ?8,
                digest_due_at = CASE WHEN time_zone <> ?3 OR notify_digest <> ?4 THEN NULL ELSE digest_due_at END
         WHERE workspace_id = ?1 AND id = ?2",
    )?
    .execute(params![p.workspace_id, p.member_id, p.time_zone, p.digest as i64, p.offline_push as i64, p.push_token, p.push_platform, p.list_label.as_str()])?;
    Ok(())
}

/// A sign of the member's presence: `present` false when they left.
pub fn touch(
    t: &Transaction,
    workspace_id: &str,
    member_id: &str,
    at: Millis,
    present: bool,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "UPDATE members SET last_seen_at = ?3, present = ?4 WHERE workspace_id = ?1 AND id = ?2",
    )?
    .execute(params![workspace_id, member_id, at, present as i64])?
        == 1)
}

/// Members with the digest on and no schedule yet.
pub fn unscheduled(c: &Connection, limit: u32) -> Result<Vec<PrefsRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM members WHERE notify_digest = 1 AND digest_due_at IS NULL LIMIT ?1"
    ))?
    .query_map([limit as i64], prefs)?
    .collect::<Result<_, _>>()?)
}

/// Members whose digest is due at `now`.
pub fn digests_due(c: &Connection, now: Millis, limit: u32) -> Result<Vec<PrefsRow>, StoreError> {
    Ok(c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM members WHERE notify_digest = 1 AND digest_due_at IS NOT NULL AND digest_due_at <= ?1
             ORDER BY digest_due_at LIMIT ?2"
        ))?
        .query_map(params![now, limit as i64], prefs)?
        .collect::<Result<_, _>>()?)
}

/// The digest was handled for `day` (sent, or nothing waited): schedule the next one. Only
/// from the schedule it was due on, so two nodes cannot both move it.
pub fn digest_done(
    t: &Transaction,
    member_id: &str,
    was_due: Option<Millis>,
    day: Option<&str>,
    next_due: Millis,
) -> Result<bool, StoreError> {
    Ok(t
        .prepare_cached(
            "UPDATE members SET digest_due_at = ?3, digest_last_day = COALESCE(?4, digest_last_day)
             WHERE id = ?1 AND (digest_due_at = ?2 OR (digest_due_at IS NULL AND CAST(?2 AS BIGINT) IS NULL))",
        )?
        .execute(params![member_id, was_due, next_due, day])?
        == 1)
}

/// The conversations waiting for a member: theirs, with a customer waiting, oldest wait
/// first: `(conversation id, contact id, waiting since)`.
pub fn waiting_for(
    c: &Connection,
    workspace_id: &str,
    member_id: &str,
) -> Result<Vec<(String, String, Millis)>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT id, contact_id, waiting_since FROM conversations
             WHERE workspace_id = ?1 AND owner = ?2 AND waiting_since IS NOT NULL AND state <> 'finished'
             ORDER BY waiting_since, id",
        )?
        .query_map(params![workspace_id, member_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?)
}
