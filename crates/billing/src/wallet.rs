//! A workspace's wallet: what a send costs and how it is paid, as ledger transactions.
//!
//! - **Hold** when a chargeable delivery is dispatched for the first time: the quoted cost is
//!   moved from `credit` (first) and `paid` into the held accounts, or the delivery fails
//!   `insufficient_funds` before any provider call. Retries find the hold already there.
//! - **Capture** when the provider accepts it: held money goes to revenue.
//! - **Release** when it fails for good: held money goes back (credit held from a month that
//!   has ended expires instead, as that month's credit did).
//! - **Monthly credit**: on a paid plan, $10 (in the wallet currency's micro-units) at the
//!   start of each UTC month, spent before the paid balance; what is left expires at month end.
//! - **Auto-charge**: when a hold or capture leaves `paid` below the threshold, a top-up is
//!   queued in the same transaction, at most one at a time and within the monthly cap. The
//!   payments loop ([`super::topups`]) charges the card.
//!
//! Every function here runs inside the store's writer transaction, so concurrent sends are
//! serialised on the wallet: the last cents go to exactly one of them.

use switchboard_store::sql::{Connection, OptionalExtension, params};

use super::ledger::{self, Bucket, Micros, Posted, Txn, account};
use super::prices;
use crate::model::Millis;

/// The monthly credit of a paid plan: $10.
pub const MONTHLY_CREDIT: Micros = 10_000_000;

// Shared with top-ups, which the wallet calls: kept apart so neither imports the other back.
pub use super::month::{WalletError, month_of};

/// The wallet row, created on first use (USD, free plan).
#[derive(Debug, Clone)]
pub struct Wallet {
    pub currency: String,
    pub plan: String,
    pub credit_month: Option<String>,
    /// Paid balance below which `wallet.low_balance` is sent (0: off).
    pub low_balance_alert: Micros,
    /// Auto-charge is on: a send that spends paid money checks whether to queue a top-up.
    pub auto_enabled: bool,
}

pub fn wallet(c: &Connection, workspace: &str) -> Result<Wallet, WalletError> {
    let read = |c: &Connection| {
        c.prepare_cached(
            "SELECT currency, plan, credit_month, low_balance_alert, auto_enabled FROM wallets WHERE workspace_id = ?1",
        )?
        .query_row([workspace], |r| {
            Ok(Wallet {
                currency: r.get(0)?,
                plan: r.get(1)?,
                credit_month: r.get(2)?,
                low_balance_alert: r.get(3)?,
                auto_enabled: r.get(4)?,
            })
        })
        .optional()
    };
    // Read first: the wallet exists for every send after a workspace's first.
    if let Some(w) = read(c)? {
        return Ok(w);
    }
    c.prepare_cached(
        "INSERT INTO wallets (workspace_id, currency, plan) VALUES (?1, 'usd', 'free') ON CONFLICT DO NOTHING",
    )?
    .execute([workspace])?;
    Ok(read(c)?.ok_or_else(|| switchboard_store::sql::Error::QueryReturnedNoRows)?)
}

/// Bring the wallet into the current month: expire last month's unspent credit, grant this
/// month's (paid plan). Idempotent: the transaction ids name the workspace and the month.
pub fn ensure_month(c: &Connection, workspace: &str, now: Millis) -> Result<Wallet, WalletError> {
    let mut w = wallet(c, workspace)?;
    let month = month_of(now);
    if w.credit_month.as_deref() == Some(month.as_str()) {
        return Ok(w);
    }
    let credit = account(workspace, Bucket::Credit);
    let left = ledger::balance(c, &credit)?;
    if left > 0 {
        let from = w.credit_month.clone().unwrap_or_else(|| "earlier".into());
        ledger::post(
            c,
            &Txn {
                id: format!("expire:{workspace}:{from}"),
                workspace_id: workspace.into(),
                kind: "expire",
                delivery_id: None,
                memo: format!("unspent credit of {from} expired"),
                at: now,
                entries: vec![
                    (credit.clone(), -left),
                    (ledger::CREDIT_EXPIRED.into(), left),
                ],
            },
        )?;
    }
    if w.plan == "paid" {
        grant(c, workspace, &month, now)?;
    }
    // A new month also lifts the auto-charge cap of the last one.
    c.prepare_cached(
        "UPDATE wallets SET credit_month = ?2,
            auto_status_detail = CASE WHEN auto_status = 'capped' THEN NULL ELSE auto_status_detail END,
            auto_status = CASE WHEN auto_status = 'capped' THEN 'active' ELSE auto_status END
         WHERE workspace_id = ?1",
    )?
    .execute(params![workspace, month])?;
    w.credit_month = Some(month);
    Ok(w)
}

/// The paid plan's credit for `month`; posted once, whoever asks first.
fn grant(c: &Connection, workspace: &str, month: &str, now: Millis) -> Result<Posted, WalletError> {
    Ok(ledger::post(
        c,
        &Txn {
            id: format!("grant:{workspace}:{month}"),
            workspace_id: workspace.into(),
            kind: "grant",
            delivery_id: None,
            memo: format!("monthly credit for {month}"),
            at: now,
            entries: vec![
                (ledger::CREDIT_ISSUED.into(), -MONTHLY_CREDIT),
                (account(workspace, Bucket::Credit), MONTHLY_CREDIT),
            ],
        },
    )?)
}

/// What a delivery costs, as its quote and the price table say.
#[derive(Debug, Clone)]
pub struct Charge {
    pub workspace_id: String,
    pub message_id: String,
    pub delivery_id: String,
    pub channel: String,
    pub product: String,
    pub country: String,
    pub units: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Nothing to charge: no price applies.
    Free,
    /// Money is held (now, or by an earlier attempt of the same delivery).
    Held { cost: Micros },
    /// Not enough money: fail the delivery without calling the provider.
    Insufficient { cost: Micros, available: Micros },
}

/// The cost of a send now: `(price id, unit price, cost)`, or `None` when free.
pub fn price(
    c: &Connection,
    ch: &Charge,
    currency: &str,
    now: Millis,
) -> Result<Option<(i64, Micros, Micros)>, WalletError> {
    let Some((id, unit)) = prices::lookup(
        c,
        &ch.workspace_id,
        &ch.channel,
        &ch.product,
        &ch.country,
        currency,
        now,
    )?
    else {
        return Ok(None);
    };
    let cost = unit.saturating_mul(ch.units.max(1) as i64);
    Ok((cost > 0).then_some((id, unit, cost)))
}

/// Hold the cost of a delivery's send. Called at its first dispatch; retries find the hold.
pub fn hold(c: &Connection, ch: &Charge, now: Millis) -> Result<HoldOutcome, WalletError> {
    let held: Option<(Micros, Micros)> = c
        .prepare_cached("SELECT credit_amount, paid_amount FROM holds WHERE delivery_id = ?1")?
        .query_row([&ch.delivery_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((credit, paid)) = held {
        return Ok(HoldOutcome::Held {
            cost: credit + paid,
        });
    }
    let w = ensure_month(c, &ch.workspace_id, now)?;
    let Some((price_id, unit, cost)) = price(c, ch, &w.currency, now)? else {
        return Ok(HoldOutcome::Free);
    };
    let ws = &ch.workspace_id;
    let (credit, paid) =
        ledger::balances(c, &account(ws, Bucket::Credit), &account(ws, Bucket::Paid))?;
    if credit.saturating_add(paid) < cost {
        return Ok(HoldOutcome::Insufficient {
            cost,
            available: credit.saturating_add(paid),
        });
    }
    let from_credit = credit.min(cost);
    let from_paid = cost - from_credit;
    ledger::post(
        c,
        &Txn {
            id: format!("hold:{}", ch.delivery_id),
            workspace_id: ws.clone(),
            kind: "hold",
            delivery_id: Some(ch.delivery_id.clone()),
            memo: format!(
                "{} {} x{} to {}",
                ch.channel,
                ch.product,
                ch.units.max(1),
                ch.country
            ),
            at: now,
            entries: vec![
                (account(ws, Bucket::Credit), -from_credit),
                (account(ws, Bucket::Paid), -from_paid),
                (account(ws, Bucket::HeldCredit), from_credit),
                (account(ws, Bucket::HeldPaid), from_paid),
            ],
        },
    )?;
    c.prepare_cached(
        "INSERT INTO holds (delivery_id, workspace_id, message_id, channel, product, country, units, unit_price, price_id,
            credit_amount, paid_amount, month, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'held', ?13)",
    )?
    .execute(params![
        ch.delivery_id,
        ws,
        ch.message_id,
        ch.channel,
        ch.product,
        ch.country,
        ch.units.max(1),
        unit,
        price_id,
        from_credit,
        from_paid,
        month_of(now),
        now
    ])?;
    c.prepare_cached("UPDATE deliveries SET cost = ?2 WHERE id = ?1")?
        .execute(params![ch.delivery_id, cost])?;
    if from_paid > 0 {
        low_balance_alert(c, ws, &w, paid, paid - from_paid, now)?;
    }
    // Read with the wallet in this transaction: with auto-charge off, no top-up can be due.
    if w.auto_enabled {
        super::topups::maybe_auto_charge(c, ws, now)?;
    }
    Ok(HoldOutcome::Held { cost })
}

/// Tell the business once when the paid balance crosses below its alert threshold (not on
/// every send below it).
fn low_balance_alert(
    c: &Connection,
    ws: &str,
    w: &Wallet,
    before: Micros,
    after: Micros,
    now: Millis,
) -> Result<(), WalletError> {
    let threshold = w.low_balance_alert;
    if threshold > 0 && before >= threshold && after < threshold {
        crate::events::record(
            c,
            ws,
            "wallet.low_balance",
            now,
            serde_json::json!({ "paid_micros": after, "threshold_micros": threshold, "currency": w.currency }),
        )?;
    }
    Ok(())
}

/// The provider accepted the send: the held money is spent.
pub fn capture(c: &Connection, delivery_id: &str, now: Millis) -> Result<(), WalletError> {
    settle(c, delivery_id, now, true)
}

/// The send failed for good: the held money goes back.
pub fn release(c: &Connection, delivery_id: &str, now: Millis) -> Result<(), WalletError> {
    settle(c, delivery_id, now, false)
}

fn settle(
    c: &Connection,
    delivery_id: &str,
    now: Millis,
    captured: bool,
) -> Result<(), WalletError> {
    // The hold is marked settled in the statement that finds it. Should the posting below
    // fail, the caller's unit of work rolls back with it.
    let row: Option<(String, Micros, Micros, String)> = c
        .prepare_cached(
            "UPDATE holds SET state = ?2, settled_at = ?3 WHERE delivery_id = ?1 AND state = 'held'
             RETURNING workspace_id, credit_amount, paid_amount, month",
        )?
        .query_row(
            params![
                delivery_id,
                if captured { "captured" } else { "released" },
                now
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((ws, credit, paid, month)) = row else {
        return Ok(());
    };
    let (kind, credit_to, paid_to) = if captured {
        (
            "capture",
            ledger::REVENUE.to_string(),
            ledger::REVENUE.to_string(),
        )
    } else if month_of(now) != month {
        // That month's credit has expired; what was held of it expires too.
        (
            "release",
            ledger::CREDIT_EXPIRED.to_string(),
            account(&ws, Bucket::Paid),
        )
    } else {
        (
            "release",
            account(&ws, Bucket::Credit),
            account(&ws, Bucket::Paid),
        )
    };
    let posted = ledger::post(
        c,
        &Txn {
            id: format!("{kind}:{delivery_id}"),
            workspace_id: ws.clone(),
            kind,
            delivery_id: Some(delivery_id.into()),
            memo: if captured {
                "accepted by the provider".into()
            } else {
                "not sent".into()
            },
            at: now,
            entries: vec![
                (account(&ws, Bucket::HeldCredit), -credit),
                (account(&ws, Bucket::HeldPaid), -paid),
                (credit_to, credit),
                (paid_to, paid),
            ],
        },
    )?;
    if posted == Posted::New && !captured {
        c.prepare_cached("UPDATE deliveries SET cost = NULL WHERE id = ?1")?
            .execute([delivery_id])?;
    }
    Ok(())
}

/// The provider accepted the send and then reported it failed: the captured money goes
/// back, as a release would have (expired-month credit expires). Idempotent by delivery.
pub fn refund(c: &Connection, delivery_id: &str, now: Millis) -> Result<(), WalletError> {
    let row: Option<(String, Micros, Micros, String)> = c
        .prepare_cached("SELECT workspace_id, credit_amount, paid_amount, month FROM holds WHERE delivery_id = ?1 AND state = 'captured'")?
        .query_row([delivery_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((ws, credit, paid, month)) = row else {
        return Ok(());
    };
    let credit_to = if month_of(now) != month {
        ledger::CREDIT_EXPIRED.to_string()
    } else {
        account(&ws, Bucket::Credit)
    };
    let posted = ledger::post(
        c,
        &Txn {
            id: format!("refund:{delivery_id}"),
            workspace_id: ws.clone(),
            kind: "refund",
            delivery_id: Some(delivery_id.into()),
            memo: "accepted, then reported failed by the provider".into(),
            at: now,
            entries: vec![
                (ledger::REVENUE.into(), -(credit + paid)),
                (credit_to, credit),
                (account(&ws, Bucket::Paid), paid),
            ],
        },
    )?;
    if posted == Posted::New {
        c.prepare_cached(
            "UPDATE holds SET state = 'refunded', settled_at = ?2 WHERE delivery_id = ?1",
        )?
        .execute(params![delivery_id, now])?;
        c.prepare_cached("UPDATE deliveries SET cost = NULL WHERE id = ?1")?
            .execute([delivery_id])?;
    }
    Ok(())
}

/// Money in or out by hand (sandbox set-up, operator corrections): `world:adjustments` pays.
pub fn adjust(
    c: &Connection,
    workspace: &str,
    id: &str,
    amount: Micros,
    memo: &str,
    now: Millis,
) -> Result<Posted, WalletError> {
    wallet(c, workspace)?;
    Ok(ledger::post(
        c,
        &Txn {
            id: id.into(),
            workspace_id: workspace.into(),
            kind: "adjust",
            delivery_id: None,
            memo: memo.into(),
            at: now,
            entries: vec![
                (ledger::ADJUSTMENTS.into(), -amount),
                (account(workspace, Bucket::Paid), amount),
            ],
        },
    )?)
}

/// Change the plan. Moving to `paid` grants this month's credit at once.
pub fn set_plan(
    c: &Connection,
    workspace: &str,
    plan: &str,
    now: Millis,
) -> Result<(), WalletError> {
    ensure_month(c, workspace, now)?;
    c.prepare_cached("UPDATE wallets SET plan = ?2 WHERE workspace_id = ?1")?
        .execute(params![workspace, plan])?;
    if plan == "paid" {
        // Moving to paid mid-month grants this month's credit now (once per month).
        grant(c, workspace, &month_of(now), now)?;
    }
    Ok(())
}
