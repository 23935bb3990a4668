//! Workspace members (the people who sign in to the console) and their invitations, for
//! automation: an admin key lists, invites, changes roles and removes; the invited person
//! accepts with the one-time token.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::AdminKey;
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{DataScope, InvitationView, MemberView, NewInvitation, Role};
use switchboard_gateway::tenancy::members::{self, MemberError};

impl From<MemberError> for ApiError {
    fn from(e: MemberError) -> Self {
        match e {
            MemberError::Store(s) => s.into(),
            MemberError::Invalid { field, message } => ApiError::invalid(field, message),
            MemberError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "a member with this email already exists",
            )
            .field("email"),
            // Not found: whether it never existed, was used or expired is not told.
            MemberError::InvalidInvitation => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "the invitation is unknown, already used or expired",
            )
            .field("token"),
            MemberError::LastAdmin => ApiError::new(
                StatusCode::CONFLICT,
                "last_admin",
                "the workspace's last admin cannot be demoted or removed",
            ),
            MemberError::NotFound => ApiError::not_found("member"),
            MemberError::Hash(detail) => {
                tracing::error!(%detail, "password hashing failed");
                ApiError::internal()
            }
        }
    }
}

#[utoipa::path(get, path = "/v1/members", operation_id = "list_members", tag = "members",
    responses((status = 200, body = Vec<MemberView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    Ok(Json(members::members(&gw.store, ws).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "role": "billing"}))]
pub struct InviteRequest {
    #[schema(schema_with = email_schema)]
    pub email: String,
    pub role: Role,
}

fn email_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .max_length(Some(members::EMAIL_MAX))
        .pattern(Some(members::EMAIL_PATTERN))
        .build()
}

fn password_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(members::MIN_PASSWORD))
        .max_length(Some(members::MAX_PASSWORD))
        .build()
}

fn member_name_schema() -> utoipa::openapi::Object {
    let mut schema = super::error::not_blank_schema();
    schema.max_length = Some(members::NAME_MAX);
    schema
}

/// Invite someone: the answer holds the one-time token (and the console page that takes
/// it), shown only here. It is good for seven days and one use.
#[utoipa::path(post, path = "/v1/members/invitations", operation_id = "invite_member", tag = "members",
    request_body = InviteRequest,
    responses((status = 201, body = NewInvitation), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn invite(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<NewInvitation>), ApiError> {
    let req: InviteRequest = parse_json(&read_body(body)?)?;
    let invitation = members::invite(&gw.store, ws, &req.email, req.role).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

#[utoipa::path(get, path = "/v1/members/invitations", operation_id = "list_invitations", tag = "members",
    responses((status = 200, body = Vec<InvitationView>)), security(("api_key" = [])))]
pub async fn invitations(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    Ok(Json(members::invitations(&gw.store, ws).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The invitation's one-time token.
    pub token: String,
    #[schema(schema_with = member_name_schema)]
    pub name: String,
    /// 10 to 1,024 characters.
    #[schema(schema_with = password_schema)]
    pub password: String,
}

/// Accept an invitation: no key, the token is the credential. Makes the member.
#[utoipa::path(post, path = "/v1/invitations/accept", operation_id = "accept_invitation", tag = "members",
    request_body = AcceptRequest,
    responses((status = 201, body = MemberView), (status = 404, body = ErrorBody, description = "The invitation is unknown, used or expired"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn accept(
    State(gw): State<Arc<Gateway>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let req: AcceptRequest = parse_json(&read_body(body)?)?;
    let member = members::accept(&gw.store, &req.token, &req.name, &req.password).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"data_scope": "own"}))]
pub struct MemberChange {
    #[serde(default)]
    pub role: Option<Role>,
    /// `own`: the member sees only the conversations they received or own, with their
    /// messages, contacts and figures (admins see everything regardless).
    #[serde(default)]
    pub data_scope: Option<DataScope>,
}

#[utoipa::path(patch, path = "/v1/members/{id}", operation_id = "update_member", tag = "members",
    params(("id" = String, Path, description = "Member id")), request_body = MemberChange,
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<MemberView>, ApiError> {
    let req: MemberChange = parse_json(&read_body(body)?)?;
    if req.role.is_none() && req.data_scope.is_none() {
        return Err(ApiError::invalid(
            "role",
            "give `role`, `data_scope` or both",
        ));
    }
    Ok(Json(
        members::change(&gw.store, ws, id, req.role, req.data_scope).await?,
    ))
}

/// Remove a member; their console sessions end at once.
#[utoipa::path(delete, path = "/v1/members/{id}", operation_id = "remove_member", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    members::remove(&gw.store, ws, id).await?;
    gw.forget_cached_keys();
    Ok(StatusCode::NO_CONTENT)
}
