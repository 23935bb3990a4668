//! The dispatcher: turns committed deliveries into provider calls.
//!
//! One loop claims due deliveries from the outbox in batches, as many as there are free
//! dispatch slots, and spawns one task per delivery. A task waits for a slot on its
//! connection (bounded concurrency per provider account), calls the plugin's `send` in a
//! fresh sandboxed instance, and records the outcome: accepted, retry at a time chosen by
//! [`RetryPolicy`], or failed for good. Outcomes from many tasks share group commits.

pub mod channel_state;
mod reconcile;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub use retry::RetryPolicy;

use crate::connections::Connections;
use crate::lifecycle::{Completion, Deliveries, Failure, Job, SendOutcome};
use crate::metrics::{AttemptLabels, ChannelLabels, Metrics};
use crate::model::{FailureReason, now_ms};
use crate::runtime::{CallError, PluginRuntime, SendAnswer, convert};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub retry: RetryPolicy,
    /// Deliveries in flight at once across all connections.
    pub max_in_flight: u32,
    /// How long a claimed delivery stays ours; longer than any send deadline.
    pub lease: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            retry: RetryPolicy::default(),
            max_in_flight: 512,
            lease: Duration::from_secs(120),
        }
    }
}

pub struct Dispatcher {
    /// The lifecycle's claims and completions.
    deliveries: Deliveries,
    /// Per-channel reads and marks (dead addresses, channel state).
    store: Arc<Store>,
    runtime: Arc<PluginRuntime>,
    connections: Arc<Connections>,
    metrics: Arc<Metrics>,
    config: DispatchConfig,
    slots: Arc<Semaphore>,
    wake: Notify,
}

impl Dispatcher {
    pub fn new(
        deliveries: Deliveries,
        store: Arc<Store>,
        runtime: Arc<PluginRuntime>,
        connections: Arc<Connections>,
        metrics: Arc<Metrics>,
        config: DispatchConfig,
    ) -> Arc<Self> {
        let slots = Arc::new(Semaphore::new(config.max_in_flight as usize));
        Arc::new(Dispatcher {
            deliveries,
            store,
            runtime,
            connections,
            metrics,
            config,
            slots,
            wake: Notify::new(),
        })
    }

    /// New work was committed: claim it now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn run(self: Arc<Self>) {
        loop {
            let free = self.slots.available_permits();
            if free == 0 {
                // Wait for one task to finish before claiming more.
                drop(self.slots.clone().acquire_owned().await);
                continue;
            }
            match self
                .deliveries
                .claim(free.min(1024) as u32, self.config.lease.as_millis() as i64)
                .await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        let Ok(slot) = self.slots.clone().acquire_owned().await else {
                            return;
                        };
                        tokio::spawn(self.clone().deliver(job, slot));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
            let wait = match self.deliveries.next_due().await {
                Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(2, 1000) as u64),
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn deliver(self: Arc<Self>, job: Job, _slot: OwnedSemaphorePermit) {
        // An earlier attempt's answer was lost: ask the provider before sending anything.
        let mut note = None;
        if let Some(window) = job.lost_window {
            match self.reconcile(&job, window).await {
                reconcile::Reconciled::SendAgain(n) => note = Some(n),
                reconcile::Reconciled::Settle(settle) => {
                    self.settle_lost(&job, settle).await;
                    return;
                }
            }
        }
        let started_at = now_ms();
        let (channel, outcome, answer_lost) = self.attempt(&job).await;
        let finished_at = now_ms();
        let retry_at = match &outcome {
            SendOutcome::Failed(f) if answer_lost || f.retryable => {
                let wait = self.config.retry.next_delay(
                    job.counted_attempts + 1,
                    self.config.retry.asked_wait(f.reason, f.retry_after_ms),
                );
                // A lost answer's provider may have it: it is asked at the next claim, even
                // when this was the last attempt allowed (asking sends nothing).
                let wait = if answer_lost {
                    Some(wait.unwrap_or(self.config.retry.base))
                } else {
                    wait
                };
                wait.map(|d| finished_at + d.as_millis() as i64)
            }
            _ => None,
        };
        let (label, reason) = match &outcome {
            SendOutcome::Accepted { .. } => ("accepted", String::new()),
            SendOutcome::Failed(f) if answer_lost => ("unknown", f.reason.as_str().to_string()),
            SendOutcome::Failed(f) => (
                if retry_at.is_some() {
                    "retry_scheduled"
                } else {
                    "failed"
                },
                f.reason.as_str().to_string(),
            ),
        };
        self.metrics
            .attempts
            .get_or_create(&AttemptLabels {
                channel: channel.clone(),
                outcome: label.into(),
                reason,
            })
            .inc();
        self.metrics
            .send_seconds
            .get_or_create(&ChannelLabels { channel })
            .observe((finished_at - started_at) as f64 / 1000.0);
        if let SendOutcome::Failed(f) = &outcome
            && retry_at.is_none()
        {
            self.learn(&job, f, started_at).await;
        }
        if let SendOutcome::Failed(f) = &outcome {
            tracing::info!(delivery = %job.delivery_id, attempt = job.attempts + 1, reason = f.reason.as_str(), detail = %f.detail, retry = retry_at.is_some(), "attempt failed");
        }
        let completion = Completion {
            delivery_id: job.delivery_id.clone(),
            lease_token: job.lease_token.clone(),
            started_at,
            finished_at,
            outcome,
            retry_at,
            answer_lost,
            note,
        };
        // While the database is away the outcome is kept here and offered again, for as long
        // as the lease lasts: dropping it would make the delivery wait out its lease and be
        // claimed again (then, if it was a send that reached the provider and was recorded
        // nowhere, sent again).
        let keep_until = started_at + self.config.lease.as_millis() as i64;
        self.keep_offering(&job, "outcome", keep_until, || {
            self.deliveries.complete(completion.clone())
        })
        .await;
        if retry_at.is_some() {
            self.wake();
        }
    }

    /// One attempt through the plugin: the channel (for metrics), the outcome, and whether a
    /// request may have reached the provider without its answer (see
    /// [`Completion::answer_lost`]).
    async fn attempt(&self, job: &Job) -> (String, SendOutcome, bool) {
        let channel = job.request.channel.clone();
        if let Some(refused) = &job.refused {
            return (channel, SendOutcome::Failed(refused.clone()), false);
        }
        let Some(conn) = self.connections.get(&job.connection_id) else {
            return (
                channel,
                failed(
                    FailureReason::NoConnection,
                    format!("connection {} no longer exists", job.connection_id),
                    true,
                ),
                false,
            );
        };
        let Some(plugin) = self.runtime.plugin(&conn.plugin) else {
            return (
                channel,
                failed(
                    FailureReason::NoConnection,
                    format!("plugin `{}` is not loaded", conn.plugin),
                    true,
                ),
                false,
            );
        };
        let Ok(_permit) = conn.in_flight.clone().acquire_owned().await else {
            return (
                channel,
                failed(
                    FailureReason::NoConnection,
                    "connection closed".into(),
                    true,
                ),
                false,
            );
        };
        let needs_window = plugin.has(crate::runtime::Capability::MessagingWindow);
        let last_inbound_ms = match self.preflight(job, &conn, needs_window).await {
            channel_state::Preflight::Go { last_inbound_ms } => last_inbound_ms,
            channel_state::Preflight::Refuse(f) => {
                return (channel, SendOutcome::Failed(f), false);
            }
        };
        let mut msg = self.wit_message(job, &plugin);
        msg.to.last_inbound_ms = last_inbound_ms;
        // Checked at intake; it goes out as accepted (see `sender_domains`).
        let sender = job
            .request
            .from
            .as_ref()
            .filter(|_| plugin.has(crate::runtime::Capability::SenderDomains))
            .map(convert::wit_sender);
        let mut answer_lost = false;
        let outcome = match self
            .runtime
            .send(&plugin, conn.ctx.clone(), &msg, sender.as_ref())
            .await
        {
            Ok(SendAnswer {
                result: Ok(sent), ..
            }) => SendOutcome::Accepted {
                provider_message_id: sent.provider_message_id,
            },
            Ok(SendAnswer {
                result: Err(e),
                answer_lost: lost,
            }) => {
                answer_lost = lost;
                SendOutcome::Failed(Failure {
                    reason: convert::reason(e.reason),
                    provider_code: e.provider_code,
                    detail: e.detail,
                    retryable: e.retryable,
                    retry_after_ms: e.retry_after_ms,
                })
            }
            // Nothing was attempted: try again when the quarantine lets a probe through.
            Err(call @ CallError::Quarantined { retry_in_ms, .. }) => {
                SendOutcome::Failed(Failure {
                    reason: FailureReason::PluginQuarantined,
                    provider_code: None,
                    detail: call.to_string(),
                    retryable: true,
                    retry_after_ms: Some(retry_in_ms),
                })
            }
            // A misbehaving plugin is not retried: it would fail the same way. The message
            // stays resendable once the plugin is fixed.
            Err(call) => failed(FailureReason::PluginError, call.to_string(), false),
        };
        (channel, outcome, answer_lost)
    }
}

impl Dispatcher {
    /// The message as the plugin gets it, for a send or a `find-sent`. A routed message's
    /// content is cut to what this channel carries, as at planning (a no-op for
    /// single-channel messages, which intake already held to it). The delivery id is the
    /// message's idempotency key: stable across every attempt, and what a plugin stores
    /// with the provider (a custom argument) to find a send again.
    fn wit_message(
        &self,
        job: &Job,
        plugin: &crate::runtime::LoadedPlugin,
    ) -> crate::runtime::wit::Message {
        let mut request = job.request.clone();
        crate::routing::plan::project(plugin, &mut request);
        convert::wit_message(
            &job.message_id,
            &job.workspace_id,
            &request,
            &job.delivery_id,
        )
    }

    /// Record how a lost answer ended without a send, keeping it while the database is away
    /// for as long as the lease lasts (as an attempt's outcome is kept).
    async fn settle_lost(&self, job: &Job, settle: crate::lifecycle::lost::Settle) {
        let keep_until = now_ms() + self.config.lease.as_millis() as i64;
        self.keep_offering(job, "reconciliation", keep_until, || {
            self.deliveries.settle_lost(
                job.delivery_id.clone(),
                job.lease_token.clone(),
                settle.clone(),
            )
        })
        .await;
        self.wake();
    }

    /// Record `what` for `job`, offering it again while the database is unavailable, until
    /// `keep_until` (the lease's end, after which another claim owns the delivery).
    async fn keep_offering<F, Fut>(&self, job: &Job, what: &str, keep_until: i64, mut write: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool, crate::lifecycle::LifecycleError>>,
    {
        let mut pause = Duration::from_millis(100);
        loop {
            match write().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(delivery = %job.delivery_id, what, "lease lost before it was recorded; discarded")
                }
                Err(e)
                    if e.is_unavailable() && now_ms() + (pause.as_millis() as i64) < keep_until =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err(e) => {
                    tracing::error!(delivery = %job.delivery_id, what, error = %e, "recording it failed")
                }
            }
            break;
        }
    }
}

fn failed(reason: FailureReason, detail: String, retryable: bool) -> SendOutcome {
    SendOutcome::Failed(Failure {
        reason,
        provider_code: None,
        detail,
        retryable,
        retry_after_ms: None,
    })
}
