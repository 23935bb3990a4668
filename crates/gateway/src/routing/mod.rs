//! Routing: a business describes how to reach a person, and the gateway carries it out.
//!
//! - [`policy`]: what a policy is (steps of channels, parallel lanes, first-of groups, a
//!   success condition and a timeout per step), its validation and the built-in `follow-up`.
//! - [`plan`]: the `Planner` service; at accept time, every channel of every step is resolved
//!   once: its connection, the recipient's address there, opt-outs and dead tokens, the
//!   plugin's validation and quote. A channel that cannot be used is planned as skipped, with
//!   the reason.
//! - [`policies`]: the `Policies` service, policies per workspace (`/v1/policies`) and from a
//!   config file.
//! - [`machine`]: the state machine that carries a plan out, step by step, inside the store's
//!   unit of work; step state and deadlines are rows (`store::routes`).
//! - [`Router`] (here): the loop that runs the machine over changed and due steps. It holds
//!   nothing a crash could lose.

pub mod machine;
pub mod plan;
pub mod policies;
pub use switchboard_model::policy;

use std::sync::Arc;
use std::time::Duration;

use crate::dispatch::Dispatcher;
use crate::model::now_ms;
use crate::store::{Inserted, Store, StoreError};

pub use machine::{InsertRouted, RouteProgress};

/// The longest the router sleeps: how late a step notices a delivery's change at worst.
const POLL: Duration = Duration::from_millis(50);
const BATCH: u32 = 512;

pub struct Router {
    store: Arc<Store>,
    dispatcher: Arc<Dispatcher>,
}

impl Router {
    pub fn new(store: Arc<Store>, dispatcher: Arc<Dispatcher>) -> Arc<Self> {
        Arc::new(Router { store, dispatcher })
    }

    /// Commit a routed message, its plan, and the first step's deliveries.
    pub async fn accept(&self, m: InsertRouted) -> Result<Inserted, StoreError> {
        self.store
            .write(move |t| machine::accept(t, &m, now_ms()))
            .await
    }

    /// Re-evaluate running steps that changed or fell due, in one commit.
    pub async fn advance(&self, limit: u32) -> Result<RouteProgress, StoreError> {
        self.store
            .write(move |t| machine::advance_due(t, limit, now_ms()))
            .await
    }

    pub async fn run(self: Arc<Self>) {
        loop {
            let mut sleep = POLL;
            match self.store.routes_pending().await {
                Ok(true) => match self.advance(BATCH).await {
                    Ok(progress) => {
                        if progress.deliveries_started > 0 {
                            self.dispatcher.wake();
                        }
                        if progress.steps_evaluated as u32 == BATCH {
                            sleep = Duration::ZERO;
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "advancing routes failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "reading routes failed"),
            }
            if let Ok(Some(deadline)) = self.store.read(crate::store::routes::next_deadline).await {
                let until = Duration::from_millis((deadline - now_ms()).max(0) as u64);
                sleep = sleep.min(until);
            }
            tokio::time::sleep(sleep).await;
        }
    }
}
