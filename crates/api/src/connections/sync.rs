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
use crate::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::contact_sync::{DEFAULT_SYNC_LIMIT, SyncError, SyncReport};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Import every conversation instead of the first ~100.
    #[serde(default)]
    pub all: bool,
    /// Import at most this many contacts (default 100; ignored with `all`).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Import the connection's existing conversations (participants and up to 20 recent
/// messages each) into contacts and their history. Safe to run again: nothing is imported
/// twice.
#[utoipa::path(post, path = "/v1/connections/{id}/sync-contacts", tag = "connections", request_body = SyncRequest,
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
    let req: SyncRequest = if body.is_empty() {
        SyncRequest::default()
    } else {
        parse_json(&body)?
    };
    if req.limit == Some(0) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "limit must be at least 1",
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
