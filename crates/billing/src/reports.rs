//! The reads billing staff need: the wallet currency, top-ups, the ledger statement, usage
//! reports, what a message cost, price quotes and lists, and the ledger audit. Split from
//! [`super::service`] because none of them moves money: they run on the read pool.

use switchboard_store::sql::{Connection, OptionalExtension, params};

use super::ledger::{self, Bucket, account};
use super::prices::{self, PriceView};
use super::service::{BillingError, Wallets};
use super::views::*;
use crate::model::{DeliveryCost, Micros, Millis, now_ms, rfc3339};
use crate::store::{StoreError, split_page};

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
pub(super) fn currency(c: &Connection, ws: &str) -> Result<String, StoreError> {
    Ok(
        c.prepare_cached("SELECT currency FROM wallets WHERE workspace_id = ?1")?
            .query_row([ws], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| "usd".into()),
    )
}

fn topup_view(c: &Connection, ws: &str, id: &str) -> Result<Option<TopUpView>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT id, kind, amount, currency, card, state, charge_id, decline_code, detail, attempts, created_at, settled_at
         FROM topups WHERE workspace_id = ?1 AND id = ?2",
    )?
    .query_row(params![ws, id], read_topup)
    .optional()?)
}

fn read_topup(r: &switchboard_store::sql::Row) -> switchboard_store::sql::Result<TopUpView> {
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

/// This month's credit, from the ledger: what the month's grant put in, what is held for
/// sends under way, what is left (it expires at the month's end), and what was spent: the
/// rest, since credit only leaves its bucket to be held and comes back when a hold is
/// released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditMonth {
    pub month: Option<String>,
    pub granted_micros: Micros,
    pub held_micros: Micros,
    pub remaining_micros: Micros,
    pub spent_micros: Micros,
}

impl Wallets {
    /// This month's credit (see [`CreditMonth`]); read-only, so a month nobody has sent in
    /// yet shows nothing granted until the wallet rolls over.
    pub async fn credit_month(&self, ws: String) -> Result<CreditMonth, BillingError> {
        self.store
            .read(move |c| {
                let month: Option<String> = c
                    .prepare_cached("SELECT credit_month FROM wallets WHERE workspace_id = ?1")?
                    .query_row([&ws], |r| r.get(0))
                    .optional()?
                    .flatten();
                let Some(month) = month else {
                    return Ok(CreditMonth::default());
                };
                let granted: Micros = c
                    .prepare_cached(
                        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_entries WHERE txn_id = ?1 AND account = ?2",
                    )?
                    .query_row(
                        params![format!("grant:{ws}:{month}"), account(&ws, Bucket::Credit)],
                        |r| r.get(0),
                    )?;
                let remaining = ledger::balance(c, &account(&ws, Bucket::Credit))?;
                let held = ledger::balance(c, &account(&ws, Bucket::HeldCredit))?;
                Ok(CreditMonth {
                    month: Some(month),
                    granted_micros: granted,
                    held_micros: held,
                    remaining_micros: remaining,
                    spent_micros: (granted - remaining - held).max(0),
                })
            })
            .await
    }

    /// The wallet's currency (read-only).
    pub async fn wallet_currency(&self, ws: String) -> Result<String, BillingError> {
        Ok(self.store.read(move |c| currency(c, &ws)).await?)
    }

    pub async fn topup(&self, ws: String, id: String) -> Result<Option<TopUpView>, BillingError> {
        Ok(self.store.read(move |c| topup_view(c, &ws, &id)).await?)
    }

    pub async fn topups(&self, ws: String, limit: u32) -> Result<Vec<TopUpView>, BillingError> {
        self.store.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, kind, amount, currency, card, state, charge_id, decline_code, detail, attempts, created_at, settled_at
                 FROM topups WHERE workspace_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
            )?
            .query_map(params![ws, limit], read_topup)?
            .collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn statement(
        &self,
        ws: String,
        after: Option<i64>,
        limit: u32,
    ) -> Result<StatementPage, BillingError> {
        self.store.read(move |c| {
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
            let (data, next_cursor) = split_page(data, limit, |e| e.seq.to_string());
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
    ) -> Result<UsageReport, BillingError> {
        self.store.read(move |c| {
            let currency = currency(c, &ws)?;
            let rows: Vec<UsageRow> = c
                .prepare_cached(
                    "SELECT settled_at / 86400000 AS day, channel, product, country,
                            COUNT(*), SUM(units), SUM(credit_amount + paid_amount)
                     FROM holds WHERE workspace_id = ?1 AND state = 'captured' AND settled_at >= ?2 AND settled_at < ?3
                     GROUP BY day, channel, product, country ORDER BY day, channel, product, country",
                )?
                .query_map(params![ws, from, to], |r| {
                    Ok(UsageRow {
                        // Days since 1970 in SQL, which both backends count alike; the
                        // date is written here.
                        day: rfc3339(r.get::<_, i64>(0)? * 86_400_000)[..10].to_string(),
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
    ) -> Result<Option<MessageCostView>, BillingError> {
        self.store.read(move |c| {
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
    ) -> Result<Option<CostQuote>, BillingError> {
        self.store
            .read(move |c| {
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

    pub async fn prices(&self, ws: String) -> Result<Vec<PriceView>, BillingError> {
        self.store.read(move |c| Ok(prices::list(c, &ws)?)).await
    }

    pub async fn ledger_audit(&self) -> Result<ledger::Audit, BillingError> {
        Ok(self
            .store
            .read(|c| ledger::audit(c).map_err(|e| StoreError::Corrupt(e.to_string())))
            .await?)
    }
}
