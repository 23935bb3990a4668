//! `/v1/sender-domains`: the domains an email connection's provider checks, so that messages
//! may name a sender on them (`from`), and the workspace's follow-up sender. Thin: the rules
//! are the gateway's `sender_domains` service.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AdminKey, ReadKey};
use crate::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{FollowUpSender, NewSenderDomain, SenderDomainView};
use switchboard_gateway::sender_domains::SenderDomainError;

impl From<SenderDomainError> for ApiError {
    fn from(e: SenderDomainError) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match e {
            SenderDomainError::UnknownConnection => {
                ApiError::new(unprocessable, "unknown_connection", e.to_string())
                    .field("connection")
            }
            SenderDomainError::NotFound => ApiError::not_found("sender domain"),
            SenderDomainError::Invalid { field, .. } => {
                ApiError::new(unprocessable, "invalid_request", e.to_string()).field(field)
            }
            SenderDomainError::Unsupported { .. } => {
                ApiError::new(unprocessable, "domains_unsupported", e.to_string())
                    .field("connection")
            }
            SenderDomainError::Exists { .. } => {
                ApiError::new(StatusCode::CONFLICT, "sender_domain_exists", e.to_string())
                    .field("domain")
            }
            SenderDomainError::Refused(_) => {
                ApiError::new(unprocessable, "provider_refused", e.to_string()).field("domain")
            }
            SenderDomainError::GoneAtProvider(_) => {
                ApiError::new(StatusCode::CONFLICT, "sender_domain_gone", e.to_string())
            }
            SenderDomainError::Provider {
                retryable,
                retry_after_ms,
                ..
            } => {
                let mut err =
                    ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.to_string());
                if retryable {
                    err.retry_after_s = retry_after_ms
                        .unwrap_or(1000)
                        .div_ceil(1000)
                        .clamp(1, u64::from(u16::MAX))
                        as u16;
                }
                err
            }
            SenderDomainError::Plugin(call) => {
                tracing::warn!(error = %call, "plugin failed on a sender domain");
                ApiError::plugin(&call)
            }
            SenderDomainError::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this connection's sender domains.
    pub connection: Option<String>,
}

/// The workspace's sender domains, with their records and state.
#[utoipa::path(get, path = "/v1/sender-domains", operation_id = "list_sender_domains", tag = "sender-domains", params(ListQuery),
    responses((status = 200, body = Vec<SenderDomainView>), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<SenderDomainView>>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()).field("connection")
    })?;
    Ok(Json(gw.sender_domains.list(&ws, q.connection).await?))
}

/// Set a domain up with an email connection's provider: the answer lists the DNS records to
/// publish at the domain's DNS host, then `POST .../validate` asks the provider to check
/// them. Messages may name a sender on the domain once it is `verified`.
#[utoipa::path(post, path = "/v1/sender-domains", operation_id = "create_sender_domain", tag = "sender-domains", request_body = NewSenderDomain,
    responses((status = 201, body = SenderDomainView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`sender_domain_exists`: the connection has this domain already"),
        (status = 422, body = ErrorBody, description = "`unknown_connection`, `domains_unsupported` (the connection's plugin has no sender domains), `provider_refused`"),
        (status = 502, body = ErrorBody, description = "`provider_error`, `plugin_error`")),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SenderDomainView>), ApiError> {
    let req: NewSenderDomain = parse_json(&read_body(body)?)?;
    Ok((
        StatusCode::CREATED,
        Json(gw.sender_domains.create(&ws, req).await?),
    ))
}

#[utoipa::path(get, path = "/v1/sender-domains/{id}", operation_id = "get_sender_domain", tag = "sender-domains",
    params(("id" = String, Path, description = "Sender domain id")),
    responses((status = 200, body = SenderDomainView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<SenderDomainView>, ApiError> {
    Ok(Json(gw.sender_domains.get(&ws, &id).await?))
}

/// Ask the provider to check the domain's DNS records now. The answer gives each record's
/// result (with the provider's reason when it is wrong) and the domain's state: `verified`
/// when every record is right; `failed` when a verified domain's record is not (new
/// messages from it are refused until a check passes); `pending` until a first check passes.
#[utoipa::path(post, path = "/v1/sender-domains/{id}/validate", operation_id = "validate_sender_domain", tag = "sender-domains",
    params(("id" = String, Path, description = "Sender domain id")),
    responses((status = 200, body = SenderDomainView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`sender_domain_gone`: the provider no longer knows the domain"),
        (status = 422, body = ErrorBody, description = "`domains_unsupported`"),
        (status = 502, body = ErrorBody, description = "`provider_error`, `plugin_error`")),
    security(("api_key" = [])))]
pub async fn validate(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<SenderDomainView>, ApiError> {
    Ok(Json(gw.sender_domains.validate(&ws, &id).await?))
}

/// A change to a sender domain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SenderDomainChange {
    /// Make this domain the workspace's follow-up sender: follow-up emails go out from
    /// `local_part@domain` while it is verified (and its connection is the one email goes
    /// through), else from the connection's own sender. Another domain that was the
    /// follow-up sender stops being it. `null` stops this one being it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<FollowUpSender>, nullable)]
    pub follow_up: Option<Option<FollowUpSender>>,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[utoipa::path(patch, path = "/v1/sender-domains/{id}", operation_id = "update_sender_domain", tag = "sender-domains", request_body = SenderDomainChange,
    params(("id" = String, Path, description = "Sender domain id")),
    responses((status = 200, body = SenderDomainView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SenderDomainView>, ApiError> {
    let change: SenderDomainChange = parse_json(&read_body(body)?)?;
    Ok(Json(match change.follow_up {
        Some(follow_up) => gw.sender_domains.set_follow_up(&ws, &id, follow_up).await?,
        None => gw.sender_domains.get(&ws, &id).await?,
    }))
}

/// Delete the domain at the provider, then here. Messages may no longer name a sender on it.
#[utoipa::path(delete, path = "/v1/sender-domains/{id}", operation_id = "delete_sender_domain", tag = "sender-domains",
    params(("id" = String, Path, description = "Sender domain id")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`provider_refused`"),
        (status = 502, body = ErrorBody, description = "`provider_error`, `plugin_error`")),
    security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    gw.sender_domains.delete(&ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
