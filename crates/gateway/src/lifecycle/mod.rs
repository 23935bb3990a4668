//! The delivery lifecycle: how a delivery moves from `queued` to `sent`, `delivered`, `seen`
//! or `failed`, and what moves with it in the same commit.
//!
//! The store keeps the rows; this module owns the rules that connect them. One status change
//! is never one row: the delivery's status, its timeline line, the message's overall status,
//! the route step that must look again, the wallet's hold (placed at the claim, captured on
//! acceptance, released on a final failure, refunded on a reported failure) and the event
//! the business hears about all change together, or not at all. Each rule here is a function
//! of the caller's [`Transaction`](switchboard_store::sql::Transaction), so a service composes them into one
//! [`Store::write`]; [`Deliveries`] is the service that does so for the dispatcher, the
//! callback and receipt handlers and status lookups.
//!
//! - [`accept`]: the commit behind the API's 202;
//! - [`outbox`]: claiming due deliveries under a lease, and recording an attempt's outcome;
//! - [`lost`]: settling a delivery whose answer was lost by what the provider said of it;
//! - [`status`]: applying a provider's report, forward only, or holding it when it came
//!   before its send was recorded;
//! - [`receipts`]: watermarks and device receipts, which move deliveries through the same path;
//! - [`view`]: a message as the API shows it, with the resend verdict and cost of each delivery.

pub mod accept;
pub mod lost;
pub mod outbox;
pub mod receipts;
pub mod status;
pub mod view;

use std::sync::Arc;

use crate::billing::wallet::WalletError;

use crate::model::{FailureReason, MessageView, Millis, NewMessage, Status, now_ms};
use crate::store::{self, Inserted, Store, StoreError};

/// A lifecycle step failed: the store, or the wallet's rules for the money that moves with a
/// status. Either way the whole unit of work rolled back.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("wallet: {0}")]
    Wallet(#[from] WalletError),
}

impl LifecycleError {
    /// The database could not be reached: nothing was written, and the same write may be
    /// tried again once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            LifecycleError::Store(e) => e.is_unavailable(),
            LifecycleError::Wallet(e) => e.is_unavailable(),
        }
    }
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
    /// Of those, the ones that count against the attempt budget: not the leases a stopped
    /// process left unfinished, which may never have reached the provider.
    pub counted_attempts: u32,
    pub lease_token: String,
    pub request: NewMessage,
    /// Set when the send must fail without calling the provider (the wallet could not
    /// cover its cost).
    pub refused: Option<Failure>,
    /// Set when the last attempt's answer was lost: from the first such attempt's start to
    /// the last one's end. The provider is asked about that window before anything is sent.
    pub lost_window: Option<(Millis, Millis)>,
    /// The provider (or the app's receipt) already reported it delivered or seen: it
    /// arrived, whatever became of the answer to its send.
    pub reported_arrived: bool,
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
    /// Its outcome is `unknown`: the provider is asked before anything is sent again.
    pub answer_lost: bool,
    /// What the provider said about an earlier lost answer before this attempt went out,
    /// for the timeline.
    pub note: Option<String>,
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

pub use accept::{InsertMessage, NewDelivery};
pub use receipts::{ReceiptOutcome, Watermark};

/// The lifecycle as a service: each method is one commit.
#[derive(Clone)]
pub struct Deliveries {
    store: Arc<Store>,
    /// This node's name, which starts every lease token it hands out.
    node: Arc<str>,
}

impl Deliveries {
    /// `node` names this gateway process's data directory (one process per directory): it
    /// is how a restarted node knows which leases were its own.
    pub fn new(store: Arc<Store>, node: &str) -> Deliveries {
        Deliveries {
            store,
            node: node.into(),
        }
    }

    /// Commit a new message and its first delivery, due now. With an idempotency key already
    /// used in this workspace, nothing is written and the original is returned.
    pub async fn accept(&self, m: InsertMessage) -> Result<Inserted, StoreError> {
        self.store
            .write(move |t| accept::accept(t, &m, now_ms()))
            .await
    }

    /// A message with its deliveries, attempts, timeline, resend verdicts and costs.
    pub async fn view(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<MessageView>, StoreError> {
        let (ws, id) = (workspace_id.to_string(), id.to_string());
        self.store.read(move |c| view::load(c, &ws, &id)).await
    }

    /// Release the leases a previous process left behind, at start-up, before this one's
    /// dispatcher runs. On SQLite that is every lease: the data directory's lock proves no
    /// other process dispatches. On a shared database only this node's own: the lock proves
    /// its previous life is over, while other nodes' leases may be live and end by
    /// themselves if they are not.
    pub async fn release_leases(&self) -> Result<usize, StoreError> {
        let prefix = format!("{}.", self.node);
        if self.store.is_shared() {
            self.store
                .write(move |t| store::deliveries::release_leases_with_prefix(t, &prefix, now_ms()))
                .await
        } else {
            self.store
                .write(|t| store::deliveries::release_all_leases(t, now_ms()))
                .await
        }
    }

    /// Lease up to `limit` due deliveries for `lease_ms`, placing the wallet hold of each
    /// first attempt in the same commit.
    pub async fn claim(&self, limit: u32, lease_ms: i64) -> Result<Vec<Job>, LifecycleError> {
        self.store
            .write_shared_fate({
                let node = self.node.clone();
                move |t| outbox::claim(t, &node, limit, lease_ms, now_ms())
            })
            .await
    }

    /// When the next delivery falls due (for a leased one: when its lease expires).
    pub async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        self.store.read(store::deliveries::next_due).await
    }

    /// Record an attempt. Returns false when the lease was lost (the result is discarded).
    pub async fn complete(&self, c: Completion) -> Result<bool, LifecycleError> {
        self.store
            .write_shared_fate(move |t| outbox::complete(t, &c))
            .await
    }

    /// Settle a delivery whose last answer was lost, by what the provider said (or could not
    /// say) about it. Returns false when the lease was lost.
    pub async fn settle_lost(
        &self,
        delivery_id: String,
        lease_token: String,
        settle: lost::Settle,
    ) -> Result<bool, LifecycleError> {
        self.store
            .write_shared_fate(move |t| {
                lost::settle(t, &delivery_id, &lease_token, &settle, now_ms())
            })
            .await
    }

    /// Apply provider reports, in order, in one commit.
    pub async fn apply_status_events(
        &self,
        events: Vec<StatusEvent>,
    ) -> Result<Vec<Applied>, LifecycleError> {
        self.store
            .write_shared_fate(move |t| events.iter().map(|e| status::apply(t, e)).collect())
            .await
    }

    /// Apply watermarks in one commit; returns how many deliveries moved.
    pub async fn apply_watermarks(&self, marks: Vec<Watermark>) -> Result<usize, LifecycleError> {
        self.store
            .write(move |t| receipts::apply_watermarks(t, &marks))
            .await
    }

    /// The app confirmed the push for `message_id` reached `status` (delivered or seen).
    pub async fn apply_device_receipt(
        &self,
        connection_id: String,
        message_id: String,
        status: Status,
        at: Millis,
        detail: String,
    ) -> Result<ReceiptOutcome, LifecycleError> {
        self.store
            .write(move |t| {
                receipts::apply_device_receipt(t, connection_id, message_id, status, at, detail)
            })
            .await
    }
}
