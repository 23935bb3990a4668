//! Settling a delivery whose last answer was lost, by what the provider said about it.
//!
//! The dispatcher asks the provider (`find-sent`) before anything is sent again; most answers
//! let the send go ahead (not found, or the workspace chose to retry), and the attempt's own
//! commit notes that on the timeline. The rest end here, in one commit each: the provider has
//! the message (adopt its id: `sent`, charged), it cannot tell yet or could not be asked this
//! time (ask again later, sending nothing), or the delivery ends `failed` (at most once, or
//! out of attempts).

use switchboard_store::sql::Transaction;

use super::LifecycleError;
use super::status::{change, refresh_after};
use crate::billing::wallet;
use crate::model::{FailureReason, Millis, Status};
use crate::store::deliveries::{self as rows, FailureColumns};

/// How a lost answer ends without a new send.
#[derive(Debug, Clone)]
pub enum Settle {
    /// The provider has it: the earlier attempt's send, made at `sent_at`.
    Found {
        provider_message_id: String,
        sent_at: Millis,
        detail: String,
    },
    /// A report already showed it arrived (a push receipt can come before the send's answer,
    /// or instead of it): nothing is sent again, and the send is charged, with no provider id
    /// to record.
    Arrived { detail: String },
    /// Ask again at `at`; nothing is sent meanwhile.
    AskAgain { at: Millis, detail: String },
    /// No more sends: `failed` with `reason`, or with the last attempt's failure when `None`.
    Fail {
        reason: Option<FailureReason>,
        detail: String,
        /// The attempts ran out (a dead letter) rather than the workspace choosing at most
        /// once.
        exhausted: bool,
    },
}

/// Returns false when the lease was lost (someone else holds the delivery now).
pub fn settle(
    t: &Transaction,
    delivery_id: &str,
    lease_token: &str,
    settle: &Settle,
    now: Millis,
) -> Result<bool, LifecycleError> {
    let Some(held) = rows::lease_holder(t, delivery_id, lease_token)? else {
        return Ok(false);
    };
    // What the provider said goes on the timeline; a failure says it in its status line.
    if let Settle::Found { detail, .. }
    | Settle::Arrived { detail }
    | Settle::AskAgain { detail, .. } = settle
    {
        rows::insert_timeline(
            t,
            delivery_id,
            held.status,
            now,
            "reconciliation",
            Some(detail),
            false,
        )?;
    }
    match settle {
        Settle::Found {
            provider_message_id,
            sent_at,
            ..
        } => {
            super::outbox::accepted(
                t,
                &held,
                delivery_id,
                provider_message_id,
                held.attempts,
                *sent_at,
                now,
                &format!("found at the provider as {provider_message_id}"),
            )?;
        }
        Settle::Arrived { .. } => {
            rows::record_arrived(t, delivery_id, now)?;
            wallet::capture(t, delivery_id, now)?;
        }
        Settle::AskAgain { at, .. } => {
            rows::reschedule(t, delivery_id, Some(*at), now)?;
        }
        Settle::Fail {
            reason,
            detail,
            exhausted,
        } => {
            let line = match reason {
                Some(reason) => {
                    let failure = FailureColumns {
                        reason: *reason,
                        code: None,
                        detail,
                        retryable: *exhausted,
                    };
                    rows::record_failed_attempt(t, delivery_id, held.attempts, None, failure, now)?;
                    format!("{}: {detail}", reason.as_str())
                }
                None => {
                    rows::reschedule(t, delivery_id, None, now)?;
                    detail.clone()
                }
            };
            if held.status.can_become(Status::Failed) {
                rows::set_failed_at(t, delivery_id, now, *exhausted)?;
                change(
                    t,
                    delivery_id,
                    Status::Failed,
                    now,
                    "reconciliation",
                    Some(&line),
                )?;
            }
            wallet::release(t, delivery_id, now)?;
        }
    }
    refresh_after(t, &held.message_id, delivery_id, now)?;
    Ok(true)
}
