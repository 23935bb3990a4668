//! The durable outbox: deliveries due for an attempt, claimed under a lease.
//!
//! A delivery with `next_attempt_at` set is work. [`Store::claim`] leases due deliveries to
//! this process with a fresh token; [`Store::complete`] records the outcome only if the token
//! still matches, so a result from a lease that expired (and was re-claimed) cannot overwrite
//! newer state. After a crash, leases are released at startup ([`Store::release_leases`]) and
//! the work is claimed again; the provider-side idempotency key (the delivery id) keeps a
//! re-sent request from becoming a second message.

use rusqlite::{OptionalExtension, Transaction, params};

use super::messages::{insert_event, parse_status};
use super::{Store, StoreError};
use crate::billing::wallet;
use crate::model::{AttemptOutcome, FailureReason, Millis, NewMessage, Status, now_ms};

/// The wallet's rules run in these commits until they move out to the dispatcher; their
/// failure fails the write (the ledger refusing a posting means its invariants broke).
fn wallet_failed(e: wallet::WalletError) -> StoreError {
    match e {
        wallet::WalletError::Sql(e) => StoreError::Sql(e),
        e => StoreError::Corrupt(e.to_string()),
    }
}

/// A delivery row as the claim leases it.
struct Claimed {
    delivery_id: String,
    message_id: String,
    connection_id: String,
    attempts: u32,
    status: String,
    channel: String,
    product: Option<String>,
    units: Option<u32>,
    country: Option<String>,
    /// The route step, for a routed message's delivery.
    step: Option<i64>,
}

/// A delivery leased to this process for one attempt.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery_id: String,
    pub message_id: String,
    pub workspace_id: String,
    pub connection_id: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub lease_token: String,
    pub request: NewMessage,
    /// Set when the send must fail without calling the provider (the wallet could not
    /// cover its cost).
    pub refused: Option<Failure>,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: FailureReason,
    pub provider_code: Option<String>,
    pub detail: String,
    pub retryable: bool,
    pub retry_after_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum SendOutcome {
    Accepted { provider_message_id: String },
    Failed(Failure),
}

/// The result of one attempt, as the dispatcher decided it.
#[derive(Debug, Clone)]
pub struct Completion {
    pub delivery_id: String,
    pub lease_token: String,
    pub started_at: Millis,
    pub finished_at: Millis,
    pub outcome: SendOutcome,
    /// For a failure: when to try again, or `None` for a final failure.
    pub retry_at: Option<Millis>,
    /// A request of this attempt may have reached the provider while its answer was lost.
    /// When a later attempt is accepted (the provider's idempotency replay of this one), the
    /// provider's send time may be this attempt's start.
    pub answer_lost: bool,
}

/// A provider's status report, normalised by the plugin.
#[derive(Debug, Clone)]
pub struct StatusEvent {
    pub connection_id: String,
    pub provider_message_id: String,
    pub status: Status,
    pub provider_status: String,
    pub failure: Option<(FailureReason, Option<String>, String)>,
    pub at: Millis,
}

/// What applying a status event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The delivery moved to the new status.
    Moved {
        message_id: String,
        delivery_id: String,
    },
    /// Recorded in the timeline only: late, duplicate or out of order.
    Ignored { delivery_id: String },
    /// No delivery has this provider id yet: held until the send is recorded.
    Held,
}

impl Store {
    /// Release every lease. Only safe while no dispatcher runs, i.e. at startup of the one
    /// process that owns the data directory.
    pub async fn release_leases(&self) -> Result<usize, StoreError> {
        self.write(|t| {
            Ok(t.execute(
                "UPDATE deliveries SET lease_token = NULL, lease_until = NULL, next_attempt_at = ?1 WHERE lease_until IS NOT NULL",
                [now_ms()],
            )?)
        })
        .await
    }

    /// Lease up to `limit` due deliveries for `lease_ms`.
    pub async fn claim(&self, limit: u32, lease_ms: i64) -> Result<Vec<Job>, StoreError> {
        self.write(move |t| {
            let now = now_ms();
            let until = now + lease_ms;
            let token = uuid::Uuid::new_v4().simple().to_string();
            // A leased delivery's due time moves to its lease expiry: the due index then skips
            // work in flight without a scan, and a lease that is never completed (a crash)
            // makes the delivery due again by itself.
            let mut claim = t.prepare_cached(
                "UPDATE deliveries SET lease_token = ?1, lease_until = ?2, next_attempt_at = ?2, updated_at = ?3
                 WHERE id IN (SELECT id FROM deliveries WHERE next_attempt_at <= ?3
                              ORDER BY next_attempt_at LIMIT ?4)
                 RETURNING id, message_id, connection_id, attempts, status, channel, product, units, country, step",
            )?;
            let claimed = claim
                .query_map(params![token, until, now, limit], |r| {
                    Ok(Claimed {
                        delivery_id: r.get(0)?,
                        message_id: r.get(1)?,
                        connection_id: r.get(2)?,
                        attempts: r.get(3)?,
                        status: r.get(4)?,
                        channel: r.get(5)?,
                        product: r.get(6)?,
                        units: r.get(7)?,
                        country: r.get(8)?,
                        step: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<Claimed>, _>>()?;
            drop(claim);
            let mut message = t.prepare_cached("SELECT workspace_id, request FROM messages WHERE id = ?1")?;
            let mut jobs = Vec::with_capacity(claimed.len());
            let mut first_attempts = Vec::new();
            for Claimed { delivery_id, message_id, connection_id, attempts, status, channel, product, units, country, step } in claimed {
                let (workspace_id, request) =
                    message.query_row([&message_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                let mut refused = None;
                if parse_status(&status)? == Status::Queued {
                    first_attempts.push((delivery_id.clone(), message_id.clone()));
                    // The money is held as the send is dispatched, in this same commit.
                    if let Some(product) = product {
                        let charge = wallet::Charge {
                            workspace_id: workspace_id.clone(),
                            message_id: message_id.clone(),
                            delivery_id: delivery_id.clone(),
                            channel: channel.clone(),
                            product,
                            country: country.unwrap_or_else(|| "*".into()),
                            units: units.unwrap_or(1),
                        };
                        if let wallet::HoldOutcome::Insufficient { cost, available } = wallet::hold(t, &charge, now).map_err(wallet_failed)? {
                            refused = Some(Failure {
                                reason: FailureReason::InsufficientFunds,
                                provider_code: None,
                                detail: format!("the send costs {cost} micro-units; the wallet has {available} available"),
                                retryable: false,
                                retry_after_ms: None,
                            });
                        }
                    }
                }
                let mut request: NewMessage =
                    serde_json::from_str(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                // A routed message has no channel of its own: each delivery is on one, with
                // the content planning decided for it.
                request.channel = channel;
                let drop_subject = match step {
                    Some(step) => t
                        .prepare_cached("SELECT drop_subject FROM route_entries WHERE message_id = ?1 AND step = ?2 AND delivery_id = ?3")?
                        .query_row(params![message_id, step, delivery_id], |r| r.get(0))
                        .optional()?
                        .unwrap_or(false),
                    None => false,
                };
                if drop_subject {
                    request.content.subject = None;
                }
                jobs.push(Job {
                    delivery_id,
                    message_id,
                    workspace_id,
                    connection_id,
                    attempts,
                    lease_token: token.clone(),
                    request,
                    refused,
                });
            }
            drop(message);
            for (delivery_id, message_id) in first_attempts {
                set_status(t, &delivery_id, Status::Sending, now)?;
                insert_event(t, &delivery_id, Status::Sending, now, "dispatcher", None, true)?;
                refresh_message(t, &message_id, now)?;
            }
            Ok(jobs)
        })
        .await
    }

    /// When the next delivery falls due (for a leased one: when its lease expires).
    pub async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE next_attempt_at IS NOT NULL",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Record an attempt. Returns false when the lease was lost (the result is discarded).
    pub async fn complete(&self, c: Completion) -> Result<bool, StoreError> {
        self.write(move |t| {
            let row = t
                .prepare_cached("SELECT message_id, connection_id, status, attempts FROM deliveries WHERE id = ?1 AND lease_token = ?2")?
                .query_row(params![c.delivery_id, c.lease_token], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u32>(3)?))
                })
                .optional()?;
            let Some((message_id, connection_id, status, attempts)) = row else { return Ok(false) };
            let status = parse_status(&status)?;
            let number = attempts + 1;
            let now = c.finished_at;
            match &c.outcome {
                SendOutcome::Accepted { provider_message_id } => {
                    let sent_at = earliest_send(t, &c)?;
                    t.prepare_cached(
                        "UPDATE deliveries SET provider_message_id = ?2, attempts = ?3, next_attempt_at = NULL,
                            lease_token = NULL, lease_until = NULL, failure_reason = NULL, failure_code = NULL,
                            failure_detail = NULL, failure_retryable = NULL, updated_at = ?4, sent_at = ?5 WHERE id = ?1",
                    )?
                    // Watermarks cover messages sent before them: the request left at
                    // `started_at`, so the provider's own send time is no earlier. An earlier
                    // attempt whose answer was lost may be the one the provider took (this
                    // answer its idempotent replay): its start is the send time then.
                    .execute(params![c.delivery_id, provider_message_id, number, now, sent_at])?;
                    insert_attempt(t, &c, number, AttemptOutcome::Accepted, None)?;
                    if status.can_become(Status::Sent) {
                        set_status(t, &c.delivery_id, Status::Sent, now)?;
                        insert_event(t, &c.delivery_id, Status::Sent, now, "dispatcher", Some(&format!("accepted as {provider_message_id}")), true)?;
                    }
                    wallet::capture(t, &c.delivery_id, now).map_err(wallet_failed)?;
                    replay_early_callbacks(t, &connection_id, provider_message_id)?;
                    super::receipts::apply_kept_watermarks(t, &c.delivery_id, &connection_id, provider_message_id, sent_at)?;
                }
                SendOutcome::Failed(f) => {
                    let outcome = if c.retry_at.is_some() { AttemptOutcome::RetryScheduled } else { AttemptOutcome::Failed };
                    t.prepare_cached(
                        "UPDATE deliveries SET attempts = ?2, next_attempt_at = ?3, lease_token = NULL, lease_until = NULL,
                            failure_reason = ?4, failure_code = ?5, failure_detail = ?6, failure_retryable = ?7, updated_at = ?8
                         WHERE id = ?1",
                    )?
                    .execute(params![c.delivery_id, number, c.retry_at, f.reason.as_str(), f.provider_code, f.detail, f.retryable, now])?;
                    insert_attempt(t, &c, number, outcome, Some(f))?;
                    if c.retry_at.is_none() && status.can_become(Status::Failed) {
                        set_status(t, &c.delivery_id, Status::Failed, now)?;
                        t.prepare_cached("UPDATE deliveries SET failed_at = ?2 WHERE id = ?1")?
                            .execute(params![c.delivery_id, now])?;
                        let detail = format!("{}: {}", f.reason.as_str(), f.detail);
                        insert_event(t, &c.delivery_id, Status::Failed, now, "dispatcher", Some(&detail), true)?;
                    }
                    if c.retry_at.is_none() {
                        wallet::release(t, &c.delivery_id, now).map_err(wallet_failed)?;
                    }
                }
            }
            refresh_message(t, &message_id, now)?;
            Ok(true)
        })
        .await
    }

    /// Apply provider callbacks, in order, in one commit.
    pub async fn apply_status_events(
        &self,
        events: Vec<StatusEvent>,
    ) -> Result<Vec<Applied>, StoreError> {
        self.write(move |t| events.iter().map(|e| apply_status(t, e)).collect())
            .await
    }
}

/// The earliest moment the provider may have taken this delivery: the first attempt whose
/// answer was lost, or this one.
fn earliest_send(t: &Transaction, c: &Completion) -> Result<Millis, StoreError> {
    let lost: Option<Millis> = t
        .prepare_cached(
            "SELECT MIN(started_at) FROM attempts WHERE delivery_id = ?1 AND answer_lost = 1",
        )?
        .query_row(params![c.delivery_id], |r| r.get(0))?;
    Ok(lost.map_or(c.started_at, |l| l.min(c.started_at)))
}

fn insert_attempt(
    t: &Transaction,
    c: &Completion,
    number: u32,
    outcome: AttemptOutcome,
    f: Option<&Failure>,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, reason, provider_code, detail, retry_after_ms, answer_lost)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        c.delivery_id,
        number,
        c.started_at,
        c.finished_at,
        outcome.as_str(),
        f.map(|f| f.reason.as_str()),
        f.and_then(|f| f.provider_code.clone()),
        f.map(|f| f.detail.clone()),
        f.and_then(|f| f.retry_after_ms).map(|v| v as i64),
        c.answer_lost,
    ])?;
    Ok(())
}

pub(super) fn set_status(
    t: &Transaction,
    delivery_id: &str,
    status: Status,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE deliveries SET status = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![delivery_id, status.as_str(), now])?;
    // A routed delivery's step must look again (the router picks dirty steps up).
    t.prepare_cached(
        "UPDATE route_steps SET dirty = 1
         WHERE state = 'running' AND (message_id, step) =
            (SELECT message_id, step FROM deliveries WHERE id = ?1 AND step IS NOT NULL)",
    )?
    .execute([delivery_id])?;
    Ok(())
}

/// The message's status is its best delivery's: any progress wins over a failed sibling.
pub(super) fn refresh_message(
    t: &Transaction,
    message_id: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let mut stmt = t.prepare_cached("SELECT status FROM deliveries WHERE message_id = ?1")?;
    let statuses = stmt
        .query_map([message_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut overall: Option<Status> = None;
    for s in statuses {
        let s = parse_status(&s)?;
        overall = Some(match overall {
            None => s,
            Some(Status::Failed) => s,
            Some(cur) if s != Status::Failed && cur.can_become(s) => s,
            Some(cur) => cur,
        });
    }
    if let Some(status) = overall {
        t.prepare_cached("UPDATE messages SET status = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![message_id, status.as_str(), now])?;
    }
    Ok(())
}

pub(super) fn apply_status(t: &Transaction, e: &StatusEvent) -> Result<Applied, StoreError> {
    let row = t
        .prepare_cached("SELECT id, message_id, status FROM deliveries WHERE connection_id = ?1 AND provider_message_id = ?2")?
        .query_row(params![e.connection_id, e.provider_message_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .optional()?;
    let Some((delivery_id, message_id, current)) = row else {
        t.prepare_cached(
            "INSERT INTO early_callbacks (connection_id, provider_message_id, status, at, detail, failure_reason, failure_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            e.connection_id,
            e.provider_message_id,
            e.status.as_str(),
            e.at,
            e.failure.as_ref().map(|f| f.2.clone()).unwrap_or_else(|| e.provider_status.clone()),
            e.failure.as_ref().map(|f| f.0.as_str()),
            e.failure.as_ref().and_then(|f| f.1.clone()),
        ])?;
        return Ok(Applied::Held);
    };
    apply_to_delivery(t, delivery_id, message_id, &current, e)
}

/// Move one known delivery, forward only, recording the event either way.
pub(super) fn apply_to_delivery(
    t: &Transaction,
    delivery_id: String,
    message_id: String,
    current: &str,
    e: &StatusEvent,
) -> Result<Applied, StoreError> {
    let current = parse_status(current)?;
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
        insert_event(
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
    set_status(t, &delivery_id, e.status, e.at)?;
    if let Some((reason, code, text)) = &e.failure {
        t.prepare_cached("UPDATE deliveries SET failure_reason = ?2, failure_code = ?3, failure_detail = ?4, failure_retryable = 0, failed_at = ?5 WHERE id = ?1")?
            .execute(params![delivery_id, reason.as_str(), code, text, e.at])?;
    }
    if e.status == Status::Failed {
        // Accepted, then reported failed: what was captured goes back.
        wallet::refund(t, &delivery_id, now_ms()).map_err(wallet_failed)?;
    }
    insert_event(
        t,
        &delivery_id,
        e.status,
        e.at,
        "provider",
        Some(&detail),
        true,
    )?;
    refresh_message(t, &message_id, e.at)?;
    Ok(Applied::Moved {
        message_id,
        delivery_id,
    })
}

fn replay_early_callbacks(
    t: &Transaction,
    connection_id: &str,
    provider_message_id: &str,
) -> Result<(), StoreError> {
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
    for (_, status, at, detail, reason, code) in held {
        let status = parse_status(&status)?;
        let failure = reason.map(|r| {
            (
                FailureReason::parse(&r).unwrap_or(FailureReason::Unknown),
                code,
                detail.clone().unwrap_or_default(),
            )
        });
        let e = StatusEvent {
            connection_id: connection_id.to_string(),
            provider_message_id: provider_message_id.to_string(),
            status,
            provider_status: detail.unwrap_or_default(),
            failure,
            at,
        };
        apply_status(t, &e)?;
    }
    Ok(())
}
