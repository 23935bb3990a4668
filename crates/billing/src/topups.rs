//! Top-ups: money into a wallet's paid balance through the payments boundary.
//!
//! A top-up is a row first (`pending`), committed before the card is charged; the charge
//! carries the top-up id as its idempotency key. So a crash between charging the card and
//! recording it retries the same charge, which the processor answers with the same result,
//! and the wallet is credited once (its ledger transaction is `topup:{id}`).
//!
//! Auto-charge queues a top-up inside the transaction whose hold took `paid` below the
//! threshold ([`maybe_auto_charge`]). A pending auto top-up blocks the next one, and
//! the month's auto top-ups (pending or approved) never exceed the cap. A decline pauses
//! auto-charge with the processor's reason until the business turns it on again.

use switchboard_store::sql::{Connection, OptionalExtension, params};

use super::ledger::{self, Bucket, Micros, Txn, account};
use super::month::{WalletError, month_of};
use super::payments::{ChargeOutcome, ChargeRequest, PaymentError};
use crate::model::Millis;

/// How long a charge attempt may take before the loop may try the same top-up again.
pub const ATTEMPT_LEASE_MS: Millis = 60_000;

#[derive(Debug, Clone)]
pub struct TopUp {
    pub id: String,
    pub workspace_id: String,
    pub kind: String,
    pub amount: Micros,
    pub currency: String,
    pub card: String,
    pub attempts: u32,
}

/// Auto top-ups of `month` that count against the cap: pending or approved.
pub fn auto_total(
    c: &Connection,
    workspace: &str,
    month: &str,
) -> Result<Micros, switchboard_store::sql::Error> {
    c.prepare_cached(
        "SELECT COALESCE(SUM(amount), 0) FROM topups
         WHERE workspace_id = ?1 AND kind = 'auto' AND month = ?2 AND state IN ('pending', 'approved')",
    )?
    .query_row(params![workspace, month], |r| r.get(0))
}

/// Queue an auto top-up if the wallet calls for one. Runs in the writer transaction.
pub fn maybe_auto_charge(
    c: &Connection,
    workspace: &str,
    now: Millis,
) -> Result<Option<String>, WalletError> {
    type Row = (
        bool,
        Micros,
        Micros,
        Micros,
        Option<String>,
        String,
        Option<String>,
        String,
    );
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT auto_enabled, auto_threshold, auto_amount, auto_monthly_cap, auto_card, auto_status,
                    (SELECT id FROM topups WHERE workspace_id = ?1 AND kind = 'auto' AND state = 'pending' LIMIT 1), currency
             FROM wallets WHERE workspace_id = ?1",
        )?
        .query_row([workspace], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))
        .optional()?;
    let Some((enabled, threshold, amount, cap, Some(card), status, in_flight, currency)) = row
    else {
        return Ok(None);
    };
    if !enabled || status != "active" || in_flight.is_some() {
        return Ok(None);
    }
    if ledger::balance(c, &account(workspace, Bucket::Paid))? >= threshold {
        return Ok(None);
    }
    let month = month_of(now);
    let this_month = auto_total(c, workspace, &month)?;
    if this_month.saturating_add(amount) > cap {
        c.prepare_cached("UPDATE wallets SET auto_status = 'capped', auto_status_detail = ?2 WHERE workspace_id = ?1")?
            .execute(params![
                workspace,
                format!("the monthly cap of {cap} micro-units for {month} is reached; auto-charge resumes next month")
            ])?;
        return Ok(None);
    }
    let id = format!("top_{}", uuid::Uuid::new_v4().simple());
    insert(c, &id, workspace, "auto", amount, &currency, &card, now)?;
    Ok(Some(id))
}

#[allow(clippy::too_many_arguments)]
pub fn insert(
    c: &Connection,
    id: &str,
    workspace: &str,
    kind: &str,
    amount: Micros,
    currency: &str,
    card: &str,
    now: Millis,
) -> Result<bool, WalletError> {
    Ok(c.prepare_cached(
        "INSERT INTO topups (id, workspace_id, kind, amount, currency, card, month, state, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8) ON CONFLICT DO NOTHING",
    )?
    .execute(params![id, workspace, kind, amount, currency, card, month_of(now), now])?
        == 1)
}

fn read(r: &switchboard_store::sql::Row) -> switchboard_store::sql::Result<TopUp> {
    Ok(TopUp {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        kind: r.get(2)?,
        amount: r.get(3)?,
        currency: r.get(4)?,
        card: r.get(5)?,
        attempts: r.get(6)?,
    })
}

/// Lease pending top-ups that are due, so that only this attempt charges them now.
pub fn claim_due(c: &Connection, now: Millis, limit: u32) -> Result<Vec<TopUp>, WalletError> {
    Ok(c.prepare_cached(
        "UPDATE topups SET attempts = attempts + 1, next_attempt_at = CAST(?1 AS BIGINT) + ?2
         WHERE id IN (SELECT id FROM topups WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?3 /* FOR UPDATE SKIP LOCKED */)
         RETURNING id, workspace_id, kind, amount, currency, card, attempts",
    )?
    .query_map(params![now, ATTEMPT_LEASE_MS, limit], read)?
    .collect::<Result<_, _>>()?)
}

/// Lease one pending top-up by id (a manual top-up charged while its request waits).
pub fn claim_one(c: &Connection, id: &str, now: Millis) -> Result<Option<TopUp>, WalletError> {
    Ok(c.prepare_cached(
        "UPDATE topups SET attempts = attempts + 1, next_attempt_at = CAST(?2 AS BIGINT) + ?3 WHERE id = ?1 AND state = 'pending'
         RETURNING id, workspace_id, kind, amount, currency, card, attempts",
    )?
    .query_row(params![id, now, ATTEMPT_LEASE_MS], read)
    .optional()?)
}

pub fn request_for(t: &TopUp) -> Result<ChargeRequest, PaymentError> {
    Ok(ChargeRequest {
        idempotency_key: t.id.clone(),
        amount_minor: super::payments::to_minor(t.amount, &t.currency)?,
        currency: t.currency.clone(),
        card: t.card.clone(),
        description: format!("Switchboard wallet top-up {} ({})", t.id, t.workspace_id),
    })
}

/// Record what the processor said. Approved credits the wallet once; declined pauses
/// auto-charge; a passing failure leaves the top-up pending with a backoff.
pub fn record(
    c: &Connection,
    t: &TopUp,
    outcome: &Result<ChargeOutcome, PaymentError>,
    now: Millis,
) -> Result<(), WalletError> {
    let state: Option<String> = c
        .prepare_cached("SELECT state FROM topups WHERE id = ?1")?
        .query_row([&t.id], |r| r.get(0))
        .optional()?;
    if state.as_deref() != Some("pending") {
        return Ok(());
    }
    match outcome {
        Ok(ChargeOutcome::Approved { charge_id }) => {
            ledger::post(
                c,
                &Txn {
                    id: format!("topup:{}", t.id),
                    workspace_id: t.workspace_id.clone(),
                    kind: "topup",
                    delivery_id: None,
                    memo: format!("{} top-up, charge {charge_id}", t.kind),
                    at: now,
                    entries: vec![
                        (ledger::PAYMENTS.into(), -t.amount),
                        (account(&t.workspace_id, Bucket::Paid), t.amount),
                    ],
                },
            )?;
            c.prepare_cached(
                "UPDATE topups SET state = 'approved', charge_id = ?2, settled_at = ?3, next_attempt_at = NULL WHERE id = ?1",
            )?
            .execute(params![t.id, charge_id, now])?;
            auto_charge_event(
                c,
                t,
                "wallet.auto_charge.succeeded",
                serde_json::json!({ "charge_id": charge_id }),
                now,
            )?;
            // Still below the threshold (a small top-up amount): the next one may go.
            maybe_auto_charge(c, &t.workspace_id, now)?;
        }
        Ok(ChargeOutcome::Declined {
            code,
            message,
            charge_id,
        }) => {
            c.prepare_cached(
                "UPDATE topups SET state = 'declined', decline_code = ?2, detail = ?3, charge_id = ?4, settled_at = ?5,
                    next_attempt_at = NULL WHERE id = ?1",
            )?
            .execute(params![t.id, code, message, charge_id, now])?;
            auto_charge_event(
                c,
                t,
                "wallet.auto_charge.failed",
                serde_json::json!({ "decline_code": code, "detail": message, "charge_id": charge_id }),
                now,
            )?;
            if t.kind == "auto" {
                c.prepare_cached("UPDATE wallets SET auto_status = 'paused', auto_status_detail = ?2 WHERE workspace_id = ?1")?
                    .execute(params![
                        t.workspace_id,
                        format!("the card was declined ({code}: {message}) for top-up {}; update the card or turn auto-charge on again", t.id)
                    ])?;
            }
        }
        Err(PaymentError::Rejected(detail)) => {
            c.prepare_cached(
                "UPDATE topups SET state = 'failed', detail = ?2, settled_at = ?3, next_attempt_at = NULL WHERE id = ?1",
            )?
            .execute(params![t.id, detail, now])?;
            auto_charge_event(
                c,
                t,
                "wallet.auto_charge.failed",
                serde_json::json!({ "detail": detail }),
                now,
            )?;
            if t.kind == "auto" {
                c.prepare_cached("UPDATE wallets SET auto_status = 'paused', auto_status_detail = ?2 WHERE workspace_id = ?1")?
                    .execute(params![t.workspace_id, format!("the payment processor refused top-up {}: {detail}", t.id)])?;
            }
        }
        Err(PaymentError::Transient(detail)) => {
            let backoff = 1_000i64.saturating_mul(1 << t.attempts.min(6));
            c.prepare_cached("UPDATE topups SET detail = ?2, next_attempt_at = ?3 WHERE id = ?1")?
                .execute(params![t.id, detail, now + backoff])?;
        }
    }
    Ok(())
}

/// Tell the business how an automatic top-up went (manual ones answer their own request).
fn auto_charge_event(
    c: &Connection,
    t: &TopUp,
    kind: &'static str,
    mut data: serde_json::Value,
    now: Millis,
) -> Result<(), WalletError> {
    if t.kind != "auto" {
        return Ok(());
    }
    data["topup_id"] = t.id.clone().into();
    data["amount_micros"] = t.amount.into();
    data["currency"] = t.currency.clone().into();
    Ok(crate::events::record(c, &t.workspace_id, kind, now, data)?)
}
