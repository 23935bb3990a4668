//! Before a delivery whose last answer was lost is sent again, ask its provider whether it
//! already has the message (the plugin's `find-sent`, over the attempts' time window).
//!
//! - Already reported delivered or seen (a push receipt can come before, or instead of, the
//!   send's answer): it arrived; nothing is sent again.
//! - Ended less than [`IN_FLIGHT_MS`] ago: asked a little later, as the request may still be
//!   reaching the provider.
//! - Found: adopt the provider's id; nothing is sent again (exactly once).
//! - Not found: send again; one message, not two (exactly once).
//! - Not yet (the provider's search lags), or the lookup failed: ask again later, sending
//!   nothing meanwhile; after [`GIVE_UP_ASKING_MS`] the provider counts as one that cannot be
//!   asked.
//! - Cannot be asked (Messenger, push, a plugin built for API 0.1): the message's policy or
//!   its workspace chose `ambiguous_sends`: `retry` sends again (at least once, possibly
//!   twice), `fail` ends the delivery `outcome_unknown` (at most once).
//!
//! Whatever happened goes on the timeline, so the ambiguity and its resolution are visible.

use std::time::Duration;

use crate::lifecycle::Job;
use crate::lifecycle::lost::Settle;
use crate::model::{AmbiguousSends, FailureReason, Millis, now_ms};
use crate::runtime::{AttemptWindow, CallError, FindOutcome};

/// How long after a lost answer the provider is still asked when it keeps answering "not
/// yet" or failing the lookup.
pub const GIVE_UP_ASKING_MS: Millis = 24 * 3_600_000;

/// How long after a lost attempt ended before its provider is asked. A request written just
/// before its answer was lost (a timeout, a reset, a process that died mid-request) may still
/// be on its way or in the provider's queue: a search at once can miss a message about to
/// exist, and "not found" would send it twice (the crash test saw it: a gateway killed 4 ms
/// into a send restarted and asked 100 ms later).
pub const IN_FLIGHT_MS: Millis = 3_000;

/// What to do with a delivery whose last answer was lost.
pub(super) enum Reconciled {
    /// Send it again; the note goes on the timeline with the attempt.
    SendAgain(String),
    /// No send: settled by the provider's answer (or its absence).
    Settle(Settle),
}

impl super::Dispatcher {
    pub(super) async fn reconcile(&self, job: &Job, (from, to): (Millis, Millis)) -> Reconciled {
        let now = now_ms();
        if job.reported_arrived {
            return Reconciled::Settle(Settle::Arrived {
                detail: "a report already showed the message arrived: it is not sent again".into(),
            });
        }
        if now < to.max(from) + IN_FLIGHT_MS {
            return Reconciled::Settle(Settle::AskAgain {
                at: to.max(from) + IN_FLIGHT_MS,
                detail: "the lost attempt may still be reaching the provider; asking it in a few seconds".into(),
            });
        }
        let Some(conn) = self.connections.get(&job.connection_id) else {
            return Reconciled::SendAgain("the connection is gone; the attempt will say so".into());
        };
        let Some(plugin) = self.runtime.plugin(&conn.plugin) else {
            return Reconciled::SendAgain(
                "the plugin is not loaded; the attempt will say so".into(),
            );
        };
        let msg = self.wit_message(job, &plugin);
        // An attempt cannot end before it began: a clock stepped back between the two (NTP,
        // or the process that ended a dead one's lease) would otherwise ask about an empty
        // window, and a send the provider has would be "not found" and go twice.
        let window = AttemptWindow {
            started_ms: from.max(0) as u64,
            finished_ms: to.max(from).max(0) as u64,
        };
        let asked = self
            .runtime
            .find_sent(&plugin, conn.ctx.clone(), &msg, window)
            .await;
        let giving_up = now - to > GIVE_UP_ASKING_MS;
        let ask_again = |wait_ms: u64, detail: String| {
            let wait = Duration::from_millis(wait_ms)
                .max(self.config.retry.base)
                .min(self.config.retry.max_retry_after);
            Reconciled::Settle(Settle::AskAgain {
                at: now + wait.as_millis() as Millis,
                detail: format!("{detail}; asking again in {} s", wait.as_secs().max(1)),
            })
        };
        let outcome = match asked {
            Ok(Some(Ok(FindOutcome::Found(sent)))) => {
                tracing::info!(delivery = %job.delivery_id, provider_message_id = %sent.provider_message_id, "lost answer: found at the provider");
                return Reconciled::Settle(Settle::Found {
                    detail: format!(
                        "the provider has the message as {}: the lost attempt's send was taken, and it is not sent again",
                        sent.provider_message_id
                    ),
                    provider_message_id: sent.provider_message_id,
                    sent_at: from,
                });
            }
            Ok(Some(Ok(FindOutcome::NotFound))) => {
                tracing::info!(delivery = %job.delivery_id, "lost answer: not at the provider");
                return self.send_again(
                    job,
                    "the provider does not have the message: sending it again makes one, not two",
                );
            }
            Ok(Some(Ok(FindOutcome::NotYet(ms)))) if !giving_up => {
                return ask_again(
                    ms,
                    "the provider cannot tell yet whether it has the message".into(),
                );
            }
            Ok(Some(Err(e))) if !giving_up => {
                return ask_again(
                    e.retry_after_ms.unwrap_or(0),
                    format!(
                        "asking the provider failed ({}: {})",
                        crate::runtime::convert::reason(e.reason).as_str(),
                        e.detail
                    ),
                );
            }
            Err(CallError::Quarantined { retry_in_ms, .. }) if !giving_up => {
                return ask_again(retry_in_ms, "the plugin is quarantined".into());
            }
            Ok(Some(Ok(FindOutcome::CannotAsk))) | Ok(None) => {
                "the provider cannot be asked whether it has the message".to_string()
            }
            Ok(Some(Ok(FindOutcome::NotYet(_)))) | Ok(Some(Err(_))) => {
                "the provider could not say within a day whether it has the message".to_string()
            }
            Err(e) => format!("asking the provider failed in the plugin ({e})"),
        };
        self.ambiguous(job, outcome).await
    }

    /// The provider cannot tell: the message's policy, or its workspace, decides.
    async fn ambiguous(&self, job: &Job, why: String) -> Reconciled {
        let message_id = job.message_id.clone();
        let read = self
            .store
            .read(move |c| crate::store::lost_answers::ambiguous_sends(c, &message_id))
            .await;
        // Not knowing the choice is no licence to send again (it may be `fail`): ask later.
        let choice = match read {
            Ok(choice) => choice,
            Err(e) => {
                return Reconciled::Settle(Settle::AskAgain {
                    at: now_ms() + self.config.retry.base.as_millis() as Millis,
                    detail: format!(
                        "{why}; the workspace's choice could not be read ({e}); deciding later"
                    ),
                });
            }
        };
        tracing::info!(delivery = %job.delivery_id, choice = choice.as_str(), %why, "lost answer: ambiguous");
        match choice {
            AmbiguousSends::Retry => self.send_again(
                job,
                &format!("{why}; sending it again (ambiguous_sends: retry): it may arrive twice"),
            ),
            AmbiguousSends::Fail => Reconciled::Settle(Settle::Fail {
                reason: Some(FailureReason::OutcomeUnknown),
                detail: format!(
                    "{why}; not sent again (ambiguous_sends: fail): it arrived once or not at all"
                ),
                exhausted: false,
            }),
        }
    }

    fn send_again(&self, job: &Job, note: &str) -> Reconciled {
        if job.counted_attempts >= self.config.retry.max_attempts {
            return Reconciled::Settle(Settle::Fail {
                reason: None,
                detail: format!("{note}, but no attempts are left"),
                exhausted: true,
            });
        }
        Reconciled::SendAgain(note.to_string())
    }
}
