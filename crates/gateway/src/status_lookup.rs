//! Status lookups: recovering the receipts that never came.
//!
//! Providers post a delivery's later statuses (delivered, failed) to the gateway once. A
//! callback posted while the gateway was down, or lost on the way, would leave the delivery
//! at `sent` forever: its message never reaches a final state, its fallback step waits for
//! its timeout, and nobody learns it failed. So a delivery that has sat at `sent` for
//! [`StatusLookupConfig::after`] is looked up at the provider through its plugin's
//! `lookup-status` export (manifest capability `status-lookup`), and again with doubling
//! waits until [`StatusLookupConfig::max_lookups`]. The answer goes through the same
//! forward-only status path as a callback, so a lookup racing a late callback changes
//! nothing twice. Channels that cannot be asked are marked once and never selected again.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::connections::Connections;
use crate::lifecycle::{Deliveries, LifecycleError, StatusEvent};
use crate::model::{Millis, now_ms};
use crate::runtime::{PluginRuntime, convert};
use crate::store::{DueLookup, LookupDone, Store};

/// How often the stale deliveries are looked for; the query reads a partial index of the
/// deliveries at `sent` only.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries looked up per round, and at once.
const BATCH: usize = 256;
const CONCURRENCY: usize = 16;
/// The longest wait between two lookups of one delivery.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct StatusLookupConfig {
    /// A delivery at `sent` for this long is looked up. Carriers report most receipts within
    /// minutes; asking sooner costs provider API calls for nothing.
    pub after: Duration,
    /// Lookups per delivery; each waits twice as long as the one before.
    pub max_lookups: u32,
}

impl Default for StatusLookupConfig {
    fn default() -> Self {
        StatusLookupConfig {
            after: Duration::from_secs(15 * 60),
            max_lookups: 6,
        }
    }
}

/// One lookup's result: the status to apply, if the provider knows one past `sent`.
enum Answer {
    Status(Box<StatusEvent>),
    Nothing,
    /// The channel cannot be asked, or the provider refuses for good.
    GiveUp,
}

/// The status lookup service: finds deliveries stuck at `sent`, asks their plugins, and
/// applies the answers through the lifecycle.
pub struct StatusLookups {
    config: StatusLookupConfig,
    /// The lookup schedule (`store::lookups`).
    store: Arc<Store>,
    deliveries: Deliveries,
    connections: Arc<Connections>,
    runtime: Arc<PluginRuntime>,
}

impl StatusLookups {
    pub fn new(
        config: StatusLookupConfig,
        store: Arc<Store>,
        deliveries: Deliveries,
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
    ) -> Arc<StatusLookups> {
        Arc::new(StatusLookups {
            config,
            store,
            deliveries,
            connections,
            runtime,
        })
    }

    pub async fn run(self: Arc<Self>) {
        loop {
            tokio::time::sleep(POLL).await;
            match self.look_up_stale_statuses().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deliveries = n, "status lookups made"),
                Err(e) => tracing::warn!(error = %e, "status lookups failed"),
            }
        }
    }

    /// One round: look up the stale deliveries that are due, apply what the providers say.
    /// Returns how many were looked up.
    pub async fn look_up_stale_statuses(self: &Arc<Self>) -> Result<usize, LifecycleError> {
        let cfg = &self.config;
        let now = now_ms();
        let stale_before = now - cfg.after.as_millis() as Millis;
        let due = self
            .store
            .due_status_lookups(stale_before, now, cfg.max_lookups, BATCH)
            .await?;
        let count = due.len();
        let mut answers = Vec::with_capacity(count);
        let mut tasks = JoinSet::new();
        for lookup in due {
            if tasks.len() >= CONCURRENCY
                && let Some(done) = tasks.join_next().await
            {
                answers.push(done.expect("a status lookup panicked"));
            }
            let lookups = self.clone();
            tasks.spawn(async move {
                let answer = lookups.look_up(&lookup).await;
                (lookup, answer)
            });
        }
        while let Some(done) = tasks.join_next().await {
            answers.push(done.expect("a status lookup panicked"));
        }

        let mut statuses = Vec::new();
        let mut records = Vec::with_capacity(count);
        for (lookup, answer) in answers {
            let wait = cfg
                .after
                .saturating_mul(1 << lookup.lookups.min(16))
                .min(MAX_WAIT);
            let next_at = match answer {
                Answer::GiveUp => None,
                Answer::Status(s) => {
                    statuses.push(*s);
                    Some(now + wait.as_millis() as Millis)
                }
                Answer::Nothing => Some(now + wait.as_millis() as Millis),
            };
            records.push(LookupDone {
                delivery_id: lookup.delivery_id,
                next_at,
            });
        }
        if !statuses.is_empty() {
            let moved = self.deliveries.apply_status_events(statuses).await?;
            tracing::debug!(?moved, "looked-up statuses applied");
        }
        self.store
            .record_status_lookups(records, cfg.max_lookups)
            .await?;
        Ok(count)
    }

    async fn look_up(&self, lookup: &DueLookup) -> Answer {
        let Some(conn) = self.connections.get(&lookup.connection_id) else {
            return Answer::GiveUp;
        };
        let Some(plugin) = self.runtime.plugin(&conn.plugin) else {
            return Answer::GiveUp;
        };
        if !plugin.has(crate::runtime::Capability::StatusLookup) {
            return Answer::GiveUp;
        }
        match self
            .runtime
            .lookup_status(&plugin, conn.ctx.clone(), &lookup.provider_message_id)
            .await
        {
            Ok(Ok(Some(s))) => Answer::Status(Box::new(StatusEvent {
                connection_id: conn.id.clone(),
                provider_message_id: lookup.provider_message_id.clone(),
                status: convert::status(s.state),
                provider_status: format!("{} (looked up)", s.provider_status),
                failure: s
                    .failure
                    .map(|f| (convert::reason(f.reason), f.provider_code, f.detail)),
                at: now_ms(),
            })),
            Ok(Ok(None)) => Answer::Nothing,
            Ok(Err(e)) if !e.retryable => {
                tracing::info!(delivery = %lookup.delivery_id, reason = ?e.reason, detail = %e.detail, "status lookup refused; not asking again");
                Answer::GiveUp
            }
            Ok(Err(e)) => {
                tracing::debug!(delivery = %lookup.delivery_id, reason = ?e.reason, detail = %e.detail, "status lookup failed");
                Answer::Nothing
            }
            Err(e) => {
                tracing::warn!(delivery = %lookup.delivery_id, error = %e, "status lookup call failed");
                Answer::Nothing
            }
        }
    }
}
