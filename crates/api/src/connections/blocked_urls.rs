//! `/v1/connections/{id}/blocked-urls`: the per-connection URL block list. A provider that
//! refuses a message for a URL adds it; a workspace can add and remove its own.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::owned;
use crate::auth::{AdminKey, ReadKey};
use crate::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::BlockedUrlView;

#[utoipa::path(get, path = "/v1/connections/{id}/blocked-urls", operation_id = "list_blocked_urls", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = Vec<BlockedUrlView>), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn blocked(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<Vec<BlockedUrlView>>, ApiError> {
    owned(&gw, &ws, &id)?;
    Ok(Json(gw.store.blocked_urls(id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockUrl {
    /// A URL starting `http://` or `https://`.
    #[schema(pattern = "^https?://")]
    pub url: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Put a URL on the block list yourself: messages containing it are refused up front.
#[utoipa::path(post, path = "/v1/connections/{id}/blocked-urls", operation_id = "block_url", tag = "connections", request_body = BlockUrl,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 201, body = Vec<BlockedUrlView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn block(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Vec<BlockedUrlView>>), ApiError> {
    owned(&gw, &ws, &id)?;
    let body = read_body(body)?;
    let b: BlockUrl = parse_json(&body)?;
    if !(b.url.starts_with("http://") || b.url.starts_with("https://")) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "url must be an http(s) URL",
        )
        .field("url"));
    }
    let reason = b
        .reason
        .unwrap_or_else(|| "blocked by the workspace".into());
    gw.store
        .block_urls(id.clone(), vec![b.url], reason, None)
        .await?;
    Ok((StatusCode::CREATED, Json(gw.store.blocked_urls(id).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UrlQuery {
    /// The URL to take off the list, exactly as listed.
    pub url: String,
}

/// Take a URL off the block list: messages that failed `url_blocked` because of it become
/// resendable.
#[utoipa::path(delete, path = "/v1/connections/{id}/blocked-urls", operation_id = "unblock_url", tag = "connections", params(("id" = String, Path, description = "Connection id"), UrlQuery),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn unblock(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    query: Result<Query<UrlQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode, ApiError> {
    owned(&gw, &ws, &id)?;
    let Query(q) = query.map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()).field("url")
    })?;
    if gw.store.unblock_url(id, q.url).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("blocked URL"))
    }
}
