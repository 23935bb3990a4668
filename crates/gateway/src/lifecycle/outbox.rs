//! The durable outbox: deliveries due for an attempt, claimed under a lease.
//!
//! A delivery with `next_attempt_at` set is work. [`claim`] leases due deliveries to this
//! process with a fresh token; [`complete`] records the outcome only if the token still
//! matches, so a result from a lease that expired (and was re-claimed) cannot overwrite newer
//! state. After a crash, leases are released at startup (`Deliveries::release_leases`) and
//! the work is claimed again. An attempt whose answer was lost (a timeout or a reset after the
//! request was written) is recorded `unknown`, and the next claim asks the provider about it
//! before sending anything ([`super::lost`], the dispatcher's `reconcile`).
//!
//! Money moves with the attempt, in the same commit: the hold is placed as a first attempt is
//! claimed, captured when the provider accepts, and released when the send fails for good.

use switchboard_store::sql::Transaction;

use super::LifecycleError;
use super::status::{change, changed, refresh_after, replay_early_callbacks};
use super::{Completion, Failure, Job, SendOutcome};
use crate::billing::wallet;
use crate::model::{AttemptOutcome, FailureReason, Millis, Status};
use crate::store::deliveries::{self as rows, AttemptRow, FailureColumns};
use crate::store::routes;

/// Lease up to `limit` due deliveries for `lease_ms`.
pub fn claim(
    t: &Transaction,
    node: &str,
    limit: u32,
    lease_ms: i64,
    now: Millis,
) -> Result<Vec<Job>, LifecycleError> {
    // The node's name first: a node restarted on its data directory releases what its
    // previous life leased (see `Deliveries::release_leases`).
    let token = format!("{node}.{}", uuid::Uuid::new_v4().simple());
    // A lease that ran out unfinished may have sent: it becomes an `unknown` attempt first.
    rows::end_expired_leases(t, now)?;
    let leased = rows::lease_due(t, &token, now + lease_ms, now, limit)?;
    let mut jobs = Vec::with_capacity(leased.len());
    let mut first_attempts = Vec::new();
    for row in leased {
        let (workspace_id, mut request) = rows::message_request(t, &row.message_id)?;
        let mut refused = None;
        if row.status == Status::Queued {
            first_attempts.push((row.delivery_id.clone(), row.message_id.clone()));
            // The money is held as the send is dispatched, in this same commit.
            if let Some(product) = row.product {
                let charge = wallet::Charge {
                    workspace_id: workspace_id.clone(),
                    message_id: row.message_id.clone(),
                    delivery_id: row.delivery_id.clone(),
                    channel: row.channel.clone(),
                    product,
                    country: row.country.unwrap_or_else(|| "*".into()),
                    units: row.units.unwrap_or(1),
                };
                if let wallet::HoldOutcome::Insufficient { cost, available } =
                    wallet::hold(t, &charge, now)?
                {
                    refused = Some(Failure {
                        reason: FailureReason::InsufficientFunds,
                        provider_code: None,
                        detail: format!(
                            "the send costs {cost} micro-units; the wallet has {available} available"
                        ),
                        retryable: false,
                        retry_after_ms: None,
                    });
                }
            }
        }
        // A routed message has no channel of its own: each delivery is on one, with the
        // content planning decided for it.
        request.channel = row.channel;
        if let Some(step) = row.step
            && routes::drops_subject(t, &row.message_id, step, &row.delivery_id)?
        {
            request.content.subject = None;
        }
        // Only a delivery tried before can have lost an answer: one read, and only then.
        let lost = if row.attempts > 0 {
            crate::store::lost_answers::lost_answers(t, &row.delivery_id)?
        } else {
            Default::default()
        };
        let reported_arrived = matches!(row.status, Status::Delivered | Status::Seen);
        jobs.push(Job {
            lost_window: lost.window,
            reported_arrived,
            delivery_id: row.delivery_id,
            message_id: row.message_id,
            workspace_id,
            connection_id: row.connection_id,
            attempts: row.attempts,
            counted_attempts: row.attempts.saturating_sub(lost.unfinished),
            lease_token: token.clone(),
            request,
            refused,
        });
    }
    for (delivery_id, message_id) in first_attempts {
        change(t, &delivery_id, Status::Sending, now, "dispatcher", None)?;
        refresh_after(t, &message_id, &delivery_id, now)?;
    }
    Ok(jobs)
}

/// Record an attempt. Returns false when the lease was lost (the result is discarded).
pub fn complete(t: &Transaction, c: &Completion) -> Result<bool, LifecycleError> {
    let Some(held) = rows::lease_holder(t, &c.delivery_id, &c.lease_token)? else {
        return Ok(false);
    };
    let number = held.attempts + 1;
    let now = c.finished_at;
    if let Some(note) = &c.note {
        rows::insert_timeline(
            t,
            &c.delivery_id,
            held.status,
            c.started_at,
            "dispatcher",
            Some(note),
            false,
        )?;
    }
    let mut attempt = AttemptRow {
        delivery_id: &c.delivery_id,
        number,
        started_at: c.started_at,
        finished_at: c.finished_at,
        outcome: AttemptOutcome::Accepted,
        reason: None,
        provider_code: None,
        detail: None,
        retry_after_ms: None,
        answer_lost: c.answer_lost,
    };
    match &c.outcome {
        SendOutcome::Accepted {
            provider_message_id,
        } => {
            // Watermarks cover messages sent before them: the request left at `started_at`,
            // so the provider's own send time is no earlier.
            rows::insert_attempt(t, &attempt)?;
            let detail = format!("accepted as {provider_message_id}");
            accepted(
                t,
                &held,
                &c.delivery_id,
                provider_message_id,
                number,
                c.started_at,
                now,
                &detail,
            )?;
        }
        SendOutcome::Failed(f) => {
            attempt.outcome = match (c.answer_lost, c.retry_at.is_some()) {
                (true, true) => AttemptOutcome::Unknown,
                (_, true) => AttemptOutcome::RetryScheduled,
                (_, false) => AttemptOutcome::Failed,
            };
            attempt.reason = Some(f.reason);
            attempt.provider_code = f.provider_code.as_deref();
            attempt.detail = Some(&f.detail);
            attempt.retry_after_ms = f.retry_after_ms;
            let failure = FailureColumns {
                reason: f.reason,
                code: f.provider_code.as_deref(),
                detail: &f.detail,
                retryable: f.retryable,
            };
            rows::record_failed_attempt(t, &c.delivery_id, number, c.retry_at, failure, now)?;
            rows::insert_attempt(t, &attempt)?;
            if attempt.outcome == AttemptOutcome::Unknown {
                let note = format!(
                    "attempt {number}: the answer was lost after the request went out ({}); the provider may have the message, and is asked before anything is sent again",
                    f.reason.as_str()
                );
                rows::insert_timeline(
                    t,
                    &c.delivery_id,
                    held.status,
                    now,
                    "dispatcher",
                    Some(&note),
                    false,
                )?;
            }
            if c.retry_at.is_none() && held.status.can_become(Status::Failed) {
                rows::set_failed_at(t, &c.delivery_id, now, f.retryable)?;
                let detail = format!("{}: {}", f.reason.as_str(), f.detail);
                change(
                    t,
                    &c.delivery_id,
                    Status::Failed,
                    now,
                    "dispatcher",
                    Some(&detail),
                )?;
            }
            if c.retry_at.is_none() {
                wallet::release(t, &c.delivery_id, now)?;
            }
        }
    }
    refresh_after(t, &held.message_id, &c.delivery_id, now)?;
    Ok(true)
}

/// The provider has the delivery as `provider_message_id`, taken by attempt `number` (or,
/// found after a lost answer, by an earlier one): it is `sent`, its hold is captured, and
/// what arrived before this was recorded (callbacks, watermarks) applies now.
#[allow(clippy::too_many_arguments)]
pub(super) fn accepted(
    t: &Transaction,
    held: &rows::LeaseHolder,
    delivery_id: &str,
    provider_message_id: &str,
    number: u32,
    sent_at: Millis,
    now: Millis,
    detail: &str,
) -> Result<(), LifecycleError> {
    let moves = held.status.can_become(Status::Sent).then_some(Status::Sent);
    let moved = rows::record_accepted(
        t,
        delivery_id,
        provider_message_id,
        number,
        now,
        sent_at,
        moves,
    )?;
    if let Some(row) = moved {
        changed(t, &row, now, "dispatcher", Some(detail))?;
    }
    wallet::capture(t, delivery_id, now)?;
    replay_early_callbacks(t, &held.connection_id, provider_message_id)?;
    super::receipts::apply_kept_watermarks(
        t,
        delivery_id,
        &held.connection_id,
        provider_message_id,
        sent_at,
    )?;
    Ok(())
}
