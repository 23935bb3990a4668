//! `PUT /v1/sandbox/clock`: move the gateway's clock (and the simulators') forward, so
//! time-dependent behaviour (the Messenger window, inactivity, token expiry, AlimTalk sending
//! hours) is testable without waiting. Only mounted in `serve --sandbox`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::AdminKey;
use super::error::{ApiError, parse_json, read_body};
use switchboard_gateway::{Gateway, clock};

/// Far enough for any test; near enough that timestamps plus delays never overflow.
const MAX_OFFSET_MS: i64 = 10 * 365 * 86_400_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    /// Offset from the wall clock, in milliseconds. Never moves backwards.
    pub offset_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    pub offset_ms: i64,
    pub now_ms: i64,
}

pub async fn set_clock(
    State(gw): State<Arc<Gateway>>,
    AdminKey(_ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ClockView>, ApiError> {
    let change: ClockChange = parse_json(&read_body(body)?)?;
    if change.offset_ms > MAX_OFFSET_MS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("offset_ms is at most {MAX_OFFSET_MS} (ten years)"),
        )
        .field("offset_ms"));
    }
    if change.offset_ms < clock::offset_ms() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "clock_backwards",
            format!(
                "the clock only moves forward (offset is {} ms)",
                clock::offset_ms()
            ),
        )
        .field("offset_ms"));
    }
    let offset = clock::advance_to_offset(change.offset_ms);
    if let Some(url) = &gw.sandbox_url {
        let resp = reqwest::Client::new()
            .put(format!("{url}/_sandbox/clock"))
            .json(&serde_json::json!({ "offset_ms": offset }))
            .send()
            .await;
        if !resp.is_ok_and(|r| r.status().is_success()) {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "sandbox_unreachable",
                "the simulators did not take the new clock",
            ));
        }
    }
    // Retries and leases are absolute times: let the dispatcher look again.
    gw.dispatcher.wake();
    Ok(Json(ClockView {
        offset_ms: offset,
        now_ms: clock::now_ms(),
    }))
}

pub async fn get_clock(AdminKey(_ws): AdminKey) -> Json<ClockView> {
    Json(ClockView {
        offset_ms: clock::offset_ms(),
        now_ms: clock::now_ms(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletChange {
    /// The paid balance to have, in micro-units (set through an adjustment entry).
    pub paid_micros: i64,
    /// The free credit to have this month, if given.
    #[serde(default)]
    pub credit_micros: Option<i64>,
}

/// Sandbox only: set the workspace's paid balance, for trying low-balance behaviour.
pub async fn set_wallet(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<switchboard_gateway::billing::views::BalanceView>, ApiError> {
    let change: WalletChange = parse_json(&read_body(body)?)?;
    if change.paid_micros < 0 || change.credit_micros.is_some_and(|c| c < 0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "balances must not be negative",
        )
        .field("paid_micros"));
    }
    let view = gw
        .wallets
        .set_sandbox_balances(ws, change.paid_micros, change.credit_micros)
        .await?;
    gw.topups.wake();
    Ok(Json(view))
}
