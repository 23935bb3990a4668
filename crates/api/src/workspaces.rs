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

/// Workspace settings. Omitted fields stay; `null` turns a setting off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceChange {
    /// Minutes a customer may wait for an agent's answer before the conversation's owner (or
    /// every member, when nobody owns it) gets an email; 1 to 10080 (a week).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 10080, nullable)]
    pub no_reply_alert_minutes: Option<Option<i64>>,
    /// After a send whose answer was lost, on a channel whose provider cannot be asked
    /// whether it took the message (Messenger, push): `retry` sends again (at least once,
    /// possibly twice), `fail` does not (at most once; the delivery fails `outcome_unknown`).
    /// Channels whose provider can be asked (SMS, email, AlimTalk) are reconciled either way.
    #[serde(default)]
    pub ambiguous_sends: Option<switchboard_gateway::model::AmbiguousSends>,
    /// Whether a new conversation starts hosted: answered by the workspace's automations
    /// until someone switches it (`POST /v1/conversations/hosting`). Existing conversations
    /// keep theirs. `null` is `false`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>, nullable)]
    pub hosting_default: Option<Option<bool>>,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// Change the workspace's settings. A new no-reply delay applies to waits that begin after
/// it.
#[utoipa::path(patch, path = "/v1/workspace", operation_id = "update_workspace", tag = "workspaces", request_body = WorkspaceChange,
    responses((status = 200, body = WorkspaceView), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let change: WorkspaceChange = parse_json(&read_body(body)?)?;
    if let Some(minutes) = change.no_reply_alert_minutes {
        if minutes.is_some_and(|m| !(1..=10_080).contains(&m)) {
            return Err(ApiError::invalid(
                "no_reply_alert_minutes",
                "must be between 1 and 10080, or null to turn alerts off",
            ));
        }
        let id = ws.clone();
        gw.store
            .write(move |t| {
                switchboard_gateway::store::conversation_states::set_no_reply_alert_minutes(
                    t, &id, minutes,
                )
            })
            .await?;
    }
    if let Some(to) = change.ambiguous_sends {
        let id = ws.clone();
        gw.store
            .write(move |t| {
                switchboard_gateway::store::lost_answers::set_ambiguous_sends(t, &id, to)
            })
            .await?;
    }
    if let Some(hosted) = change.hosting_default {
        gw.set_hosting_default(ws.clone(), hosted.unwrap_or(false))
            .await?;
    }
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
    /// The member the key acts as: it sees what they see (their `data_scope`), holds no
    /// scope their role does not give (agent: send, read; billing: billing), and is revoked
    /// when they are removed.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub member: Option<String>,
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
    let key = match req.member {
        None => tenancy::create_api_key(&gw.store, ws, req.name, scopes).await?,
        Some(member) => tenancy::create_member_key(&gw.store, ws, req.name, scopes, member)
            .await
            .map_err(|e| match e {
                tenancy::MemberKeyError::UnknownMember(_) => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_reference",
                    e.to_string(),
                )
                .field("member"),
                tenancy::MemberKeyError::BeyondRole { .. } => {
                    ApiError::invalid("scopes", e.to_string())
                }
                tenancy::MemberKeyError::Store(e) => e.into(),
            })?,
    };
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
