//! Billing as a service: the async face of the ledger, holds, prices and top-ups that the
//! API, the top-up loop and sandbox set-up call. It exists so that the store stays a layer
//! of tables: billing's rules and billing's SQL (wallets, holds, ledger, prices, top-ups)
//! live here and run inside the store's unit of work ([`Store::write`], [`Store::read`]).
//!
//! Anything that may move money runs on the writer, where the wallet's rules run serialised.
//! The reads billing staff need (statement, usage, per-message cost) are in
//! [`super::reports`].

use std::sync::Arc;

use switchboard_store::sql::{Connection, OptionalExtension, params};

use super::ledger::{self, Bucket, LedgerError, Micros, account};
use super::payments::{ChargeOutcome, PaymentError};
use super::prices::{self, PriceSpec};
use super::topups::{self, TopUp};
use super::views::*;
use super::wallet::{self, WalletError, month_of};
use crate::model::{Millis, now_ms, rfc3339};
use crate::store::{Store, StoreError};

/// Why a billing operation failed. Every variant is a server fault to a client (the API
/// answers 500): a refusal a client can act on is part of the `Ok` answer instead.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Wallet(#[from] WalletError),
}

impl From<LedgerError> for BillingError {
    fn from(e: LedgerError) -> Self {
        BillingError::Wallet(e.into())
    }
}

// Billing's own statements fail with the SQLite error; it is the store's failure to report.
impl From<switchboard_store::sql::Error> for BillingError {
    fn from(e: switchboard_store::sql::Error) -> Self {
        BillingError::Store(e.into())
    }
}

/// Workspaces' wallets: balances, plans, auto-charge, top-ups, adjustments and prices.
pub struct Wallets {
    pub(super) store: Arc<Store>,
}

/// The first millisecond of the month after `at` (UTC).
fn next_month_start(at: Millis) -> Option<Millis> {
    let m = month_of(at);
    let (y, mo): (i64, i64) = (m[..4].parse().ok()?, m[5..7].parse().ok()?);
    let (y, mo) = if mo == 12 { (y + 1, 1) } else { (y, mo + 1) };
    humantime::parse_rfc3339(&format!("{y:04}-{mo:02}-01T00:00:00Z"))
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as Millis)
}

fn balance_view(c: &Connection, ws: &str) -> Result<BalanceView, BillingError> {
    let w = wallet::wallet(c, ws)?;
    let b = |bucket| ledger::balance(c, &account(ws, bucket));
    let (paid, credit) = (b(Bucket::Paid)?, b(Bucket::Credit)?);
    let held = b(Bucket::HeldPaid)? + b(Bucket::HeldCredit)?;
    type Auto = (
        bool,
        String,
        Option<String>,
        Micros,
        Micros,
        Micros,
        Option<String>,
        Option<String>,
    );
    let (enabled, status, detail, threshold, amount, cap, card, in_flight): Auto = c
        .prepare_cached(
            "SELECT auto_enabled, auto_status, auto_status_detail, auto_threshold, auto_amount, auto_monthly_cap, auto_card,
                    (SELECT id FROM topups WHERE workspace_id = ?1 AND kind = 'auto' AND state = 'pending' LIMIT 1)
             FROM wallets WHERE workspace_id = ?1",
        )?
        .query_row([ws], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))?;
    let this_month = topups::auto_total(c, ws, &month_of(now_ms()))?;
    let expires = w
        .credit_month
        .as_ref()
        .and_then(|_| next_month_start(now_ms()))
        .map(rfc3339);
    Ok(BalanceView {
        currency: w.currency,
        plan: w.plan,
        paid_micros: paid,
        credit_micros: credit,
        held_micros: held,
        available_micros: paid + credit,
        credit_month: w.credit_month,
        credit_expires_at: expires,
        auto_charge: AutoChargeView {
            enabled,
            status,
            detail,
            threshold_micros: threshold,
            amount_micros: amount,
            monthly_cap_micros: cap,
            card,
            this_month_micros: this_month,
            in_flight,
        },
        low_balance_alert_micros: w.low_balance_alert,
    })
}

impl Wallets {
    pub fn new(store: Arc<Store>) -> Wallets {
        Wallets { store }
    }

    /// The balance, after bringing the wallet into the current month (so a month that began
    /// with no traffic still shows its credit granted and last month's expired).
    pub async fn balance(&self, ws: String) -> Result<BalanceView, BillingError> {
        self.store
            .write(move |t| {
                wallet::ensure_month(t, &ws, now_ms())?;
                balance_view(t, &ws)
            })
            .await
    }

    /// Month boundaries for every wallet: grants and expiries without waiting for traffic.
    pub async fn roll_months(&self) -> Result<usize, BillingError> {
        self.store.write(|t| {
            let now = now_ms();
            let month = month_of(now);
            let due: Vec<String> = t
                .prepare_cached("SELECT workspace_id FROM wallets WHERE credit_month IS NULL OR credit_month != ?1")?
                .query_map([&month], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for ws in &due {
                wallet::ensure_month(t, ws, now)?;
            }
            Ok(due.len())
        })
        .await
    }

    pub async fn set_plan(&self, ws: String, plan: String) -> Result<BalanceView, BillingError> {
        self.store
            .write(move |t| {
                wallet::set_plan(t, &ws, &plan, now_ms())?;
                balance_view(t, &ws)
            })
            .await
    }

    pub async fn set_low_balance_alert(
        &self,
        ws: String,
        threshold: Micros,
    ) -> Result<BalanceView, BillingError> {
        self.store
            .write(move |t| {
                wallet::wallet(t, &ws)?;
                t.prepare_cached(
                    "UPDATE wallets SET low_balance_alert = ?2 WHERE workspace_id = ?1",
                )?
                .execute(params![ws, threshold])?;
                balance_view(t, &ws)
            })
            .await
    }

    pub async fn set_auto_charge(
        &self,
        ws: String,
        s: AutoChargeSettings,
    ) -> Result<BalanceView, BillingError> {
        self.store.write(move |t| {
            let now = now_ms();
            wallet::ensure_month(t, &ws, now)?;
            t.prepare_cached(
                "UPDATE wallets SET auto_enabled = ?2, auto_threshold = ?3, auto_amount = ?4, auto_monthly_cap = ?5, auto_card = ?6,
                    auto_status = CASE WHEN CAST(?2 AS BIGINT) <> 0 THEN 'active' ELSE 'off' END, auto_status_detail = NULL
                 WHERE workspace_id = ?1",
            )?
            .execute(params![ws, s.enabled, s.threshold_micros, s.amount_micros, s.monthly_cap_micros, s.card])?;
            // Already below the threshold: the first top-up goes now.
            topups::maybe_auto_charge(t, &ws, now)?;
            balance_view(t, &ws)
        })
        .await
    }

    /// Create a manual top-up, idempotent by id. Refused (with the field at fault) when no
    /// card is given or on file, or when the id was used for a different top-up.
    pub async fn create_topup(
        &self,
        ws: String,
        id: String,
        amount: Micros,
        card: Option<String>,
    ) -> Result<Result<(), (&'static str, &'static str)>, BillingError> {
        self.store
            .write(move |t| {
                let w = wallet::wallet(t, &ws)?;
                let on_file: Option<String> = t
                    .prepare_cached("SELECT auto_card FROM wallets WHERE workspace_id = ?1")?
                    .query_row([&ws], |r| r.get(0))?;
                let Some(card) = card.or(on_file) else {
                    return Ok(Err((
                        "card",
                        "no card given and no auto-charge card on file",
                    )));
                };
                if !topups::insert(t, &id, &ws, "manual", amount, &w.currency, &card, now_ms())? {
                    let same: bool = t
                        .prepare_cached(
                            "SELECT amount = ?2 AND card = ?3 FROM topups WHERE id = ?1",
                        )?
                        .query_row(params![id, amount, card], |r| r.get(0))?;
                    if !same {
                        return Ok(Err((
                            "amount_micros",
                            "this Idempotency-Key was used for a different top-up",
                        )));
                    }
                }
                Ok(Ok(()))
            })
            .await
    }

    pub async fn claim_topup(&self, id: String) -> Result<Option<TopUp>, BillingError> {
        self.store
            .write(move |t| Ok(topups::claim_one(t, &id, now_ms())?))
            .await
    }

    pub async fn claim_due_topups(&self, limit: u32) -> Result<Vec<TopUp>, BillingError> {
        self.store
            .write(move |t| Ok(topups::claim_due(t, now_ms(), limit)?))
            .await
    }

    pub async fn record_topup(
        &self,
        topup: TopUp,
        outcome: Result<ChargeOutcome, PaymentError>,
    ) -> Result<(), BillingError> {
        self.store
            .write(move |t| Ok(topups::record(t, &topup, &outcome, now_ms())?))
            .await
    }

    /// Money in or out by hand (an adjustment transaction, idempotent by `id`).
    pub async fn adjust_wallet(
        &self,
        ws: String,
        id: String,
        amount: Micros,
        memo: String,
    ) -> Result<BalanceView, BillingError> {
        self.store
            .write(move |t| {
                wallet::adjust(t, &ws, &id, amount, &memo, now_ms())?;
                balance_view(t, &ws)
            })
            .await
    }

    /// The paid balance (and, if given, the credit) become these through adjustments
    /// (sandbox set-up: trying low-balance behaviour).
    pub async fn set_sandbox_balances(
        &self,
        ws: String,
        paid: Micros,
        credit: Option<Micros>,
    ) -> Result<BalanceView, BillingError> {
        self.store
            .write(move |t| {
                let now = now_ms();
                wallet::ensure_month(t, &ws, now)?;
                let delta = paid - ledger::balance(t, &account(&ws, Bucket::Paid))?;
                if delta != 0 {
                    let id = format!("adjust:{ws}:{}", uuid::Uuid::new_v4().simple());
                    wallet::adjust(t, &ws, &id, delta, "sandbox: set the paid balance", now)?;
                }
                if let Some(credit) = credit {
                    let delta = credit - ledger::balance(t, &account(&ws, Bucket::Credit))?;
                    if delta != 0 {
                        ledger::post(
                            t,
                            &ledger::Txn {
                                id: format!("adjust:{ws}:{}", uuid::Uuid::new_v4().simple()),
                                workspace_id: ws.clone(),
                                kind: "adjust",
                                delivery_id: None,
                                memo: "sandbox: set the credit".into(),
                                at: now,
                                entries: vec![
                                    (ledger::CREDIT_ISSUED.into(), -delta),
                                    (account(&ws, Bucket::Credit), delta),
                                ],
                            },
                        )?;
                    }
                }
                topups::maybe_auto_charge(t, &ws, now)?;
                balance_view(t, &ws)
            })
            .await
    }

    pub async fn add_price(&self, ws: String, spec: PriceSpec) -> Result<i64, BillingError> {
        self.store
            .write(move |t| Ok(prices::insert(t, &ws, &spec, "workspace", now_ms())?))
            .await
    }

    /// Delete a workspace price that has not taken effect yet (one that has is history:
    /// sends were charged by it). Returns false when there is no such price.
    pub async fn delete_price(
        &self,
        ws: String,
        id: i64,
    ) -> Result<Result<(), &'static str>, BillingError> {
        self.store
            .write(move |t| {
                let at: Option<Millis> = t
                    .prepare_cached(
                        "SELECT effective_from FROM prices WHERE id = ?1 AND workspace_id = ?2",
                    )?
                    .query_row(params![id, ws], |r| r.get(0))
                    .optional()?;
                match at {
                    None => Ok(Err("not_found")),
                    Some(at) if at <= now_ms() => Ok(Err("in_effect")),
                    Some(_) => {
                        t.prepare_cached("DELETE FROM prices WHERE id = ?1")?
                            .execute([id])?;
                        Ok(Ok(()))
                    }
                }
            })
            .await
    }

    pub async fn set_gateway_prices(
        &self,
        specs: Vec<PriceSpec>,
        source: &'static str,
    ) -> Result<(), BillingError> {
        self.store
            .write(move |t| Ok(prices::replace_gateway_prices(t, &specs, source, now_ms())?))
            .await
    }
}
