//! Workspaces (created by the gateway operator) and each workspace's API keys (managed by
//! its admins).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{AdminKey, Operator, ReadKey};
use super::error::{ApiError, ErrorBody, check_name, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::new_id;
use switchboard_gateway::tenancy::{
    self, ApiKeyView, NewApiKey, NewWorkspace, Scope, Scopes, WorkspaceView,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspaceRequest {
    #[schema(schema_with = super::error::name_schema)]
    pub name: String,
}

/// Create a workspace and its first key, which holds every scope. Operator key only.
#[utoipa::path(post, path = "/v1/workspaces", operation_id = "create_workspace", tag = "workspaces", request_body = NewWorkspaceRequest,
    responses((status = 201, body = NewWorkspace), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("operator_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    _op: Operator,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<NewWorkspace>), ApiError> {
    let body = read_body(body)?;
    let req: NewWorkspaceRequest = parse_json(&body)?;
    check_name(&req.name)?;
    let id = new_id("ws");
    gw.store.ensure_workspace(&id, &req.name).await?;
    let api_key = tenancy::create_api_key(
        &gw.store,
        id.clone(),
        "owner".into(),
        Scopes::of(&Scope::ALL),
    )
    .await?;
    let workspace = gw
        .store
        .workspace(id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(NewWorkspace { workspace, api_key }),
    ))
}

/// Every workspace. Operator key only.
#[utoipa::path(get, path = "/v1/workspaces", operation_id = "list_workspaces", tag = "workspaces",
    responses((status = 200, body = Vec<WorkspaceView>), (status = 401, body = ErrorBody)),
    security(("operator_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    _op: Operator,
) -> Result<Json<Vec<WorkspaceView>>, ApiError> {
    Ok(Json(gw.store.workspaces().await?))
}

/// The caller's own workspace.
#[utoipa::path(get, path = "/v1/workspace", operation_id = "get_workspace", tag = "workspaces",
    responses((status = 200, body = WorkspaceView)), security(("api_key" = [])))]
pub async fn current(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
) -> Result<Json<WorkspaceView>, ApiError> {
    gw.store
        .workspace(ws)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("workspace"))
}

#[utoipa::path(get, path = "/v1/keys", operation_id = "list_keys", tag = "workspaces",
    responses((status = 200, body = Vec<ApiKeyView>)), security(("api_key" = [])))]
pub async fn keys(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    Ok(Json(gw.store.api_keys(ws).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "order service", "scopes": ["send", "read"]}))]
pub struct NewKeyRequest {
    #[schema(schema_with = super::error::name_schema)]
    pub name: String,
    /// Any of `send`, `read`, `billing`, `admin`; at least one.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
}

/// Create a key. Its value is in this answer and nowhere else, ever.
#[utoipa::path(post, path = "/v1/keys", operation_id = "create_key", tag = "workspaces", request_body = NewKeyRequest,
    responses((status = 201, body = NewApiKey), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_key(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<NewApiKey>), ApiError> {
    let body = read_body(body)?;
    let req: NewKeyRequest = parse_json(&body)?;
    check_name(&req.name)?;
    let scopes = Scopes::of(&req.scopes);
    if scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "give at least one of send, read, billing, admin",
        ));
    }
    let key = tenancy::create_api_key(&gw.store, ws, req.name, scopes).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Revoke a key: it stops working at once.
#[utoipa::path(delete, path = "/v1/keys/{id}", operation_id = "revoke_key", tag = "workspaces",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn revoke_key(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match gw.store.revoke_api_key(ws, id).await? {
        Some(digest) => {
            // Under the cache lock, so a lookup that read the key before the revocation
            // sees the new count before it can cache the key.
            let mut cache = gw.key_cache.write().unwrap_or_else(|p| p.into_inner());
            gw.key_revocations
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            cache.remove(&digest);
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::not_found("API key")),
    }
}
