//! `/v1/messages`: accept, preview, read and list (resend is in [`super::resend`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{ReadAs, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use super::paging::PageSize;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{
    Accepted, AddressKey, MessagePage, MessageView, NewMessage, Preview, Status,
};
use switchboard_gateway::sending::{SendError, Sent, request_hash};
use switchboard_gateway::store::MessageFilter;

const MAX_IDEMPOTENCY_KEY: usize = 255;

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )
        .field("Idempotency-Key")
    };
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > MAX_IDEMPOTENCY_KEY || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_string()))
}

/// A message committed (or found committed under the same Idempotency-Key), as the API
/// answers it.
pub(super) struct Committed(pub Sent);

impl Committed {
    pub(super) fn into_response(self) -> Response {
        if self.0.replayed {
            (
                StatusCode::ACCEPTED,
                [("idempotent-replayed", "true")],
                Json(self.0.accepted),
            )
                .into_response()
        } else {
            (StatusCode::ACCEPTED, Json(self.0.accepted)).into_response()
        }
    }
}

/// Send a message. 202 means it is durably committed and will be dispatched.
#[utoipa::path(post, path = "/v1/messages", operation_id = "send_message", tag = "messages", request_body = NewMessage,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Repeat a request safely: the same key returns the original message. 1 to 255 visible ASCII characters.")),
    responses(
        (status = 202, description = "Committed", body = Accepted),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Not valid for the channel", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body)?;
    let key = idempotency_key(&headers)?;
    let request: NewMessage = parse_json(&body)?;
    let request_hash = request_hash(&request);
    if let Some(key) = &key
        && let Some((id, status, hash)) = gw.store.find_idempotent(&ws, key).await?
    {
        if hash != request_hash {
            return Err(SendError::KeyReused(id).into());
        }
        return Ok(Committed(Sent {
            accepted: Accepted { id, status },
            replayed: true,
        })
        .into_response());
    }
    let sent = gw
        .accept_message(ws, request, request_hash, key, None)
        .await?;
    Ok(Committed(sent).into_response())
}

/// Validate and quote without sending or storing anything.
#[utoipa::path(post, path = "/v1/messages/preview", operation_id = "preview_message", tag = "messages", request_body = NewMessage,
    responses(
        (status = 200, description = "What sending would do", body = Preview),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 422, description = "Unknown channel", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn preview(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Preview>, ApiError> {
    let body = read_body(body)?;
    let request: NewMessage = parse_json(&body)?;
    // A preview is of one channel's message; a policy's plan is checked, step by step, when
    // the message is sent. Answering `valid` here would promise what was never checked.
    if request.policy.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "preview_needs_channel",
            "a preview is of one channel's message: give `channel`, not `policy`",
        )
        .field("policy"));
    }
    let a = gw.intake.assess(&ws, request).await?;
    let country = a
        .quote
        .as_ref()
        .and_then(|q| q.country.clone())
        .or(a.request.to.country);
    let cost = match &a.quote {
        Some(q) => {
            gw.wallets
                .quote_cost(
                    ws.clone(),
                    a.request.channel.clone(),
                    q.product.clone(),
                    country.clone().unwrap_or_else(|| "*".into()),
                    q.units,
                )
                .await?
        }
        None => None,
    };
    Ok(Json(Preview {
        valid: a.violations.is_empty(),
        violations: a.violations,
        product: a.quote.as_ref().map(|q| q.product.clone()),
        units: a.quote.as_ref().map(|q| q.units),
        encoding: a.quote.as_ref().map(|q| q.encoding.clone()),
        country,
        cost,
    }))
}

/// A message with its deliveries, attempts, failure and timeline.
#[utoipa::path(get, path = "/v1/messages/{id}", operation_id = "get_message", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    // A message to another member's contact, for a member who sees only their own, is not
    // found.
    if !gw.sees_message(ws.clone(), &viewer, id.clone()).await? {
        return Err(ApiError::not_found("message"));
    }
    gw.deliveries
        .view(&ws, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("message"))
}

const PAGE_SIZE: PageSize = PageSize {
    default: 50,
    max: 200,
};

fn limit_schema() -> utoipa::openapi::Object {
    PAGE_SIZE.schema()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only messages with this overall status.
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// Only messages on this channel.
    pub channel: Option<String>,
    /// Only messages with a delivery to this address, as the channel normalises it (a phone
    /// in E.164, an email, a page-scoped id, a device token).
    pub recipient: Option<String>,
    /// Created at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub created_from: Option<String>,
    /// Created before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub created_to: Option<String>,
    /// `true`: only dead letters, messages that failed because their attempts ran out
    /// (`POST /v1/messages/redrive` resends them); `false`: none of them.
    pub exhausted: Option<bool>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

/// Messages, newest first, with cursor pagination.
#[utoipa::path(get, path = "/v1/messages", operation_id = "list_messages", tag = "messages", params(ListQuery),
    responses((status = 200, body = MessagePage), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    let q = super::paging::query(query)?;
    let status = match q.status.as_deref() {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!(
                    "status {s:?} is not one of queued, sending, sent, delivered, seen, failed"
                ),
            )
            .field("status")
        })?),
        None => None,
    };
    let limit = PAGE_SIZE.limit(q.limit)?;
    let filter = MessageFilter {
        status,
        channel: q.channel,
        recipient: q.recipient.map(|r| AddressKey::search_form(&r)),
        created_from: q
            .created_from
            .map(|t| crate::billing::parse_time("created_from", &t))
            .transpose()?,
        created_to: q
            .created_to
            .map(|t| crate::billing::parse_time("created_to", &t))
            .transpose()?,
        exhausted: q.exhausted,
        own_member: viewer.own_only,
    };
    Ok(Json(
        gw.store.list_messages(&ws, filter, q.cursor, limit).await?,
    ))
}
