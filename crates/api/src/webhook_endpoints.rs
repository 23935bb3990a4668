//! `/v1/webhook-endpoints`: where a workspace hears about its events, signed per Standard
//! Webhooks; their delivery log, replay, and `/v1/events`, the event log itself.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody, parse_json, parse_optional_json, read_body};
use super::paging::PageSize;
use switchboard_gateway::Gateway;
use switchboard_gateway::events::log::{
    DeliveryView, EndpointPatch, EndpointView, EndpointWithSecret, ReplayRange,
};
use switchboard_gateway::events::{EVENT_TYPES, EventView, is_event_type, signing};
use switchboard_gateway::model::{Millis, now_ms};

/// What an endpoint URL may be: `http(s)`, a host name (its last label starting with a
/// letter) or an IPv4 address, an optional port, then anything printable. No credentials: a
/// receiver verifies our signature instead. One pattern serves the check and the document,
/// so they agree; `Url::parse` still runs after it. Where the URL points is checked when each
/// delivery connects (private addresses are refused unless allow-listed), since DNS can
/// change.
const ENDPOINT_URL: &str = concat!(
    r"^https?://",
    r"(((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    r"|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)",
    r"(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
    r"([/?#][^\x00-\x20\x7f]*)?$",
);
const ENDPOINT_URL_MAX: usize = 2048;

fn url_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(ENDPOINT_URL))
        .max_length(Some(ENDPOINT_URL_MAX))
        .description(Some(
            "Where deliveries are posted: an http(s) URL with a host name or IPv4 address and \
             no credentials.",
        ))
        .build()
}

fn nullable_url_schema() -> utoipa::openapi::schema::Schema {
    crate::openapi::or_null(url_schema())
}

fn check_url(url: &str) -> Result<(), ApiError> {
    static PATTERN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(ENDPOINT_URL).expect("a valid pattern"));
    let invalid = || {
        ApiError::invalid(
            "url",
            format!(
                "must be an http(s) URL of at most {ENDPOINT_URL_MAX} characters, with a host \
                 name or IPv4 address and no credentials"
            ),
        )
    };
    if url.len() > ENDPOINT_URL_MAX || !PATTERN.is_match(url) {
        return Err(invalid());
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.host_str().is_some() => Ok(()),
        _ => Err(invalid()),
    }
}

/// The event type names [`check_types`] takes, as a schema: from the same list.
fn event_type_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(EVENT_TYPES.iter().map(|(t, _)| *t)))
        .build()
}

fn event_types_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::Array::new(event_type_schema())
}

fn nullable_event_types_schema() -> utoipa::openapi::schema::Schema {
    crate::openapi::or_null(event_types_schema())
}

fn check_types(types: &[String]) -> Result<(), ApiError> {
    for (i, t) in types.iter().enumerate() {
        if !is_event_type(t) {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
            return Err(ApiError::invalid(
                format!("event_types[{i}]"),
                format!("unknown event type `{t}`; known: {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://example.com/hooks/switchboard",
    "description": "Order service",
    "event_types": ["message.delivered", "message.failed"]
}))]
pub struct NewEndpoint {
    /// Where deliveries are posted: an `http(s)` URL with a host and no credentials.
    #[schema(schema_with = url_schema)]
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to deliver; omit or leave empty for all.
    #[serde(default)]
    #[schema(schema_with = event_types_schema)]
    pub event_types: Vec<String>,
    /// Bring your own `whsec_` secret (e.g. when moving from another sender); one is
    /// generated otherwise.
    #[serde(default)]
    #[schema(
        pattern = "^(whsec_)?([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$"
    )]
    pub secret: Option<String>,
}

/// Register an endpoint. The answer carries its signing secret, once.
#[utoipa::path(post, path = "/v1/webhook-endpoints", operation_id = "create_webhook_endpoint", tag = "webhooks", request_body = NewEndpoint,
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), ApiError> {
    let req: NewEndpoint = parse_json(&read_body(body)?)?;
    check_url(&req.url)?;
    check_types(&req.event_types)?;
    let secret = match req.secret {
        Some(s) => {
            signing::validate(&s).map_err(|e| ApiError::invalid("secret", e.to_string()))?;
            s
        }
        None => signing::new_secret(),
    };
    let created = gw
        .event_log
        .create_endpoint(
            ws,
            req.url,
            req.description,
            req.event_types,
            secret,
            gw.vault.clone(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints", operation_id = "list_webhook_endpoints", tag = "webhooks",
    responses((status = 200, body = Vec<EndpointView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(gw.event_log.endpoints(ws).await?))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", operation_id = "get_webhook_endpoint", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    gw.event_log
        .endpoint(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    #[serde(default)]
    #[schema(schema_with = nullable_url_schema)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = nullable_event_types_schema)]
    pub event_types: Option<Vec<String>>,
    /// `enabled` or `disabled`. Enabling a disabled endpoint resumes its pending deliveries.
    #[serde(default)]
    #[schema(pattern = "^(enabled|disabled)$")]
    pub status: Option<String>,
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", operation_id = "update_webhook_endpoint", tag = "webhooks", request_body = EndpointChange,
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn patch(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EndpointView>, ApiError> {
    let change: EndpointChange = parse_json(&read_body(body)?)?;
    if let Some(url) = &change.url {
        check_url(url)?;
    }
    if let Some(types) = &change.event_types {
        check_types(types)?;
    }
    if let Some(s) = &change.status
        && s != "enabled"
        && s != "disabled"
    {
        return Err(ApiError::invalid(
            "status",
            "must be `enabled` or `disabled`",
        ));
    }
    let patch = EndpointPatch {
        url: change.url,
        description: change.description,
        event_types: change.event_types,
        status: change.status,
    };
    gw.event_log
        .patch_endpoint(ws, id, patch)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", operation_id = "delete_webhook_endpoint", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if gw.event_log.delete_endpoint(ws, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook endpoint"))
    }
}

/// A new signing secret. For the next 24 hours deliveries carry two signatures, one per
/// secret, so receivers can switch without missing any.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = EndpointWithSecret), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<EndpointWithSecret>, ApiError> {
    let overlap = gw.webhooks.rotation_overlap.as_millis() as Millis;
    gw.event_log
        .rotate_endpoint_secret(ws, id, signing::new_secret(), overlap, gw.vault.clone())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

const PAGE_SIZE: PageSize = PageSize {
    default: 50,
    max: 500,
};

fn limit_schema() -> utoipa::openapi::Object {
    PAGE_SIZE.schema()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

/// The endpoint's recent deliveries, each with its attempts.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id"), DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn deliveries(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let q = super::paging::query(query)?;
    if gw
        .event_log
        .endpoint(ws.clone(), id.clone())
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    let limit = PAGE_SIZE.limit(q.limit)?;
    Ok(Json(gw.event_log.webhook_deliveries(ws, id, limit).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Events created at or after this time (RFC 3339); default: 24 hours ago.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// Events created before this time (RFC 3339); default: now.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub until: Option<String>,
    /// Just this event.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Only events whose deliveries to this endpoint all failed (e.g. while it was down).
    #[serde(default)]
    pub only_failed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayReport {
    /// Deliveries queued; each carries its event's original `webhook-id`.
    pub queued: usize,
}

/// Send stored events to the endpoint again. Receivers deduplicate by `webhook-id`.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/replay", operation_id = "replay_webhook_events", tag = "webhooks", request_body = Option<Replay>,
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, body = ReplayReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn replay(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ReplayReport>), ApiError> {
    let body = read_body(body)?;
    let req: Replay = parse_optional_json(&body)?;
    let time = |field: &str, v: &Option<String>, default: Millis| -> Result<Millis, ApiError> {
        match v {
            None => Ok(default),
            Some(s) => switchboard_iso_time::parse_iso_signed(s)
                .ok_or_else(|| ApiError::invalid(field, "must be an RFC 3339 time")),
        }
    };
    let now = now_ms();
    let range = ReplayRange {
        since: time("since", &req.since, now - 24 * 3_600_000)?,
        until: time("until", &req.until, now + 1)?,
        event_id: req.event_id,
        only_failed: req.only_failed,
        limit: 10_000,
    };
    match gw.event_log.replay_events(ws, id, range).await? {
        Some(queued) => Ok((StatusCode::ACCEPTED, Json(ReplayReport { queued }))),
        None => Err(ApiError::not_found("webhook endpoint")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this event type.
    #[serde(rename = "type")]
    #[param(schema_with = event_type_schema, required = false)]
    pub kind: Option<String>,
    /// Events older than this event id (paging).
    pub before: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
}

/// The workspace's events, newest first: what was, or would be, delivered.
#[utoipa::path(get, path = "/v1/events", operation_id = "list_events", tag = "webhooks", params(EventsQuery),
    responses((status = 200, body = EventList), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn events(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventList>, ApiError> {
    let q = super::paging::query(query)?;
    if let Some(t) = &q.kind
        && !is_event_type(t)
    {
        return Err(ApiError::invalid(
            "type",
            format!("unknown event type `{t}`"),
        ));
    }
    let limit = PAGE_SIZE.limit(q.limit)?;
    Ok(Json(EventList {
        data: gw.event_log.events(ws, q.kind, q.before, limit).await?,
    }))
}
