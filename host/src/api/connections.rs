//! `/v1/connections`: what the workspace is connected to, reconnecting after the provider
//! revoked a token, contact sync, and the per-connection URL block list.
//!
//! Secrets go in and never come out: views list secret names only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Workspace;
use super::error::{ApiError, ErrorBody, parse_json};
use crate::Gateway;
use crate::contact_sync::{DEFAULT_SYNC_LIMIT, SyncError, SyncReport};
use crate::model::{BlockedUrlView, ConnectionView};

fn owned(
    gw: &Gateway,
    ws: &str,
    id: &str,
) -> Result<Arc<crate::connections::Connection>, ApiError> {
    gw.connections
        .get(id)
        .filter(|c| c.workspace_id == ws)
        .ok_or_else(|| ApiError::not_found("connection"))
}

fn view(c: &crate::connections::Connection) -> ConnectionView {
    ConnectionView {
        id: c.id.clone(),
        channel: c.channel.clone(),
        plugin: c.plugin.clone(),
        name: c.ctx.name.clone(),
        status: c.status.clone(),
        webhook_url: c.ctx.webhook_url.clone(),
        config: c.ctx.config.clone(),
        secrets: c.ctx.secrets.keys().cloned().collect(),
    }
}

#[utoipa::path(get, path = "/v1/connections", tag = "connections",
    responses((status = 200, body = Vec<ConnectionView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
) -> Json<Vec<ConnectionView>> {
    Json(
        gw.connections
            .in_workspace(&ws)
            .iter()
            .map(|c| view(c))
            .collect(),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconnect {
    /// New secret values, merged over the old ones (e.g. a fresh page access token).
    pub secrets: BTreeMap<String, String>,
}

/// New credentials after the provider revoked the old ones (`needs_reconnect`). The
/// connection is active again, and messages that failed `token_expired` become resendable.
#[utoipa::path(post, path = "/v1/connections/{id}/reconnect", tag = "connections", request_body = Reconnect,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn reconnect(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ConnectionView>, ApiError> {
    owned(&gw, &ws, &id)?;
    let body = body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))?;
    let r: Reconnect = parse_json(&body)?;
    if r.secrets.is_empty() || r.secrets.values().any(|v| v.is_empty()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "give at least one non-empty secret",
        )
        .field("secrets"));
    }
    if !gw
        .store
        .reconnect(ws.clone(), id.clone(), r.secrets)
        .await?
    {
        return Err(ApiError::not_found("connection"));
    }
    gw.connections.reload(&gw.store, &gw.public_url).await?;
    // Tokens derived from the old credentials must not outlive them.
    gw.runtime.forget_cached(&id);
    let conn = owned(&gw, &ws, &id)?;
    Ok(Json(view(&conn)))
}

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
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SyncReport>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))?;
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
    match gw.sync_contacts(&ws, &id, limit).await {
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
        Err(e @ SyncError::Plugin(_)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "plugin_error",
            e.to_string(),
        )),
        Err(SyncError::Store(s)) => Err(s.into()),
    }
}

#[utoipa::path(get, path = "/v1/connections/{id}/blocked-urls", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = Vec<BlockedUrlView>), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn blocked(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> Result<Json<Vec<BlockedUrlView>>, ApiError> {
    owned(&gw, &ws, &id)?;
    Ok(Json(gw.store.blocked_urls(id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockUrl {
    pub url: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Put a URL on the block list yourself: messages containing it are refused up front.
#[utoipa::path(post, path = "/v1/connections/{id}/blocked-urls", tag = "connections", request_body = BlockUrl,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 201, body = Vec<BlockedUrlView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn block(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Vec<BlockedUrlView>>), ApiError> {
    owned(&gw, &ws, &id)?;
    let body = body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))?;
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
#[utoipa::path(delete, path = "/v1/connections/{id}/blocked-urls", tag = "connections", params(("id" = String, Path, description = "Connection id"), UrlQuery),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn unblock(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
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

async fn set_status(
    gw: &Gateway,
    ws: String,
    id: String,
    status: &'static str,
) -> Result<Json<ConnectionView>, ApiError> {
    owned(gw, &ws, &id)?;
    if !gw
        .store
        .set_connection_status(ws.clone(), id.clone(), status)
        .await?
    {
        return Err(ApiError::not_found("connection"));
    }
    gw.connections.set_status(&id, status);
    let conn = owned(gw, &ws, &id)?;
    Ok(Json(view(&conn)))
}

/// Take a connection out of service: no new message is routed to it.
#[utoipa::path(post, path = "/v1/connections/{id}/disable", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn disable(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    set_status(&gw, ws, id, "disabled").await
}

#[utoipa::path(post, path = "/v1/connections/{id}/enable", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn enable(
    State(gw): State<Arc<Gateway>>,
    Workspace(ws): Workspace,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    set_status(&gw, ws, id, "active").await
}
