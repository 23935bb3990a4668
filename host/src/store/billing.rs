//! The wallet in the store: the async face of [`crate::billing`]'s ledger, holds, prices
//! and top-ups, and the reads billing staff need (balance, statement, usage, per-message cost).
//!
//! Anything that may move money runs on the writer, where the wallet's rules run serialised.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError};
use crate::billing::ledger::{self, Bucket, Micros, account};
use crate::billing::payments::{ChargeOutcome, PaymentError};
use crate::billing::prices::{self, PriceSpec, PriceView};
use crate::billing::topups::{self, TopUp};
use crate::billing::views::*;
use crate::billing::wallet::{self, month_of};
use crate::model::{DeliveryCost, Millis, now_ms, rfc3339};

/// The cost of one delivery for its view.
pub fn delivery_cost(
    c: &Connection,
    delivery_id: &str,
) -> Result<Option<DeliveryCost>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT h.credit_amount, h.paid_amount, h.unit_price, h.units, h.state, w.currency
         FROM holds h JOIN wallets w ON w.workspace_id = h.workspace_id WHERE h.delivery_id = ?1",
    )?
    .query_row([delivery_id], |r| {
        let (credit, paid): (i64, i64) = (r.get(0)?, r.get(1)?);
        Ok(DeliveryCost {
            micros: credit + paid,
            unit_price_micros: r.get(2)?,
            units: r.get(3)?,
            state: r.get(4)?,
            currency: r.get(5)?,
            from_credit_micros: credit,
            from_paid_micros: paid,
        })
    })
    .optional()?)
}

/// The wallet's currency, read-only (a workspace that never had a wallet reads as USD, the
/// currency its wallet will be created in).
fn currency(c: &Connection, ws: &str) -> Result<String, StoreError> {
    Ok(
        c.prepare_cached("SELECT currency FROM wallets WHERE workspace_id = ?1")?
            .query_row([ws], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| "usd".into()),
    )
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

fn balance_view(c: &Connection, ws: &str) -> Result<BalanceView, StoreError> {
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

fn topup_view(c: &Connection, ws: &str, id: &str) -> Result<Option<TopUpView>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT id, kind, amount, currency, card, state, charge_id, decline_code, detail, attempts, created_at, settled_at
         FROM topups WHERE workspace_id = ?1 AND id = ?2",
    )?
    .query_row(params![ws, id], read_topup)
    .optional()?)
}

fn read_topup(r: &rusqlite::Row) -> rusqlite::Result<TopUpView> {
    Ok(TopUpView {
        id: r.get(0)?,
        kind: r.get(1)?,
        amount_micros: r.get(2)?,
        currency: r.get(3)?,
        card: r.get(4)?,
        state: r.get(5)?,
        charge_id: r.get(6)?,
        decline_code: r.get(7)?,
        detail: r.get(8)?,
        attempts: r.get(9)?,
        created_at: rfc3339(r.get(10)?),
        settled_at: r.get::<_, Option<Millis>>(11)?.map(rfc3339),
    })
}

impl Store {
    /// The balance, after bringing the wallet into the current month (so a month that began
    /// with no traffic still shows its credit granted and last month's expired).
    pub async fn balance(&self, ws: String) -> Result<BalanceView, StoreError> {
        self.write(move |t| {
            wallet::ensure_month(t, &ws, now_ms())?;
            balance_view(t, &ws)
        })
        .await
    }

    /// Month boundaries for every wallet: grants and expiries without waiting for traffic.
    pub async fn roll_months(&self) -> Result<usize, StoreError> {
        self.write(|t| {
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

    pub async fn set_plan(&self, ws: String, plan: String) -> Result<BalanceView, StoreError> {
        self.write(move |t| {
            wallet::set_plan(t, &ws, &plan, now_ms())?;
            balance_view(t, &ws)
        })
        .await
    }

    pub async fn set_low_balance_alert(
        &self,
        ws: String,
        threshold: Micros,
    ) -> Result<BalanceView, StoreError> {
        self.write(move |t| {
            wallet::wallet(t, &ws)?;
            t.prepare_cached("UPDATE wallets SET low_balance_alert = ?2 WHERE workspace_id = ?1")?
                .execute(params![ws, threshold])?;
            balance_view(t, &ws)
        })
        .await
    }

    pub async fn set_auto_charge(
        &self,
        ws: String,
        s: AutoChargeSettings,
    ) -> Result<BalanceView, StoreError> {
        self.write(move |t| {
            let now = now_ms();
            wallet::ensure_month(t, &ws, now)?;
            t.prepare_cached(
                "UPDATE wallets SET auto_enabled = ?2, auto_threshold = ?3, auto_amount = ?4, auto_monthly_cap = ?5, auto_card = ?6,
                    auto_status = CASE WHEN ?2 THEN 'active' ELSE 'off' END, auto_status_detail = NULL
                 WHERE workspace_id = ?1",
            )?
            .execute(params![ws, s.enabled, s.threshold_micros, s.amount_micros, s.monthly_cap_micros, s.card])?;
            // Already below the threshold: the first top-up goes now.
            topups::maybe_auto_charge(t, &ws, now)?;
            balance_view(t, &ws)
        })
        .await
    }

    /// The wallet's currency (read-only).
    pub async fn wallet_currency(&self, ws: String) -> Result<String, StoreError> {
        self.read(move |c| currency(c, &ws)).await
    }

    /// Create a manual top-up, idempotent by id. Refused (with the field at fault) when no
    /// card is given or on file, or when the id was used for a different top-up.
    pub async fn create_topup(
        &self,
        ws: String,
        id: String,
        amount: Micros,
        card: Option<String>,
    ) -> Result<Result<(), (&'static str, &'static str)>, StoreError> {
        self.write(move |t| {
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
                    .prepare_cached("SELECT amount = ?2 AND card = ?3 FROM topups WHERE id = ?1")?
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

    pub async fn claim_topup(&self, id: String) -> Result<Option<TopUp>, StoreError> {
        self.write(move |t| Ok(topups::claim_one(t, &id, now_ms())?))
            .await
    }

    pub async fn claim_due_topups(&self, limit: u32) -> Result<Vec<TopUp>, StoreError> {
        self.write(move |t| Ok(topups::claim_due(t, now_ms(), limit)?))
            .await
    }

    pub async fn record_topup(
        &self,
        topup: TopUp,
        outcome: Result<ChargeOutcome, PaymentError>,
    ) -> Result<(), StoreError> {
        self.write(move |t| Ok(topups::record(t, &topup, &outcome, now_ms())?))
            .await
    }

    pub async fn topup(&self, ws: String, id: String) -> Result<Option<TopUpView>, StoreError> {
        self.read(move |c| topup_view(c, &ws, &id)).await
    }

    pub async fn topups(&self, ws: String, limit: u32) -> Result<Vec<TopUpView>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, kind, amount, currency, card, state, charge_id, decline_code, detail, attempts, created_at, settled_at
                 FROM topups WHERE workspace_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
            )?
            .query_map(params![ws, limit], read_topup)?
            .collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Money in or out by hand (an adjustment transaction, idempotent by `id`).
    pub async fn adjust_wallet(
        &self,
        ws: String,
        id: String,
        amount: Micros,
        memo: String,
    ) -> Result<BalanceView, StoreError> {
        self.write(move |t| {
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
    ) -> Result<BalanceView, StoreError> {
        self.write(move |t| {
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

    pub async fn statement(
        &self,
        ws: String,
        after: Option<i64>,
        limit: u32,
    ) -> Result<StatementPage, StoreError> {
        self.read(move |c| {
            let data: Vec<StatementEntry> = c
                .prepare_cached(
                    "SELECT e.seq, e.txn_id, t.kind, e.account, e.amount, e.balance_after, t.memo, t.delivery_id, e.at
                     FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.txn_id
                     WHERE e.workspace_id = ?1 AND e.seq > ?2 ORDER BY e.seq LIMIT ?3",
                )?
                .query_map(params![ws, after.unwrap_or(0), limit + 1], |r| {
                    let account: String = r.get(3)?;
                    Ok(StatementEntry {
                        seq: r.get(0)?,
                        transaction: r.get(1)?,
                        kind: r.get(2)?,
                        account: account.rsplit_once(':').map(|(_, b)| b.to_string()).unwrap_or(account),
                        amount_micros: r.get(4)?,
                        balance_after_micros: r.get(5)?,
                        memo: r.get(6)?,
                        delivery: r.get(7)?,
                        at: rfc3339(r.get(8)?),
                    })
                })?
                .collect::<Result<_, _>>()?;
            let (data, next_cursor) = super::split_page(data, limit, |e| e.seq.to_string());
            Ok(StatementPage { data, next_cursor })
        })
        .await
    }

    /// Charged sends between `from` and `to` (capture time), grouped.
    pub async fn usage(
        &self,
        ws: String,
        from: Millis,
        to: Millis,
    ) -> Result<UsageReport, StoreError> {
        self.read(move |c| {
            let currency = currency(c, &ws)?;
            let rows: Vec<UsageRow> = c
                .prepare_cached(
                    "SELECT date(settled_at / 1000, 'unixepoch') AS day, channel, product, country,
                            COUNT(*), SUM(units), SUM(credit_amount + paid_amount)
                     FROM holds WHERE workspace_id = ?1 AND state = 'captured' AND settled_at >= ?2 AND settled_at < ?3
                     GROUP BY day, channel, product, country ORDER BY day, channel, product, country",
                )?
                .query_map(params![ws, from, to], |r| {
                    Ok(UsageRow {
                        day: r.get(0)?,
                        channel: r.get(1)?,
                        product: r.get(2)?,
                        country: r.get(3)?,
                        count: r.get(4)?,
                        units: r.get(5)?,
                        cost_micros: r.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(UsageReport {
                currency,
                from: rfc3339(from),
                to: rfc3339(to),
                total_count: rows.iter().map(|r| r.count).sum(),
                total_cost_micros: rows.iter().map(|r| r.cost_micros).sum(),
                rows,
            })
        })
        .await
    }

    pub async fn message_cost(
        &self,
        ws: String,
        message_id: String,
    ) -> Result<Option<MessageCostView>, StoreError> {
        self.read(move |c| {
            let exists = c.prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND workspace_id = ?2")?.exists(params![message_id, ws])?;
            if !exists {
                return Ok(None);
            }
            let currency = currency(c, &ws)?;
            let deliveries: Vec<DeliveryCharge> = c
                .prepare_cached(
                    "SELECT delivery_id, channel, product, country, units, unit_price, credit_amount + paid_amount, state
                     FROM holds WHERE message_id = ?1 ORDER BY delivery_id",
                )?
                .query_map([&message_id], |r| {
                    Ok(DeliveryCharge {
                        delivery: r.get(0)?,
                        channel: r.get(1)?,
                        product: r.get(2)?,
                        country: r.get(3)?,
                        units: r.get(4)?,
                        unit_price_micros: r.get(5)?,
                        cost_micros: r.get(6)?,
                        state: r.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let sum = |state: &str| deliveries.iter().filter(|d| d.state == state).map(|d| d.cost_micros).sum();
            Ok(Some(MessageCostView {
                charged_micros: sum("captured"),
                held_micros: sum("held"),
                message: message_id,
                currency,
                deliveries,
            }))
        })
        .await
    }

    /// What a send would cost now, and whether the wallet covers it.
    pub async fn quote_cost(
        &self,
        ws: String,
        channel: String,
        product: String,
        country: String,
        units: u32,
    ) -> Result<Option<CostQuote>, StoreError> {
        self.read(move |c| {
            let currency = currency(c, &ws)?;
            let Some((_, unit)) =
                prices::lookup(c, &ws, &channel, &product, &country, &currency, now_ms())?
            else {
                return Ok(None);
            };
            let cost = unit.saturating_mul(units.max(1) as i64);
            let available = ledger::balance(c, &account(&ws, Bucket::Paid))?
                + ledger::balance(c, &account(&ws, Bucket::Credit))?;
            Ok(Some(CostQuote {
                currency,
                unit_price_micros: unit,
                cost_micros: cost,
                affordable: available >= cost,
            }))
        })
        .await
    }

    pub async fn prices(&self, ws: String) -> Result<Vec<PriceView>, StoreError> {
        self.read(move |c| Ok(prices::list(c, &ws)?)).await
    }

    pub async fn add_price(&self, ws: String, spec: PriceSpec) -> Result<i64, StoreError> {
        self.write(move |t| Ok(prices::insert(t, &ws, &spec, "workspace", now_ms())?))
            .await
    }

    /// Delete a workspace price that has not taken effect yet (one that has is history:
    /// sends were charged by it). Returns false when there is no such price.
    pub async fn delete_price(
        &self,
        ws: String,
        id: i64,
    ) -> Result<Result<(), &'static str>, StoreError> {
        self.write(move |t| {
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
    ) -> Result<(), StoreError> {
        self.write(move |t| Ok(prices::replace_gateway_prices(t, &specs, source, now_ms())?))
            .await
    }

    pub async fn ledger_audit(&self) -> Result<ledger::Audit, StoreError> {
        self.read(|c| ledger::audit(c).map_err(|e| StoreError::Corrupt(e.to_string())))
            .await
    }
}
