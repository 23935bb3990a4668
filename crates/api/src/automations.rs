//! `/v1/automations`: automation definitions and their versions (the service is
//! [`switchboard_gateway::automations`]). A body is checked field by field by the service,
//! not by serde here, so a 422 `invalid_automation` lists every mistake with its path.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody, read_body};
use super::paging::PageSize;
use switchboard_gateway::Gateway;
use switchboard_gateway::automations::AutomationsError;
use switchboard_gateway::automations::definitions::summary;
use switchboard_gateway::model::automation::{AutomationPage, AutomationView, NewAutomation};

const PAGE_SIZE: PageSize = PageSize {
    default: 50,
    max: 200,
};

fn limit_schema() -> utoipa::openapi::Object {
    PAGE_SIZE.schema()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutomationQuery {
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

impl From<AutomationsError> for ApiError {
    fn from(e: AutomationsError) -> Self {
        match e {
            AutomationsError::NotFound => ApiError::not_found("automation"),
            AutomationsError::Invalid(violations) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_automation",
                message: format!("the automation is not valid: {}", summary(&violations)),
                field: violations.first().map(|v| v.field.clone()),
                violations,
                reason: None,
                retry_after_s: 0,
            },
            AutomationsError::Store(s) => s.into(),
        }
    }
}

/// The body as JSON, numbers like `5.0` read as the integers they are (as every other body
/// is); what it says is the service's to check.
fn body(b: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let b = read_body(b)?;
    if b.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the request body is empty; expected a JSON object",
        ));
    }
    let b = switchboard_gateway::model::json_numbers::integral_numbers(&b);
    serde_json::from_slice(&b).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("malformed JSON: {e}"),
        )
    })
}

/// Live automations in creation order, with cursor pagination.
#[utoipa::path(get, path = "/v1/automations", operation_id = "list_automations", tag = "automations",
    params(AutomationQuery),
    responses((status = 200, body = AutomationPage)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    query: Result<Query<AutomationQuery>, QueryRejection>,
) -> Result<Json<AutomationPage>, ApiError> {
    let q = super::paging::query(query)?;
    let limit = PAGE_SIZE.limit(q.limit)?;
    Ok(Json(gw.automations(ws, q.cursor, limit).await?))
}

/// Create an automation (version 1). Every mistake in the body is reported at once: a 422
/// `invalid_automation` whose `violations` name each field, `field` the first of them.
#[utoipa::path(post, path = "/v1/automations", operation_id = "create_automation", tag = "automations", request_body = NewAutomation,
    responses((status = 201, body = AutomationView), (status = 422, description = "Not a valid automation (`invalid_automation`): each mistake in `violations`", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AutomationView>), ApiError> {
    let body = body(b)?;
    Ok((
        StatusCode::CREATED,
        Json(gw.create_automation(ws, body).await?),
    ))
}

/// An automation, with its current version.
#[utoipa::path(get, path = "/v1/automations/{id}", operation_id = "get_automation", tag = "automations",
    params(("id" = String, Path, description = "Automation id")),
    responses((status = 200, body = AutomationView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<AutomationView>, ApiError> {
    gw.automation(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("automation"))
}

/// Replace the definition: it becomes the next version. Runs started on an earlier version
/// finish on it.
#[utoipa::path(put, path = "/v1/automations/{id}", operation_id = "replace_automation", tag = "automations", request_body = NewAutomation,
    params(("id" = String, Path, description = "Automation id")),
    responses((status = 200, body = AutomationView), (status = 404, body = ErrorBody), (status = 422, description = "Not a valid automation (`invalid_automation`): each mistake in `violations`", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn replace(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<AutomationView>, ApiError> {
    let body = body(b)?;
    Ok(Json(gw.replace_automation(ws, id, body).await?))
}

/// Delete an automation: it starts no run and is no longer listed or readable; runs going
/// finish on their version.
#[utoipa::path(delete, path = "/v1/automations/{id}", operation_id = "delete_automation", tag = "automations",
    params(("id" = String, Path, description = "Automation id")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if gw.delete_automation(ws, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("automation"))
    }
}

/// One version of an automation's definition (`updated_at`: when that version was written).
#[utoipa::path(get, path = "/v1/automations/{id}/versions/{version}", operation_id = "get_automation_version", tag = "automations",
    params(("id" = String, Path, description = "Automation id"),
        ("version" = u32, Path, minimum = 1, description = "Version number, 1 for the first definition")),
    responses((status = 200, body = AutomationView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn version(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path((id, version)): Path<(String, u32)>,
) -> Result<Json<AutomationView>, ApiError> {
    gw.automation_version(ws, id, version)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("automation version"))
}
