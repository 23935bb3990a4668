//! `POST /v1/connections/{id}/sync-contacts`: import the conversations a connection already
//! has on the provider.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::AdminKey;
use crate::error::{ApiError, ErrorBody, parse_optional_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::contact_sync::{DEFAULT_SYNC_LIMIT, SyncError, SyncReport};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Import every conversation instead of the first ~100.
    #[serde(default)]
    pub all: bool,
    /// Import at most this many contacts, 1 to 100,000 (default 100; ignored with `all`).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub limit: Option<u32>,
}

/// The most contacts one call imports without `all` (the schema says the same).
const MAX_SYNC_LIMIT: u32 = 100_000;

/// Import the connection's existing conversations (participants and up to 20 recent
/// messages each) into contacts and their history. Safe to run again: nothing is imported
/// twice.
#[utoipa::path(post, path = "/v1/connections/{id}/sync-contacts", operation_id = "sync_contacts", tag = "connections", request_body = Option<SyncRequest>,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = SyncReport), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn sync(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SyncReport>, ApiError> {
    let body = read_body(body)?;
    let req: SyncRequest = parse_optional_json(&body)?;
    if req
        .limit
        .is_some_and(|n| !(1..=MAX_SYNC_LIMIT).contains(&n))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("limit must be between 1 and {MAX_SYNC_LIMIT}"),
        )
        .field("limit"));
    }
    let limit = if req.all {
        None
    } else {
        Some(req.limit.unwrap_or(DEFAULT_SYNC_LIMIT))
    };
    match gw.contact_sync.sync(&ws, &id, limit).await {
        Ok(report) => Ok(Json(report)),
        Err(SyncError::UnknownConnection(_)) => Err(ApiError::not_found("connection")),
        Err(e @ SyncError::Unsupported(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "unsupported",
            e.to_string(),
        )),
        Err(e @ SyncError::Provider { .. }) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_error",
            e.to_string(),
        )),
        Err(SyncError::Plugin(call)) => Err(ApiError::plugin(&call)),
        Err(SyncError::Store(s)) => Err(s.into()),
    }
}
