//! The SMS wallet: every text the gateway sends is paid for from a prepaid wallet, exactly.
//!
//! - [`ledger`]: double-entry, append-only, idempotent transactions in integer micro-units,
//!   balances kept in step in the same SQLite transaction, and an audit that replays them.
//! - [`prices`]: the price table (channel, product, country, effective date) that turns a
//!   plugin's quote into a cost.
//! - [`wallet`]: holds at dispatch, capture on acceptance, release on failure, the monthly
//!   free credit, adjustments.
//! - [`topups`] and [`payments`]: manual and automatic top-ups through a card processor;
//!   [`TopUps`] (here) is the service that charges them and the loop behind it.
//! - [`Wallets`]: the service the API and the loops call; it runs the above inside the
//!   store's unit of work, and [`reports`] holds its reads.
//!
//! The path of a charge: intake quotes the product and units; the dispatcher's claim holds the
//! cost (or refuses the send with `insufficient_funds`) in the same commit that leases the
//! delivery; the outcome's commit captures or releases it. A crash anywhere leaves the hold
//! with its delivery, and the retried send settles it once.
//!
//! A crate of its own because money has its own tables and its own rules, and both must be
//! provable alone: the ledger's invariants are property-tested here against a real SQLite
//! file. It sits on the store (its SQL runs in the store's unit of work, so a hold commits
//! with its delivery's lease) and on events (low-balance alerts), and knows no service above.

// The crates below, at the paths the modules have always used.
use switchboard_events as events;
use switchboard_model as model;
use switchboard_store as store;

pub mod ledger;
mod month;
pub mod payments;
pub mod prices;
pub mod reports;
mod service;
pub mod topups;
pub mod views;
pub mod wallet;

#[cfg(test)]
mod tests;

pub use reports::delivery_cost;
pub use service::{BillingError, Wallets};

use std::sync::Arc;
use std::time::Duration;

use payments::{PaymentError, PaymentProcessor};
use tokio::sync::Notify;

const LOOP: Duration = Duration::from_millis(200);

/// The top-up service: charges top-ups through the card processor (manual ones while their
/// request waits, queued auto-charges in the background) and rolls wallets over at month
/// boundaries. It owns the processor and the loop's wake-up, so what changes a wallet's
/// top-up needs can have them looked at now rather than at the next tick.
/// What became of a manual top-up request.
#[derive(Debug)]
pub enum ManualTopUp {
    /// Recorded; its state says approved, pending (the processor was unavailable: retried
    /// in the background), declined or failed.
    Done(Box<views::TopUpView>),
    /// A field the wallet cannot take (an amount that is not whole minor units, a card).
    Invalid { field: &'static str, why: String },
    /// The id was used for another amount or card.
    Conflict { field: &'static str, why: String },
    /// No payment processor is configured.
    Unconfigured,
}

/// What a change of the auto-charge settings came to.
#[derive(Debug)]
pub enum AutoChargeChange {
    Done(Box<views::BalanceView>),
    /// A field the wallet cannot take, and why.
    Invalid {
        field: &'static str,
        why: String,
    },
    /// Turning it on needs a payment processor, and none is configured.
    Unconfigured,
}

pub struct TopUps {
    wallets: Arc<Wallets>,
    /// The card processor, if one is configured.
    payments: Option<Arc<dyn PaymentProcessor>>,
    wake: Notify,
}

impl TopUps {
    pub fn new(wallets: Arc<Wallets>, payments: Option<Arc<dyn PaymentProcessor>>) -> Arc<Self> {
        Arc::new(TopUps {
            wallets,
            payments,
            wake: Notify::new(),
        })
    }

    /// Whether top-ups can be charged at all.
    pub fn configured(&self) -> bool {
        self.payments.is_some()
    }

    /// Have the loop look at due top-ups now (an auto-charge set up, a balance changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Charge one claimed top-up and record the result.
    async fn charge_topup(&self, topup: topups::TopUp) -> Result<(), BillingError> {
        let outcome = match (&self.payments, topups::request_for(&topup)) {
            (_, Err(e)) => Err(e),
            (None, _) => Err(PaymentError::Rejected(
                "no payment processor is configured".into(),
            )),
            (Some(p), Ok(req)) => p.charge(req).await,
        };
        if let Err(e) = &outcome {
            tracing::warn!(topup = %topup.id, error = %e, "top-up charge did not go through");
        }
        self.wallets.record_topup(topup, outcome).await
    }

    /// Charge a manual top-up now, while its request waits. A passing processor failure
    /// leaves it pending for the background loop.
    pub async fn top_up_now(&self, id: &str) -> Result<(), BillingError> {
        if let Some(topup) = self.wallets.claim_topup(id.into()).await? {
            self.charge_topup(topup).await?;
        }
        Ok(())
    }

    /// A manual top-up, charged while the caller waits: what the API's `POST
    /// /v1/billing/topups` and the console's top-up form both do. `id` makes a retried
    /// request the same top-up.
    pub async fn manual(
        &self,
        ws: String,
        id: String,
        amount: crate::model::Micros,
        card: Option<String>,
    ) -> Result<ManualTopUp, BillingError> {
        let currency = self.wallets.wallet_currency(ws.clone()).await?;
        if let Err(e) = payments::to_minor(amount, &currency) {
            return Ok(ManualTopUp::Invalid {
                field: "amount_micros",
                why: e.to_string(),
            });
        }
        if !self.configured() {
            return Ok(ManualTopUp::Unconfigured);
        }
        match self
            .wallets
            .create_topup(ws.clone(), id.clone(), amount, card)
            .await?
        {
            Ok(()) => {}
            Err(("card", why)) => {
                return Ok(ManualTopUp::Invalid {
                    field: "card",
                    why: why.to_string(),
                });
            }
            Err((field, why)) => {
                return Ok(ManualTopUp::Conflict {
                    field,
                    why: why.to_string(),
                });
            }
        }
        self.top_up_now(&id).await?;
        Ok(match self.wallets.topup(ws, id).await? {
            Some(view) => ManualTopUp::Done(Box::new(view)),
            None => ManualTopUp::Conflict {
                field: "id",
                why: "the top-up vanished".into(),
            },
        })
    }

    /// Set auto-charge: what the API's `PUT /v1/billing/auto-charge` and the console's form
    /// both do. Already below the threshold, the first top-up is queued at once.
    pub async fn configure_auto_charge(
        &self,
        ws: String,
        s: views::AutoChargeSettings,
    ) -> Result<AutoChargeChange, BillingError> {
        let invalid = |field, why: &str| {
            Ok(AutoChargeChange::Invalid {
                field,
                why: why.to_string(),
            })
        };
        let currency = self.wallets.wallet_currency(ws.clone()).await?;
        if s.threshold_micros < 0 {
            return invalid("threshold_micros", "must not be negative");
        }
        if let Err(e) = payments::to_minor(s.amount_micros, &currency) {
            return invalid("amount_micros", &e.to_string());
        }
        if s.monthly_cap_micros < s.amount_micros {
            return invalid(
                "monthly_cap_micros",
                "must be at least one top-up (`amount_micros`)",
            );
        }
        let blank = s
            .card
            .chars()
            .all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if blank || s.card.chars().count() > 128 {
            return invalid("card", "a card token of 1-128 characters");
        }
        if s.enabled && !self.configured() {
            return Ok(AutoChargeChange::Unconfigured);
        }
        let view = self.wallets.set_auto_charge(ws, s).await?;
        self.wake();
        Ok(AutoChargeChange::Done(Box::new(view)))
    }

    /// Charges pending top-ups (auto-charge queues them in the hold's commit) and rolls
    /// wallets over at month boundaries.
    pub async fn run(self: Arc<Self>) {
        let mut month = String::new();
        loop {
            let now_month = wallet::month_of(crate::model::now_ms());
            if now_month != month {
                match self.wallets.roll_months().await {
                    Ok(_) => month = now_month,
                    Err(e) => tracing::error!(error = %e, "monthly credit roll-over failed"),
                }
            }
            match self.wallets.claim_due_topups(16).await {
                Ok(due) => {
                    for topup in due {
                        if let Err(e) = self.charge_topup(topup).await {
                            tracing::error!(error = %e, "recording a top-up failed");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "claiming top-ups failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(LOOP) => {}
            }
        }
    }
}
