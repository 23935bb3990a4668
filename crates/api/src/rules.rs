//! `/v1/notification-rules`, `/v1/results` and `/v1/members/{id}/inbox`: results a bot or a
//! form submits, the rules that decide whom each notifies (the service is
//! [`switchboard_gateway::rules`]), and what a member's inbox received.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::{AdminKey, ReadKey, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{InboxItem, NewResult, NewRule, ResultView, RuleView};

#[utoipa::path(get, path = "/v1/notification-rules", operation_id = "list_notification_rules", tag = "rules",
    responses((status = 200, body = Vec<RuleView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    Ok(Json(gw.rules(ws).await?))
}

/// Create a rule: a condition on results (validated now; a mistake is named by its path) and
/// the targets a matching result notifies.
#[utoipa::path(post, path = "/v1/notification-rules", operation_id = "create_notification_rule", tag = "rules", request_body = NewRule,
    responses((status = 201, body = RuleView), (status = 409, body = ErrorBody), (status = 422, description = "Invalid, or a target names a member, connection or endpoint this workspace does not have (`unknown_reference`)", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let r: NewRule = parse_json(&read_body(b)?)?;
    Ok((StatusCode::CREATED, Json(gw.create_rule(ws, r).await?)))
}

#[utoipa::path(get, path = "/v1/notification-rules/{id}", operation_id = "get_notification_rule", tag = "rules",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, body = RuleView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<RuleView>, ApiError> {
    gw.rule(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("notification rule"))
}

#[utoipa::path(put, path = "/v1/notification-rules/{id}", operation_id = "replace_notification_rule", tag = "rules", request_body = NewRule,
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, body = RuleView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn replace(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<RuleView>, ApiError> {
    if gw.rule(ws.clone(), id.clone()).await?.is_none() {
        return Err(ApiError::not_found("notification rule"));
    }
    let r: NewRule = parse_json(&read_body(b)?)?;
    Ok(Json(gw.replace_rule(ws, id, r).await?))
}

#[utoipa::path(delete, path = "/v1/notification-rules/{id}", operation_id = "delete_notification_rule", tag = "rules",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if gw.delete_rule(ws, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("notification rule"))
    }
}

/// Submit a result. Every rule whose condition holds notifies its targets at once, one
/// notification per target; `Idempotency-Key` makes a retried request the same result.
#[utoipa::path(post, path = "/v1/results", operation_id = "submit_result", tag = "rules", request_body = NewResult,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Repeat a request safely: the same key returns the original result.")),
    responses((status = 201, body = ResultView), (status = 200, description = "Replayed under the same Idempotency-Key", body = ResultView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn submit(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = super::messages::idempotency_key(&headers)?;
    let r: NewResult = parse_json(&read_body(b)?)?;
    let (view, replayed) = gw.submit_result(ws, r, key).await?;
    Ok(if replayed {
        (
            StatusCode::OK,
            [("idempotent-replayed", "true")],
            Json(view),
        )
            .into_response()
    } else {
        (StatusCode::CREATED, Json(view)).into_response()
    })
}

/// A result, with each notification and its message's status.
#[utoipa::path(get, path = "/v1/results/{id}", operation_id = "get_result", tag = "rules",
    params(("id" = String, Path, description = "Result id")),
    responses((status = 200, body = ResultView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn result(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<ResultView>, ApiError> {
    gw.result(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("result"))
}

/// A member's inbox, newest first (the last 100 items).
#[utoipa::path(get, path = "/v1/members/{id}/inbox", operation_id = "get_member_inbox", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    responses((status = 200, body = Vec<InboxItem>), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn inbox(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    gw.inbox(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("member"))
}
