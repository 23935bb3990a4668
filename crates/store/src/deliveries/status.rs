//! Status changes on the delivery rows: each returns the row as the change left it
//! ([`StatusRow`]), so the lifecycle builds the timeline line and the outbound event without
//! reading the row again; and the message's status, which follows its deliveries'.

use crate::sql::{Connection, OptionalExtension, Transaction, params};

use super::status_at;
use crate::StoreError;
use crate::model::{Millis, Status};
use crate::parse_status;

/// A delivery as a status change left it: what its route step and its outbound event need,
/// returned by the change itself (`UPDATE … RETURNING`) rather than read again.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub delivery_id: String,
    pub workspace_id: String,
    pub message_id: String,
    pub channel: String,
    pub connection_id: String,
    pub status: Status,
    pub provider_message_id: Option<String>,
    pub failure_reason: Option<String>,
    pub failure_code: Option<String>,
    pub failure_detail: Option<String>,
    pub step: Option<i64>,
    pub contact_id: Option<String>,
}

/// The columns of a [`StatusRow`] after its delivery id, for `RETURNING` and `SELECT` alike.
/// A macro so each statement is one `concat!`ed constant: these run several times per
/// message, and a `format!` would build the same SQL text every time.
macro_rules! status_row_columns {
    () => {
        "message_id, channel, connection_id, status, provider_message_id,
         failure_reason, failure_code, failure_detail, step,
         (SELECT m.workspace_id FROM messages m WHERE m.id = deliveries.message_id),
         (SELECT m.contact_id FROM messages m WHERE m.id = deliveries.message_id)"
    };
}

fn status_row(delivery_id: &str, r: &crate::sql::Row<'_>) -> crate::sql::Result<StatusRow> {
    Ok(StatusRow {
        delivery_id: delivery_id.to_string(),
        message_id: r.get(0)?,
        channel: r.get(1)?,
        connection_id: r.get(2)?,
        status: status_at(r, 3)?,
        provider_message_id: r.get(4)?,
        failure_reason: r.get(5)?,
        failure_code: r.get(6)?,
        failure_detail: r.get(7)?,
        step: r.get(8)?,
        workspace_id: r.get(9)?,
        contact_id: r.get(10)?,
    })
}

/// Set a delivery's status; the row as it now stands, or `None` when there is no such
/// delivery.
pub fn set_status(
    t: &Transaction,
    delivery_id: &str,
    status: Status,
    now: Millis,
) -> Result<Option<StatusRow>, StoreError> {
    Ok(t.prepare_cached(concat!(
        "UPDATE deliveries SET status = ?2, updated_at = ?3 WHERE id = ?1 RETURNING ",
        status_row_columns!()
    ))?
    .query_row(params![delivery_id, status.as_str(), now], |r| {
        status_row(delivery_id, r)
    })
    .optional()?)
}

/// A delivery's [`StatusRow`] as it stands, for an event about a change made earlier.
pub fn current_status_row(
    t: &Connection,
    delivery_id: &str,
) -> Result<Option<StatusRow>, StoreError> {
    Ok(t.prepare_cached(concat!(
        "SELECT ",
        status_row_columns!(),
        " FROM deliveries WHERE id = ?1"
    ))?
    .query_row(params![delivery_id], |r| status_row(delivery_id, r))
    .optional()?)
}

/// The message's status is its only delivery's, set in one statement: `false` when the
/// message has other deliveries (or none), and the caller must weigh them.
pub fn set_message_status_from_only_delivery(
    t: &Transaction,
    message_id: &str,
    delivery_id: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let changed = t
        .prepare_cached(
            "UPDATE messages SET status = (SELECT status FROM deliveries WHERE id = ?2), updated_at = ?3
             WHERE id = ?1 AND EXISTS (SELECT 1 FROM deliveries WHERE id = ?2 AND message_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = ?1 AND id <> ?2)",
        )?
        .execute(params![message_id, delivery_id, now])?;
    Ok(changed == 1)
}

/// The statuses of a message's deliveries.
pub fn statuses_of_message(t: &Transaction, message_id: &str) -> Result<Vec<Status>, StoreError> {
    let mut stmt = t.prepare_cached("SELECT status FROM deliveries WHERE message_id = ?1")?;
    let statuses = stmt
        .query_map([message_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    statuses.iter().map(|s| parse_status(s)).collect()
}

pub fn set_message_status(
    t: &Transaction,
    message_id: &str,
    status: Status,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE messages SET status = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![message_id, status.as_str(), now])?;
    Ok(())
}

/// One line of a delivery's timeline; `applied` is false for a report that changed nothing.
pub fn insert_timeline(
    t: &Transaction,
    delivery_id: &str,
    status: Status,
    at: Millis,
    source: &str,
    detail: Option<&str>,
    applied: bool,
) -> Result<(), StoreError> {
    t.prepare_cached("INSERT INTO events (delivery_id, status, at, source, detail, applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![delivery_id, status.as_str(), at, source, detail, applied])?;
    Ok(())
}

/// The provider took the delivery: its id, the attempt count, and when it was sent; the
/// lease and any earlier failure are cleared.
pub fn record_accepted(
    t: &Transaction,
    delivery_id: &str,
    provider_message_id: &str,
    attempts: u32,
    now: Millis,
    sent_at: Millis,
    status: Option<Status>,
) -> Result<Option<StatusRow>, StoreError> {
    // One write of the row: the provider's id, the cleared lease and, when the delivery moves,
    // its new status, returned as the status change's row.
    let row = t
        .prepare_cached(concat!(
            "UPDATE deliveries SET provider_message_id = ?2, attempts = ?3, next_attempt_at = NULL,
                lease_token = NULL, lease_until = NULL, failure_reason = NULL, failure_code = NULL,
                failure_detail = NULL, failure_retryable = NULL, updated_at = ?4, sent_at = ?5,
                status = COALESCE(?6, status)
             WHERE id = ?1 RETURNING ",
            status_row_columns!()
        ))?
        .query_row(
            params![
                delivery_id,
                provider_message_id,
                attempts,
                now,
                sent_at,
                status.map(Status::as_str)
            ],
            |r| status_row(delivery_id, r),
        )
        .optional()?;
    Ok(row.filter(|_| status.is_some()))
}
