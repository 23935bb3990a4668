//! `/v1/billing`: the wallet for billing staff, behind billing-scoped keys only. Balances,
//! the ledger statement, usage reports (JSON and CSV), per-message cost, prices, the plan,
//! top-ups and auto-charge. Every amount is integer micro-units; the CSV also prints them
//! as exact decimals, formatted from the integers.

use std::sync::Arc;
use switchboard_gateway::billing::{AutoChargeChange, ManualTopUp};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::auth::BillingKey;
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use super::paging::{self, PageSize};
use switchboard_gateway::Gateway;
use switchboard_gateway::billing::prices::{PriceSpec, PriceView};
use switchboard_gateway::billing::views::*;
use switchboard_gateway::model::{Millis, now_ms};

/// Balance, credit, held money and auto-charge status.
#[utoipa::path(get, path = "/v1/billing/balance", operation_id = "get_balance", tag = "billing",
    responses((status = 200, body = BalanceView), (status = 403, body = ErrorBody)), security(("api_key" = [])))]
pub async fn balance(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
) -> Result<Json<BalanceView>, ApiError> {
    Ok(Json(gw.wallets.balance(ws).await?))
}

/// `free` or `paid`. Moving to `paid` grants this month's credit at once.
#[utoipa::path(put, path = "/v1/billing/plan", operation_id = "set_plan", tag = "billing", request_body = PlanChange,
    responses((status = 200, body = BalanceView), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn set_plan(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<BalanceView>, ApiError> {
    let p: PlanChange = parse_json(&read_body(b)?)?;
    if p.plan != "free" && p.plan != "paid" {
        return Err(ApiError::invalid(
            "plan",
            format!("`{}` is not a plan: `free` or `paid`", p.plan),
        ));
    }
    Ok(Json(gw.wallets.set_plan(ws, p.plan).await?))
}

/// Be told (event `wallet.low_balance`) when the paid balance falls below a threshold.
#[utoipa::path(put, path = "/v1/billing/low-balance-alert", operation_id = "set_low_balance_alert", tag = "billing", request_body = LowBalanceAlert,
    responses((status = 200, body = BalanceView), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn set_low_balance_alert(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<BalanceView>, ApiError> {
    let a: LowBalanceAlert = parse_json(&read_body(b)?)?;
    if a.threshold_micros < 0 {
        return Err(ApiError::invalid(
            "threshold_micros",
            "must not be negative",
        ));
    }
    Ok(Json(
        gw.wallets
            .set_low_balance_alert(ws, a.threshold_micros)
            .await?,
    ))
}

/// A card token: 1 to 128 characters, not blank (the schemas of `AutoChargeSettings` and
/// `NewTopUp` say the same).
fn check_card(card: &str) -> Result<(), ApiError> {
    if super::error::is_blank(card) || card.chars().count() > 128 {
        return Err(ApiError::invalid(
            "card",
            "a card token of 1-128 characters",
        ));
    }
    Ok(())
}

/// Turn auto-charge on (or off) and set its threshold, amount, monthly cap and card.
#[utoipa::path(put, path = "/v1/billing/auto-charge", operation_id = "set_auto_charge", tag = "billing", request_body = AutoChargeSettings,
    responses((status = 200, body = BalanceView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn set_auto_charge(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<BalanceView>, ApiError> {
    let s: AutoChargeSettings = parse_json(&read_body(b)?)?;
    match gw.topups.configure_auto_charge(ws, s).await? {
        AutoChargeChange::Done(view) => Ok(Json(*view)),
        AutoChargeChange::Invalid { field, why } => Err(ApiError::invalid(field, why)),
        AutoChargeChange::Unconfigured => Err(ApiError::new(
            StatusCode::CONFLICT,
            "payments_unconfigured",
            "this gateway has no payment processor configured",
        )
        .field("enabled")),
    }
}

/// Top up now. `Idempotency-Key` makes a retried request the same top-up (reusing it for
/// a different amount or card is a 409). Answers 201 (approved), 202 (the processor is
/// unavailable; retried in the background) or 402 (declined; recorded).
#[utoipa::path(post, path = "/v1/billing/topups", operation_id = "create_top_up", tag = "billing", request_body = NewTopUp,
    responses((status = 201, body = TopUpView), (status = 202, body = TopUpView), (status = 402, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn top_up(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let t: NewTopUp = parse_json(&read_body(b)?)?;
    if let Some(card) = &t.card {
        check_card(card)?;
    }
    let id = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(key) => format!(
            "top_m_{}",
            &hex::encode(Sha256::digest(format!("{ws}\n{key}")))[..32]
        ),
        None => format!("top_m_{}", uuid::Uuid::new_v4().simple()),
    };
    let view = match gw.topups.manual(ws, id, t.amount_micros, t.card).await? {
        ManualTopUp::Done(view) => *view,
        ManualTopUp::Invalid { field, why } => return Err(ApiError::invalid(field, why)),
        ManualTopUp::Conflict { field, why } => {
            return Err(
                ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", why).field(field),
            );
        }
        ManualTopUp::Unconfigured => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "payments_unconfigured",
                "this gateway has no payment processor configured",
            ));
        }
    };
    Ok(match view.state.as_str() {
        "approved" => (StatusCode::CREATED, Json(view)).into_response(),
        "pending" => (StatusCode::ACCEPTED, Json(view)).into_response(),
        _ => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
            format!(
                "top-up {} was {}: {}",
                view.id,
                view.state,
                view.detail
                    .clone()
                    .or(view.decline_code.clone())
                    .unwrap_or_default()
            ),
        )
        .field("card")
        .into_response(),
    })
}

#[utoipa::path(get, path = "/v1/billing/topups", operation_id = "list_top_ups", tag = "billing",
    responses((status = 200, body = Vec<TopUpView>)), security(("api_key" = [])))]
pub async fn topups(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
) -> Result<Json<Vec<TopUpView>>, ApiError> {
    Ok(Json(gw.wallets.topups(ws, 200).await?))
}

const STATEMENT_PAGE_SIZE: PageSize = PageSize {
    default: 100,
    max: 500,
};

fn seq_cursor_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(paging::SEQ_CURSOR_PATTERN))
        .build()
}

fn limit_schema() -> utoipa::openapi::Object {
    STATEMENT_PAGE_SIZE.schema()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `next_cursor` from the previous page.
    #[param(schema_with = seq_cursor_schema, required = false)]
    pub cursor: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

/// The ledger statement: every entry on the workspace's accounts, oldest first.
#[utoipa::path(get, path = "/v1/billing/ledger", operation_id = "list_ledger_entries", tag = "billing", params(StatementQuery),
    responses((status = 200, body = StatementPage), (status = 400, body = ErrorBody)), security(("api_key" = [])))]
pub async fn ledger(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    q: Result<Query<StatementQuery>, QueryRejection>,
) -> Result<Json<StatementPage>, ApiError> {
    let q = paging::query(q)?;
    let limit = STATEMENT_PAGE_SIZE.limit(q.limit)?;
    let after = paging::seq_cursor(q.cursor.as_deref())?;
    Ok(Json(gw.wallets.statement(ws, after, limit).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Start (inclusive): RFC 3339 or `YYYY-MM-DD`; default the start of this month (UTC).
    #[param(schema_with = date_or_time, required = false)]
    pub from: Option<String>,
    /// End (exclusive): RFC 3339 or `YYYY-MM-DD`; default now. At or before `from`, the
    /// range is empty.
    #[param(schema_with = date_or_time, required = false)]
    pub to: Option<String>,
}

/// What [`parse_time`] reads: a date (midnight UTC) or an RFC 3339 time.
pub(crate) fn date_or_time() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string = |f| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
    };
    AnyOfBuilder::new()
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        .build()
        .into()
}

pub(crate) fn parse_time(field: &str, s: &str) -> Result<Millis, ApiError> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    switchboard_iso_time::parse_iso_signed(&full).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`{s}` is not RFC 3339 or YYYY-MM-DD"),
        )
        .field(field)
    })
}

fn range(q: UsageQuery) -> Result<(Millis, Millis), ApiError> {
    let now = now_ms();
    let month_start = format!("{}-01", switchboard_gateway::billing::wallet::month_of(now));
    let from = parse_time("from", q.from.as_deref().unwrap_or(&month_start))?;
    let to = match q.to {
        Some(t) => parse_time("to", &t)?,
        None => now + 1,
    };
    // `to` at or before `from` is an empty range, and its usage is nothing: a `to` alone
    // that falls before the default `from` (the start of this month) is a fair question.
    let to = to.max(from);
    Ok((from, to))
}

async fn usage_report(
    gw: &Gateway,
    ws: String,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<UsageReport, ApiError> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let (from, to) = range(q)?;
    Ok(gw.wallets.usage(ws, from, to).await?)
}

/// Charged sends grouped by day, channel, product and country, with counts and cost.
#[utoipa::path(get, path = "/v1/billing/usage", operation_id = "get_usage", tag = "billing", params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 400, body = ErrorBody)), security(("api_key" = [])))]
pub async fn usage(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<UsageReport>, ApiError> {
    Ok(Json(usage_report(&gw, ws, q).await?))
}

pub use switchboard_gateway::billing::views::decimal;

/// The usage report as CSV, ending with a TOTAL row.
#[utoipa::path(get, path = "/v1/billing/usage.csv", operation_id = "get_usage_csv", tag = "billing", params(UsageQuery),
    responses((status = 200, content_type = "text/csv", body = String)), security(("api_key" = [])))]
pub async fn usage_csv(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let csv = usage_report(&gw, ws, q).await?.to_csv();
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

/// What one message cost: each delivery's charge and its state.
#[utoipa::path(get, path = "/v1/billing/messages/{id}", operation_id = "get_message_cost", tag = "billing",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageCostView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn message_cost(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    Path(id): Path<String>,
) -> Result<Json<MessageCostView>, ApiError> {
    gw.wallets
        .message_cost(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("message"))
}

/// The prices that apply to this workspace: its own and the gateway's.
#[utoipa::path(get, path = "/v1/billing/prices", operation_id = "list_prices", tag = "billing",
    responses((status = 200, body = Vec<PriceView>)), security(("api_key" = [])))]
pub async fn prices(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
) -> Result<Json<Vec<PriceView>>, ApiError> {
    Ok(Json(gw.wallets.prices(ws).await?))
}

/// Add a workspace price (it wins over the gateway's from its effective date). The answer is
/// the price added, whose `id` is the one `DELETE /v1/billing/prices/{id}` takes.
#[utoipa::path(post, path = "/v1/billing/prices", operation_id = "add_price", tag = "billing", request_body = PriceSpec,
    responses((status = 201, body = PriceView), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn add_price(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PriceView>), ApiError> {
    let mut spec: PriceSpec = parse_json(&read_body(b)?)?;
    if let Some(v) = spec.validate().into_iter().next() {
        return Err(ApiError::invalid(&v.field, v.message));
    }
    if spec.effective_from.is_none() {
        spec.effective_from = Some(switchboard_gateway::model::rfc3339(now_ms()));
    }
    let id = gw.wallets.add_price(ws.clone(), spec).await?;
    let added = gw
        .wallets
        .prices(ws)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found("workspace price"))?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Delete a workspace price that has not taken effect yet.
#[utoipa::path(delete, path = "/v1/billing/prices/{id}", operation_id = "delete_price", tag = "billing",
    params(("id" = i64, Path, description = "Price id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("api_key" = [])))]
pub async fn delete_price(
    State(gw): State<Arc<Gateway>>,
    BillingKey(ws): BillingKey,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    match gw.wallets.delete_price(ws, id).await? {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err("in_effect") => Err(ApiError::new(
            StatusCode::CONFLICT,
            "price_in_effect",
            "this price has taken effect and sends were charged by it; add a new price with a later effective date instead",
        )),
        Err(_) => Err(ApiError::not_found("workspace price")),
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(0), "0.000000");
        assert_eq!(decimal(7_900), "0.007900");
        assert_eq!(decimal(10_000_000), "10.000000");
        assert_eq!(decimal(-1_234_567), "-1.234567");
        assert_eq!(decimal(i64::MIN), "-9223372036854.775808");
    }
}
