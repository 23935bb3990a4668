//! Notification rules, results, their notifications and members' inboxes: rows only. What a
//! condition means, which targets a result reaches and how each is notified are the
//! gateway's (`rules/`). Conditions, targets and result bodies are stored as the JSON the
//! gateway checked.

use crate::StoreError;
use crate::model::Millis;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub condition: String,
    pub targets: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

const RULE_COLUMNS: &str = "id, workspace_id, name, condition, targets, created_at, updated_at";

fn rule(r: &Row<'_>) -> crate::sql::Result<RuleRow> {
    Ok(RuleRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        name: r.get(2)?,
        condition: r.get(3)?,
        targets: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Insert a rule; `false` when the workspace has a rule of that name.
pub fn insert_rule(t: &Transaction, r: &RuleRow) -> Result<bool, StoreError> {
    Ok(t
        .prepare_cached(
            "INSERT INTO notification_rules (id, workspace_id, name, condition, targets, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (workspace_id, name) DO NOTHING",
        )?
        .execute(params![r.id, r.workspace_id, r.name, r.condition, r.targets, r.created_at, r.updated_at])?
        == 1)
}

/// Replace a rule's name, condition and targets; `false` when there is no such rule.
pub fn update_rule(t: &Transaction, r: &RuleRow) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "UPDATE notification_rules SET name = ?3, condition = ?4, targets = ?5, updated_at = ?6
             WHERE workspace_id = ?1 AND id = ?2",
    )?
    .execute(params![
        r.workspace_id,
        r.id,
        r.name,
        r.condition,
        r.targets,
        r.updated_at
    ])? == 1)
}

/// Whether another rule of the workspace has this name.
pub fn name_taken(
    t: &Transaction,
    workspace_id: &str,
    name: &str,
    except: &str,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "SELECT 1 FROM notification_rules WHERE workspace_id = ?1 AND name = ?2 AND id <> ?3",
    )?
    .exists(params![workspace_id, name, except])?)
}

pub fn delete_rule(t: &Transaction, workspace_id: &str, id: &str) -> Result<bool, StoreError> {
    Ok(
        t.prepare_cached("DELETE FROM notification_rules WHERE workspace_id = ?1 AND id = ?2")?
            .execute(params![workspace_id, id])?
            == 1,
    )
}

pub fn rules(c: &Connection, workspace_id: &str) -> Result<Vec<RuleRow>, StoreError> {
    Ok(c
        .prepare_cached(&format!(
            "SELECT {RULE_COLUMNS} FROM notification_rules WHERE workspace_id = ?1 ORDER BY created_at, id"
        ))?
        .query_map([workspace_id], rule)?
        .collect::<Result<_, _>>()?)
}

pub fn rule_by_id(
    c: &Connection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<RuleRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM notification_rules WHERE workspace_id = ?1 AND id = ?2"
    ))?
    .query_row(params![workspace_id, id], rule)
    .optional()?)
}

/// A result's row: `(id, body, request_hash, created_at)`.
pub type ResultRow = (String, String, String, Millis);

pub fn result_by_key(
    c: &Connection,
    workspace_id: &str,
    key: &str,
) -> Result<Option<ResultRow>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT id, body, request_hash, created_at FROM results WHERE workspace_id = ?1 AND idempotency_key = ?2",
        )?
        .query_row(params![workspace_id, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?)
}

pub fn result_by_id(
    c: &Connection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ResultRow>, StoreError> {
    Ok(c
        .prepare_cached("SELECT id, body, request_hash, created_at FROM results WHERE workspace_id = ?1 AND id = ?2")?
        .query_row(params![workspace_id, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?)
}

/// Insert a result; `false` when its idempotency key was taken first (by a concurrent
/// request).
pub fn insert_result(
    t: &Transaction,
    workspace_id: &str,
    row: &ResultRow,
    key: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "INSERT INTO results (id, workspace_id, body, idempotency_key, request_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?
    .execute(params![row.0, workspace_id, row.1, key, row.2, row.3])?
        == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: String,
    pub workspace_id: String,
    pub result_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub target: String,
    pub state: String,
    pub message_id: Option<String>,
    pub detail: Option<String>,
    pub created_at: Millis,
    /// The message's overall status, when it has one (read only).
    pub message_status: Option<String>,
}

const NOTIFICATION_COLUMNS: &str = "n.id, n.workspace_id, n.result_id, n.rule_id, n.rule_name, n.target, n.state, n.message_id, n.detail, n.created_at, m.status";

fn notification(r: &Row<'_>) -> crate::sql::Result<NotificationRow> {
    Ok(NotificationRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        result_id: r.get(2)?,
        rule_id: r.get(3)?,
        rule_name: r.get(4)?,
        target: r.get(5)?,
        state: r.get(6)?,
        message_id: r.get(7)?,
        detail: r.get(8)?,
        created_at: r.get(9)?,
        message_status: r.get(10)?,
    })
}

pub fn insert_notification(t: &Transaction, n: &NotificationRow) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO result_notifications (id, workspace_id, result_id, rule_id, rule_name, target, state, message_id, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![n.id, n.workspace_id, n.result_id, n.rule_id, n.rule_name, n.target, n.state, n.message_id, n.detail, n.created_at])?;
    Ok(())
}

/// A pending notification was handed on: `sent` with its message, or `failed` with why.
pub fn settle_notification(
    t: &Transaction,
    id: &str,
    state: &str,
    message_id: Option<&str>,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE result_notifications SET state = ?2, message_id = ?3, detail = ?4 WHERE id = ?1 AND state = 'pending'",
    )?
    .execute(params![id, state, message_id, detail])?;
    Ok(())
}

pub fn notifications_of(
    c: &Connection,
    result_id: &str,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(c
        .prepare_cached(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM result_notifications n LEFT JOIN messages m ON m.id = n.message_id
             WHERE n.result_id = ?1 ORDER BY n.created_at, n.id"
        ))?
        .query_map([result_id], notification)?
        .collect::<Result<_, _>>()?)
}

/// Notifications still pending that were made before `before` (a crash left them).
pub fn pending_notifications(
    c: &Connection,
    before: Millis,
    limit: u32,
) -> Result<Vec<NotificationRow>, StoreError> {
    Ok(c
        .prepare_cached(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM result_notifications n LEFT JOIN messages m ON m.id = n.message_id
             WHERE n.state = 'pending' AND n.created_at < ?1 ORDER BY n.created_at LIMIT ?2"
        ))?
        .query_map(params![before, limit as i64], notification)?
        .collect::<Result<_, _>>()?)
}

#[allow(clippy::too_many_arguments)]
pub fn insert_inbox_item(
    t: &Transaction,
    id: &str,
    workspace_id: &str,
    member_id: &str,
    kind: &str,
    title: &str,
    data: &str,
    at: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO member_inbox (id, workspace_id, member_id, kind, title, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, workspace_id, member_id, kind, title, data, at])?;
    Ok(())
}

/// An inbox item as stored: `(id, kind, title, data, created_at)`.
pub type InboxRow = (String, String, String, String, Millis);

/// A member's inbox, newest first.
pub fn inbox(
    c: &Connection,
    workspace_id: &str,
    member_id: &str,
    limit: u32,
) -> Result<Vec<InboxRow>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT id, kind, title, data, created_at FROM member_inbox WHERE workspace_id = ?1 AND member_id = ?2
             ORDER BY created_at DESC, id DESC LIMIT ?3",
        )?
        .query_map(params![workspace_id, member_id, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?)
}
