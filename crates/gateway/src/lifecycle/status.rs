//! Status changes: the one path every report takes (a provider callback, a status lookup, a
//! watermark, a device receipt, the dispatcher's own `sending`/`sent`/`failed`).
//!
//! Forward only: a report that would move a delivery back (`sent` after `delivered`) is
//! written to the timeline as not applied and changes nothing else. A report for a provider
//! id no delivery carries yet (the callback overtook the send's answer) is held and replayed
//! when the send is recorded.

use switchboard_store::sql::Transaction;

use super::LifecycleError;
use super::{Applied, StatusEvent};
use crate::billing::wallet;
use crate::model::{FailureReason, Millis, Status, now_ms};
use crate::store::StoreError;
use crate::store::deliveries::{self as rows, FailureColumns, StatusRow};
use crate::store::routes;

/// Move a delivery to `status` and write what follows ([`changed`]). The caller has checked
/// that the move is forward.
pub fn change(
    t: &Transaction,
    delivery_id: &str,
    status: Status,
    at: Millis,
    source: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    match rows::set_status(t, delivery_id, status, at)? {
        Some(row) => changed(t, &row, at, source, detail),
        None => record(t, delivery_id, status, at, source, detail, true),
    }
}

/// What follows a status change, from the row the changing write returned: a routed
/// delivery's step must look again (the router picks dirty steps up), and the change gets its
/// timeline line and its event, built from that row rather than read again.
pub fn changed(
    t: &Transaction,
    row: &StatusRow,
    at: Millis,
    source: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(step) = row.step {
        routes::mark_dirty(t, &row.message_id, step)?;
    }
    rows::insert_timeline(t, &row.delivery_id, row.status, at, source, detail, true)?;
    if let Some(kind) = event_kind(row.status) {
        crate::events::record_delivery_event(t, row, kind, at, detail)?;
    }
    Ok(())
}

/// The event a status announces, if any.
fn event_kind(status: Status) -> Option<&'static str> {
    match status {
        Status::Queued => Some("message.queued"),
        Status::Sent => Some("message.sent"),
        Status::Delivered => Some("message.delivered"),
        Status::Seen => Some("message.seen"),
        Status::Failed => Some("message.failed"),
        _ => None,
    }
}

/// Write a timeline line; an applied change is also announced to the business, from the same
/// transaction.
pub fn record(
    t: &Transaction,
    delivery_id: &str,
    status: Status,
    at: Millis,
    source: &str,
    detail: Option<&str>,
    applied: bool,
) -> Result<(), StoreError> {
    rows::insert_timeline(t, delivery_id, status, at, source, detail, applied)?;
    if let (true, Some(kind)) = (applied, event_kind(status)) {
        crate::events::record_delivery_status(t, delivery_id, kind, at, detail)?;
    }
    Ok(())
}

/// [`refresh_message`] after `delivery_id` changed: when it is the message's only delivery
/// (most messages), its status is the message's, set in one statement.
pub fn refresh_after(
    t: &Transaction,
    message_id: &str,
    delivery_id: &str,
    now: Millis,
) -> Result<(), StoreError> {
    if rows::set_message_status_from_only_delivery(t, message_id, delivery_id, now)? {
        return Ok(());
    }
    refresh_message(t, message_id, now)
}

/// The message's status is its best delivery's: any progress wins over a failed sibling.
pub fn refresh_message(t: &Transaction, message_id: &str, now: Millis) -> Result<(), StoreError> {
    let mut overall: Option<Status> = None;
    for s in rows::statuses_of_message(t, message_id)? {
        overall = Some(match overall {
            None => s,
            Some(Status::Failed) => s,
            Some(cur) if s != Status::Failed && cur.can_become(s) => s,
            Some(cur) => cur,
        });
    }
    match overall {
        Some(status) => rows::set_message_status(t, message_id, status, now),
        None => Ok(()),
    }
}

/// Apply one report to the delivery with its provider id, or hold it until there is one.
pub fn apply(t: &Transaction, e: &StatusEvent) -> Result<Applied, LifecycleError> {
    let Some(found) = rows::by_provider_id(t, &e.connection_id, &e.provider_message_id)? else {
        let (reason, code, detail) = match &e.failure {
            Some((reason, code, detail)) => (Some(*reason), code.as_deref(), detail.as_str()),
            None => (None, None, e.provider_status.as_str()),
        };
        rows::hold_early_callback(
            t,
            &e.connection_id,
            &e.provider_message_id,
            e.status,
            e.at,
            detail,
            reason,
            code,
        )?;
        return Ok(Applied::Held);
    };
    apply_to_delivery(t, found.delivery_id, found.message_id, found.status, e)
}

/// Move one known delivery, forward only, recording the report either way.
pub fn apply_to_delivery(
    t: &Transaction,
    delivery_id: String,
    message_id: String,
    current: Status,
    e: &StatusEvent,
) -> Result<Applied, LifecycleError> {
    let detail = match &e.failure {
        Some((reason, code, detail)) => format!(
            "{}: {detail}{}",
            reason.as_str(),
            code.as_ref()
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default()
        ),
        None => format!("provider status {}", e.provider_status),
    };
    if !current.can_become(e.status) {
        record(
            t,
            &delivery_id,
            e.status,
            e.at,
            "provider",
            Some(&format!("{detail}; ignored, already {}", current.as_str())),
            false,
        )?;
        return Ok(Applied::Ignored { delivery_id });
    }
    // The failure columns first, so the row the status change returns carries them.
    if let Some((reason, code, text)) = &e.failure {
        let failure = FailureColumns {
            reason: *reason,
            code: code.as_deref(),
            detail: text,
            retryable: false,
        };
        rows::record_reported_failure(t, &delivery_id, failure, e.at)?;
    }
    change(t, &delivery_id, e.status, e.at, "provider", Some(&detail))?;
    if e.status == Status::Failed {
        // Accepted, then reported failed: what was captured goes back.
        wallet::refund(t, &delivery_id, now_ms())?;
    }
    refresh_after(t, &message_id, &delivery_id, e.at)?;
    Ok(Applied::Moved {
        message_id,
        delivery_id,
    })
}

/// The send was just recorded: reports that overtook it apply now, in arrival order.
pub fn replay_early_callbacks(
    t: &Transaction,
    connection_id: &str,
    provider_message_id: &str,
) -> Result<(), LifecycleError> {
    for held in rows::take_early_callbacks(t, connection_id, provider_message_id)? {
        let failure = held.failure_reason.map(|r| {
            (
                FailureReason::parse(&r).unwrap_or(FailureReason::Unknown),
                held.failure_code,
                held.detail.clone().unwrap_or_default(),
            )
        });
        let e = StatusEvent {
            connection_id: connection_id.to_string(),
            provider_message_id: provider_message_id.to_string(),
            status: held.status,
            provider_status: held.detail.unwrap_or_default(),
            failure,
            at: held.at,
        };
        apply(t, &e)?;
    }
    Ok(())
}
