//! The durable outbox: deliveries due for an attempt, claimed under a lease.
//!
//! A delivery with `next_attempt_at` set is work. [`claim`] leases due deliveries to this
//! process with a fresh token; [`complete`] records the outcome only if the token still
//! matches, so a result from a lease that expired (and was re-claimed) cannot overwrite newer
//! state. After a crash, leases are released at startup (`Deliveries::release_leases`) and
//! the work is claimed again; the provider-side idempotency key (the delivery id) keeps a
//! re-sent request from becoming a second message.
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
        jobs.push(Job {
            delivery_id: row.delivery_id,
            message_id: row.message_id,
            workspace_id,
            connection_id: row.connection_id,
            attempts: row.attempts,
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
            // so the provider's own send time is no earlier. An earlier attempt whose answer
            // was lost may be the one the provider took (this answer its idempotent replay):
            // its start is the send time then.
            let lost = if held.attempts > 0 {
                rows::first_lost_answer(t, &c.delivery_id)?
            } else {
                None // a first attempt has no earlier one
            };
            let sent_at = lost.map_or(c.started_at, |l| l.min(c.started_at));
            let moves = held.status.can_become(Status::Sent).then_some(Status::Sent);
            let moved = rows::record_accepted(
                t,
                &c.delivery_id,
                provider_message_id,
                number,
                now,
                sent_at,
                moves,
            )?;
            rows::insert_attempt(t, &attempt)?;
            if let Some(row) = moved {
                let detail = format!("accepted as {provider_message_id}");
                changed(t, &row, now, "dispatcher", Some(&detail))?;
            }
            wallet::capture(t, &c.delivery_id, now)?;
            replay_early_callbacks(t, &held.connection_id, provider_message_id)?;
            super::receipts::apply_kept_watermarks(
                t,
                &c.delivery_id,
                &held.connection_id,
                provider_message_id,
                sent_at,
            )?;
        }
        SendOutcome::Failed(f) => {
            attempt.outcome = if c.retry_at.is_some() {
                AttemptOutcome::RetryScheduled
            } else {
                AttemptOutcome::Failed
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
