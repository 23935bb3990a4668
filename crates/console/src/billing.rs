//! The billing pages (roles `billing` and `admin`): balance, usage as a chart and tables,
//! the CSV the API serves, the statement and the prices in effect. Every figure comes from
//! the same service calls as `/v1/billing`, so the page and the API agree to the micro-unit.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::billing::views::decimal;
use switchboard_gateway::model::{Role, now_ms};

use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

#[derive(Deserialize, Default)]
pub struct BillingQuery {
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    /// A top-up just asked for, whose outcome the page reports.
    topup: Option<String>,
    /// A settings form just saved.
    saved: Option<String>,
}

/// An amount typed in currency units (`10`, `10.5`, `0.25`) as exact micro-units.
pub fn parse_amount(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 6
        || whole.len() > 12
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i64 = format!("{fraction:0<6}").parse().ok()?;
    whole.checked_mul(1_000_000)?.checked_add(fraction)
}

struct TopUpLine {
    id: String,
    kind: String,
    amount: String,
    card: String,
    state: String,
    decline: String,
    created_at: String,
}

/// A time typed in a form, as the API reads one: a date (midnight UTC) or RFC 3339; the
/// error names `field`. The automations page reads its window the same way.
pub fn parse_date_or_time(field: &str, s: &str) -> Result<i64, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    switchboard_iso_time::parse_iso_signed(&full)
        .ok_or_else(|| format!("{field}: `{s}` is not YYYY-MM-DD or RFC 3339"))
}

/// `from`/`to` as the API reads them: a date (midnight UTC) or RFC 3339; `from` defaults to
/// the start of this month, `to` to now, and a `to` before `from` is an empty range.
fn range(q: &BillingQuery) -> Result<(i64, i64, String, String), String> {
    let parse = parse_date_or_time;
    let now = now_ms();
    let month_start = format!("{}-01", switchboard_gateway::billing::wallet::month_of(now));
    let from_text = q
        .from
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or(month_start);
    let from = parse("from", &from_text)?;
    let (to, to_text) = match q.to.clone().filter(|s| !s.is_empty()) {
        Some(t) => (parse("to", &t)?, t),
        None => (now + 1, String::new()),
    };
    Ok((from, to.max(from), from_text, to_text))
}

struct Bar {
    class: usize,
    x: String,
    y: String,
    width: String,
    height: String,
    label: String,
}

struct Row {
    day: String,
    channel: String,
    product: String,
    country: String,
    count: i64,
    units: i64,
    cost_micros: i64,
    cost: String,
}

struct Entry {
    at: String,
    kind: String,
    account: String,
    amount_micros: i64,
    amount: String,
    balance_after: String,
    memo: String,
}

struct Price {
    channel: String,
    product: String,
    country: String,
    price: String,
    currency: String,
    effective_from: String,
    source: String,
}

#[derive(Template)]
#[template(path = "billing.html")]
struct BillingPage {
    nav: Nav,
    currency: String,
    paid: String,
    credit: String,
    held: String,
    available: String,
    credit_month: Option<String>,
    credit_expires_at: Option<String>,
    from: String,
    to: String,
    chart_width: usize,
    bars: Vec<Bar>,
    legend: Vec<(String, usize)>,
    rows: Vec<Row>,
    total_count: i64,
    total_micros: i64,
    total_cost: String,
    by_country: Vec<(String, i64, String)>,
    statement: Vec<Entry>,
    next_cursor: Option<String>,
    prices: Vec<Price>,
    topups: Vec<TopUpLine>,
    /// What became of the top-up just asked for.
    topup_result: Option<String>,
    settings: crate::billing_settings::Settings,
    saved: Option<&'static str>,
    credit_granted: i64,
    credit_spent: i64,
    credit_held: i64,
    credit_granted_text: String,
    credit_spent_text: String,
    credit_held_text: String,
}

shows_nav!(BillingPage);

const STATEMENT_PAGE: u32 = 50;

pub async fn page(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Query(q): Query<BillingQuery>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin, Role::Billing]) {
        return refused;
    }
    let (from, to, from_text, to_text) = match range(&q) {
        Ok(r) => r,
        Err(e) => return problem_response(StatusCode::BAD_REQUEST, "Bad range", &e),
    };
    let after = match q.cursor.as_deref().map(str::parse::<i64>).transpose() {
        Ok(a) => a,
        Err(_) => {
            return problem_response(
                StatusCode::BAD_REQUEST,
                "Bad cursor",
                "The page cursor is not one this console made.",
            );
        }
    };
    let ws = member.row.workspace_id.clone();
    let loaded = async {
        Ok::<_, switchboard_gateway::billing::BillingError>((
            gw.wallets.balance(ws.clone()).await?,
            gw.wallets.usage(ws.clone(), from, to).await?,
            gw.wallets
                .statement(ws.clone(), after, STATEMENT_PAGE)
                .await?,
            gw.wallets.prices(ws.clone()).await?,
            gw.wallets.topups(ws.clone(), 20).await?,
            gw.wallets.credit_month(ws.clone()).await?,
        ))
    }
    .await;
    let (balance, usage, statement, prices, topups, credit_month) = match loaded {
        Ok(v) => v,
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The billing figures cannot be read now: {e}"),
            );
        }
    };

    // The chart: one column per day, stacked by channel, scaled to the dearest day.
    let channels: Vec<String> = {
        let mut c: Vec<String> = usage.rows.iter().map(|r| r.channel.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    let mut per_day: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for r in &usage.rows {
        *per_day
            .entry(&r.day)
            .or_default()
            .entry(&r.channel)
            .or_default() += r.cost_micros;
    }
    let max = per_day
        .values()
        .map(|c| c.values().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let column = 24.0;
    let mut bars = Vec::new();
    for (i, (day, costs)) in per_day.iter().enumerate() {
        let mut top = 110.0;
        for (channel, cost) in costs {
            let height = 100.0 * *cost as f64 / max as f64;
            top -= height;
            bars.push(Bar {
                class: channels.iter().position(|c| c == channel).unwrap_or(0) % 6,
                x: format!("{:.1}", 4.0 + i as f64 * column),
                y: format!("{top:.2}"),
                width: format!("{:.1}", column - 4.0),
                height: format!("{height:.2}"),
                label: format!("{day} {channel}: {} {}", decimal(*cost), usage.currency),
            });
        }
    }
    let mut by_country: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in &usage.rows {
        let e = by_country.entry(&r.country).or_default();
        e.0 += r.count;
        e.1 += r.cost_micros;
    }
    let topup_result = q.topup.as_ref().and_then(|id| {
        topups
            .iter()
            .find(|t| &t.id == id)
            .map(|t| match t.state.as_str() {
                "approved" => format!(
                    "Top-up of {} {} approved.",
                    decimal(t.amount_micros),
                    t.currency
                ),
                "pending" => {
                    "The card processor did not answer; the top-up will be tried again.".to_string()
                }
                state => format!(
                    "Top-up {state}: {}",
                    t.decline_code
                        .clone()
                        .or(t.detail.clone())
                        .unwrap_or_else(|| "no reason given".into())
                ),
            })
    });
    let page = BillingPage {
        nav: Nav::of(&member),
        topup_result,
        settings: crate::billing_settings::Settings::of(&balance),
        credit_granted: credit_month.granted_micros,
        credit_spent: credit_month.spent_micros,
        credit_held: credit_month.held_micros,
        credit_granted_text: decimal(credit_month.granted_micros),
        credit_spent_text: decimal(credit_month.spent_micros),
        credit_held_text: decimal(credit_month.held_micros),
        saved: q
            .saved
            .as_deref()
            .and_then(crate::billing_settings::saved_message),
        topups: topups
            .iter()
            .map(|t| TopUpLine {
                id: t.id.clone(),
                kind: t.kind.clone(),
                amount: format!("{} {}", decimal(t.amount_micros), t.currency),
                card: t.card.clone(),
                state: t.state.clone(),
                decline: t
                    .decline_code
                    .clone()
                    .or(t.detail.clone())
                    .unwrap_or_default(),
                created_at: t.created_at.clone(),
            })
            .collect(),
        currency: balance.currency.clone(),
        paid: decimal(balance.paid_micros),
        credit: decimal(balance.credit_micros),
        held: decimal(balance.held_micros),
        available: decimal(balance.available_micros),
        credit_month: balance.credit_month.clone(),
        credit_expires_at: balance.credit_expires_at.clone(),
        from: from_text,
        to: to_text,
        chart_width: ((per_day.len() as f64 * column + 8.0) as usize).max(480),
        bars,
        legend: channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i % 6))
            .collect(),
        rows: usage
            .rows
            .iter()
            .map(|r| Row {
                day: r.day.clone(),
                channel: r.channel.clone(),
                product: r.product.clone(),
                country: r.country.clone(),
                count: r.count,
                units: r.units,
                cost_micros: r.cost_micros,
                cost: decimal(r.cost_micros),
            })
            .collect(),
        total_count: usage.total_count,
        total_micros: usage.total_cost_micros,
        total_cost: decimal(usage.total_cost_micros),
        by_country: by_country
            .into_iter()
            .map(|(c, (n, m))| (c.to_string(), n, decimal(m)))
            .collect(),
        statement: statement
            .data
            .iter()
            .map(|e| Entry {
                at: e.at.clone(),
                kind: e.kind.clone(),
                account: e.account.clone(),
                amount_micros: e.amount_micros,
                amount: decimal(e.amount_micros),
                balance_after: decimal(e.balance_after_micros),
                memo: e.memo.clone(),
            })
            .collect(),
        next_cursor: statement.next_cursor.clone(),
        prices: prices
            .iter()
            .map(|p| Price {
                channel: p.channel.clone(),
                product: p.product.clone(),
                country: p.country.clone(),
                price: decimal(p.unit_price_micros),
                currency: p.currency.clone(),
                effective_from: p.effective_from.clone(),
                source: p.source.clone(),
            })
            .collect(),
    };
    render(&page, StatusCode::OK)
}

/// The usage CSV: the API's, byte for byte (`UsageReport::to_csv`).
pub async fn usage_csv(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Query(q): Query<BillingQuery>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin, Role::Billing]) {
        return refused;
    }
    let (from, to, _, _) = match range(&q) {
        Ok(r) => r,
        Err(e) => return problem_response(StatusCode::BAD_REQUEST, "Bad range", &e),
    };
    match gw
        .wallets
        .usage(member.row.workspace_id.clone(), from, to)
        .await
    {
        Ok(report) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"usage.csv\"",
                ),
            ],
            report.to_csv(),
        )
            .into_response(),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The usage cannot be read now: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub struct TopUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    card: String,
}

/// The top-up form: the same service call as `POST /v1/billing/topups`; the billing page
/// then says what came of it.
pub async fn top_up(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    axum::Form(form): axum::Form<TopUpForm>,
) -> Response {
    if let Err(no) = crate::pages::form_allowed(&member, &form.csrf, &[Role::Admin, Role::Billing])
    {
        return no;
    }
    let Some(amount) = parse_amount(&form.amount).filter(|a| *a > 0) else {
        return problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Top-up refused",
            "The amount is not a positive number with at most six decimals.",
        );
    };
    let card = form.card.trim();
    if card.is_empty() || card.chars().count() > 128 {
        return problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Top-up refused",
            "Give a card token of 1 to 128 characters.",
        );
    }
    let id = format!("top_m_{}", uuid_like());
    match gw
        .topups
        .manual(
            member.row.workspace_id.clone(),
            id.clone(),
            amount,
            Some(card.to_string()),
        )
        .await
    {
        Ok(switchboard_gateway::billing::ManualTopUp::Done(_)) => {
            axum::response::Redirect::to(&format!("/console/billing?topup={id}")).into_response()
        }
        Ok(switchboard_gateway::billing::ManualTopUp::Invalid { field, why }) => problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Top-up refused",
            &format!("{field}: {why}"),
        ),
        Ok(switchboard_gateway::billing::ManualTopUp::Conflict { why, .. }) => {
            problem_response(StatusCode::CONFLICT, "Top-up refused", &why)
        }
        Ok(switchboard_gateway::billing::ManualTopUp::Unconfigured) => problem_response(
            StatusCode::CONFLICT,
            "No card processor",
            "This gateway has no payment processor configured.",
        ),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The top-up could not be made: {e}"),
        ),
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    rand::rng()
        .random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_are_exact_micro_units() {
        use super::parse_amount;
        assert_eq!(parse_amount("10"), Some(10_000_000));
        assert_eq!(parse_amount("10.5"), Some(10_500_000));
        assert_eq!(parse_amount(" 0.000001 "), Some(1));
        assert_eq!(parse_amount(".25"), Some(250_000));
        for bad in [
            "",
            ".",
            "-1",
            "1.0000001",
            "1e3",
            "1,5",
            "abc",
            "9999999999999",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad:?}");
        }
    }
}
