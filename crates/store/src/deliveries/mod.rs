//! The delivery tables: `deliveries`, their `attempts`, their timeline (`events`), callbacks
//! that arrived before their send was recorded (`early_callbacks`) and Messenger's kept
//! `watermarks`.
//!
//! Every function here is one table operation in the caller's transaction. Which status may
//! follow which, what a status change costs or refunds, and who hears about it are the
//! delivery lifecycle's rules (`crate::lifecycle`), which compose these operations inside one
//! [`Store::write`](super::Store::write).

mod status;
pub use status::*;

use crate::sql::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use super::parse_status;
use crate::model::{AttemptOutcome, FailureReason, Millis, NewMessage, Status};

/// A delivery row as a lease took it.
#[derive(Debug, Clone)]
pub struct LeasedRow {
    pub delivery_id: String,
    pub message_id: String,
    pub connection_id: String,
    pub attempts: u32,
    pub status: Status,
    pub channel: String,
    pub product: Option<String>,
    pub units: Option<u32>,
    pub country: Option<String>,
    /// The route step, for a routed message's delivery.
    pub step: Option<i64>,
}

/// A delivery row as its lease holder finds it again.
#[derive(Debug, Clone)]
pub struct LeaseHolder {
    pub message_id: String,
    pub connection_id: String,
    pub status: Status,
    pub attempts: u32,
}

/// One attempt's row.
#[derive(Debug, Clone)]
pub struct AttemptRow<'a> {
    pub delivery_id: &'a str,
    pub number: u32,
    pub started_at: Millis,
    pub finished_at: Millis,
    pub outcome: AttemptOutcome,
    pub reason: Option<FailureReason>,
    pub provider_code: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub retry_after_ms: Option<u64>,
    pub answer_lost: bool,
}

/// A failure as the delivery row keeps it.
#[derive(Debug, Clone, Copy)]
pub struct FailureColumns<'a> {
    pub reason: FailureReason,
    pub code: Option<&'a str>,
    pub detail: &'a str,
    pub retryable: bool,
}

/// A provider status report held until its send is recorded.
#[derive(Debug, Clone)]
pub struct HeldCallback {
    pub status: Status,
    pub at: Millis,
    pub detail: Option<String>,
    pub failure_reason: Option<String>,
    pub failure_code: Option<String>,
}

/// A delivery found by what the provider calls it.
#[derive(Debug, Clone)]
pub struct ProviderMatch {
    pub delivery_id: String,
    pub message_id: String,
    pub status: Status,
}

/// Lease up to `limit` due deliveries to `token` until `until`.
pub fn lease_due(
    t: &Transaction,
    token: &str,
    until: Millis,
    now: Millis,
    limit: u32,
) -> Result<Vec<LeasedRow>, StoreError> {
    // A leased delivery's due time moves to its lease expiry: the due index then skips work
    // in flight without a scan, and a lease that is never completed (a crash) makes the
    // delivery due again by itself.
    let mut claim = t.prepare_cached(
        "UPDATE deliveries SET lease_token = ?1, lease_until = ?2, next_attempt_at = ?2, updated_at = ?3
         WHERE id IN (SELECT id FROM deliveries WHERE next_attempt_at <= ?3
                      ORDER BY next_attempt_at LIMIT ?4 /* FOR UPDATE SKIP LOCKED */)
         RETURNING id, message_id, connection_id, attempts, status, channel, product, units, country, step",
    )?;
    let rows = claim
        .query_map(params![token, until, now, limit], |r| {
            Ok(LeasedRow {
                delivery_id: r.get(0)?,
                message_id: r.get(1)?,
                connection_id: r.get(2)?,
                attempts: r.get(3)?,
                status: status_at(r, 4)?,
                channel: r.get(5)?,
                product: r.get(6)?,
                units: r.get(7)?,
                country: r.get(8)?,
                step: r.get(9)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A status column read inside a row mapper; an unknown value is a corrupt row.
fn status_at(r: &crate::sql::Row, i: usize) -> crate::sql::Result<Status> {
    let s: String = r.get(i)?;
    Status::parse(&s)
        .ok_or_else(|| crate::sql::Error::conversion(i, format!("unknown status {s:?}")))
}

/// A lease that ended without an outcome (its process stopped, or it expired) may have sent:
/// each such delivery gets an `unknown` attempt, from the claim to `now`, so the next claim
/// asks the provider before sending again. `which` narrows `deliveries` (aliased `d`) to the
/// leases to end; `?1` is `now`, `?2` whatever `which` needs.
fn end_leases_as_unknown(
    t: &Transaction,
    which: &str,
    now: Millis,
    arg: &str,
) -> Result<usize, StoreError> {
    let ended = t.execute(
        &format!(
            "INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, reason, provider_code, detail, retry_after_ms, answer_lost)
             SELECT d.id, d.attempts + 1, d.updated_at, ?1, 'unknown', 'unknown', NULL, ?3, NULL, 1
             FROM deliveries d WHERE {which} AND CAST(?2 AS TEXT) IS NOT NULL"
        ),
        params![now, arg, crate::lost_answers::UNFINISHED_LEASE],
    )?;
    if ended == 0 {
        return Ok(0);
    }
    Ok(t.execute(
        &format!(
            "UPDATE deliveries SET attempts = attempts + 1, lease_token = NULL, lease_until = NULL, next_attempt_at = ?1
             WHERE id IN (SELECT d.id FROM deliveries d WHERE {which} AND CAST(?2 AS TEXT) IS NOT NULL)"
        ),
        params![now, arg],
    )?)
}

/// Release every lease, making the work due now (each as an attempt whose outcome is
/// unknown: see [`end_leases_as_unknown`]).
pub fn release_all_leases(t: &Transaction, now: Millis) -> Result<usize, StoreError> {
    end_leases_as_unknown(t, "d.lease_until IS NOT NULL", now, "")
}

/// Release the leases whose token starts with `prefix`, making their work due now.
pub fn release_leases_with_prefix(
    t: &Transaction,
    prefix: &str,
    now: Millis,
) -> Result<usize, StoreError> {
    end_leases_as_unknown(
        t,
        "d.lease_until IS NOT NULL AND substr(d.lease_token, 1, length(CAST(?2 AS TEXT))) = ?2",
        now,
        prefix,
    )
}

/// Leases that expired unfinished (another node's, which stopped): ended as unknown attempts
/// before the work is claimed again.
pub fn end_expired_leases(t: &Transaction, now: Millis) -> Result<usize, StoreError> {
    end_leases_as_unknown(
        t,
        // A lease's due time is its expiry: the due index finds them.
        "d.next_attempt_at <= ?1 AND d.lease_token IS NOT NULL",
        now,
        "",
    )
}

/// When the next delivery falls due (for a leased one: when its lease expires).
pub fn next_due(c: &Connection) -> Result<Option<Millis>, StoreError> {
    Ok(c.query_row(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE next_attempt_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The workspace and the stored request of a message.
pub fn message_request(
    t: &Connection,
    message_id: &str,
) -> Result<(String, NewMessage), StoreError> {
    let (workspace_id, request) = t
        .prepare_cached("SELECT workspace_id, request FROM messages WHERE id = ?1")?
        .query_row([message_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
    let request = serde_json::from_str(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((workspace_id, request))
}

/// The delivery, if `token` still holds its lease.
pub fn lease_holder(
    t: &Transaction,
    delivery_id: &str,
    token: &str,
) -> Result<Option<LeaseHolder>, StoreError> {
    let row = t
        .prepare_cached("SELECT message_id, connection_id, status, attempts FROM deliveries WHERE id = ?1 AND lease_token = ?2")?
        .query_row(params![delivery_id, token], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u32>(3)?))
        })
        .optional()?;
    row.map(|(message_id, connection_id, status, attempts)| {
        Ok(LeaseHolder {
            message_id,
            connection_id,
            status: parse_status(&status)?,
            attempts,
        })
    })
    .transpose()
}

/// An attempt failed: the lease is cleared, and the delivery is due again at `retry_at`
/// (or never).
pub fn record_failed_attempt(
    t: &Transaction,
    delivery_id: &str,
    attempts: u32,
    retry_at: Option<Millis>,
    f: FailureColumns<'_>,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE deliveries SET attempts = ?2, next_attempt_at = ?3, lease_token = NULL, lease_until = NULL,
            failure_reason = ?4, failure_code = ?5, failure_detail = ?6, failure_retryable = ?7, updated_at = ?8
         WHERE id = ?1",
    )?
    .execute(params![delivery_id, attempts, retry_at, f.reason.as_str(), f.code, f.detail, f.retryable, now])?;
    Ok(())
}

/// Due again at `at` (or never), with the lease cleared and nothing else changed: an attempt
/// that was not made (the provider was asked about an earlier one instead).
pub fn reschedule(
    t: &Transaction,
    delivery_id: &str,
    at: Option<Millis>,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE deliveries SET next_attempt_at = ?2, lease_token = NULL, lease_until = NULL, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![delivery_id, at, now])?;
    Ok(())
}

/// Its send's answer was lost but a report showed it arrived: nothing more is due, the
/// failure of the lost attempt is cleared, the status (already past `sent`) stays.
pub fn record_arrived(t: &Transaction, delivery_id: &str, now: Millis) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE deliveries SET next_attempt_at = NULL, lease_token = NULL, lease_until = NULL,
            failure_reason = NULL, failure_code = NULL, failure_detail = NULL, failure_retryable = NULL, updated_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![delivery_id, now])?;
    Ok(())
}

/// A failure the provider reported after accepting: final, and when it happened.
pub fn record_reported_failure(
    t: &Transaction,
    delivery_id: &str,
    f: FailureColumns<'_>,
    at: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE deliveries SET failure_reason = ?2, failure_code = ?3, failure_detail = ?4, failure_retryable = ?5, failed_at = ?6 WHERE id = ?1")?
        .execute(params![delivery_id, f.reason.as_str(), f.code, f.detail, f.retryable, at])?;
    Ok(())
}

/// The delivery failed for good at `at`; `exhausted` when its attempts ran out on a
/// retryable failure.
pub fn set_failed_at(
    t: &Transaction,
    delivery_id: &str,
    at: Millis,
    exhausted: bool,
) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE deliveries SET failed_at = ?2, exhausted = ?3 WHERE id = ?1")?
        .execute(params![delivery_id, at, exhausted])?;
    Ok(())
}

pub fn insert_attempt(t: &Transaction, a: &AttemptRow<'_>) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, reason, provider_code, detail, retry_after_ms, answer_lost)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        a.delivery_id,
        a.number,
        a.started_at,
        a.finished_at,
        a.outcome.as_str(),
        a.reason.map(FailureReason::as_str),
        a.provider_code,
        a.detail,
        a.retry_after_ms.map(|v| v as i64),
        a.answer_lost,
    ])?;
    Ok(())
}

pub fn by_provider_id(
    t: &Transaction,
    connection_id: &str,
    provider_message_id: &str,
) -> Result<Option<ProviderMatch>, StoreError> {
    let row = t
        .prepare_cached("SELECT id, message_id, status FROM deliveries WHERE connection_id = ?1 AND provider_message_id = ?2")?
        .query_row(params![connection_id, provider_message_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .optional()?;
    row.map(|(delivery_id, message_id, status)| {
        Ok(ProviderMatch {
            delivery_id,
            message_id,
            status: parse_status(&status)?,
        })
    })
    .transpose()
}

/// The newest delivery of a message on a connection: `(id, status, provider id)`.
pub fn latest_on_connection(
    t: &Transaction,
    message_id: &str,
    connection_id: &str,
) -> Result<Option<(String, Status, Option<String>)>, StoreError> {
    let row = t
        .prepare_cached(
            "SELECT id, status, provider_message_id FROM deliveries
             WHERE message_id = ?1 AND connection_id = ?2 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![message_id, connection_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .optional()?;
    row.map(|(id, status, provider)| Ok((id, parse_status(&status)?, provider)))
        .transpose()
}

#[allow(clippy::too_many_arguments)]
pub fn hold_early_callback(
    t: &Transaction,
    connection_id: &str,
    provider_message_id: &str,
    status: Status,
    at: Millis,
    detail: &str,
    failure_reason: Option<FailureReason>,
    failure_code: Option<&str>,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO early_callbacks (connection_id, provider_message_id, status, at, detail, failure_reason, failure_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        connection_id,
        provider_message_id,
        status.as_str(),
        at,
        detail,
        failure_reason.map(FailureReason::as_str),
        failure_code,
    ])?;
    Ok(())
}

/// Remove and return the callbacks held for a provider id, in arrival order.
pub fn take_early_callbacks(
    t: &Transaction,
    connection_id: &str,
    provider_message_id: &str,
) -> Result<Vec<HeldCallback>, StoreError> {
    let mut stmt = t.prepare_cached(
        "DELETE FROM early_callbacks WHERE connection_id = ?1 AND provider_message_id = ?2
         RETURNING seq, status, at, detail, failure_reason, failure_code",
    )?;
    let mut held = stmt
        .query_map(params![connection_id, provider_message_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    held.sort_by_key(|h| h.0);
    held.into_iter()
        .map(|(_, status, at, detail, failure_reason, failure_code)| {
            Ok(HeldCallback {
                status: parse_status(&status)?,
                at,
                detail,
                failure_reason,
                failure_code,
            })
        })
        .collect()
}

/// Keep a contact's highest watermark per status.
pub fn keep_watermark(
    t: &Transaction,
    connection_id: &str,
    address: &str,
    status: Status,
    watermark: Millis,
    at: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO watermarks (connection_id, address, status, watermark, at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (connection_id, address, status) DO UPDATE
         SET watermark = excluded.watermark, at = excluded.at
         WHERE excluded.watermark > watermarks.watermark",
    )?
    .execute(params![
        connection_id,
        address,
        status.as_str(),
        watermark,
        at
    ])?;
    Ok(())
}

/// Deliveries to `address` sent by `watermark` and not yet seen: `(provider id, status)`.
pub fn sent_to_address_by(
    t: &Transaction,
    connection_id: &str,
    address: &str,
    watermark: Millis,
) -> Result<Vec<(String, Status)>, StoreError> {
    let rows = t
        .prepare_cached(
            "SELECT provider_message_id, status FROM deliveries
             WHERE connection_id = ?1 AND address = ?2 AND sent_at <= ?3
               AND provider_message_id IS NOT NULL AND status IN ('sent', 'delivered')",
        )?
        .query_map(params![connection_id, address, watermark], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(p, s)| Ok((p, parse_status(&s)?)))
        .collect()
}

/// Kept watermarks of the delivery's contact that cover `sent_at`: `(status, watermark,
/// at)`, delivered before seen.
pub fn watermarks_covering(
    t: &Transaction,
    delivery_id: &str,
    connection_id: &str,
    sent_at: Millis,
) -> Result<Vec<(Status, Millis, Millis)>, StoreError> {
    let rows = t
        .prepare_cached(
            "SELECT w.status, w.watermark, w.at FROM watermarks w
             JOIN deliveries d ON d.id = ?1 AND d.address = w.address
             WHERE w.connection_id = ?2 AND w.watermark >= ?3
             ORDER BY CASE w.status WHEN 'delivered' THEN 0 ELSE 1 END",
        )?
        .query_map(params![delivery_id, connection_id, sent_at], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Millis>(1)?,
                r.get::<_, Millis>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(s, w, at)| Ok((parse_status(&s)?, w, at)))
        .collect()
}

/// Whether a message the provider reports as sent by the business is one of this
/// connection's deliveries: named by the marker its send carried (known from the moment the
/// delivery was accepted, so before the send's answer is recorded), or by its provider id.
pub fn is_own_send(
    t: &Transaction,
    connection_id: &str,
    marker: Option<&str>,
    provider_message_id: &str,
) -> Result<bool, StoreError> {
    if let Some(id) = marker
        && t.prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1 AND connection_id = ?2")?
            .exists(params![id, connection_id])?
    {
        return Ok(true);
    }
    Ok(t.prepare_cached(
        "SELECT 1 FROM deliveries WHERE connection_id = ?1 AND provider_message_id = ?2",
    )?
    .exists(params![connection_id, provider_message_id])?)
}
