//! `/v1/contacts`: one record per person, with addresses on every channel, activity and
//! history; and `/v1/receipts`, where the mobile app confirms pushes.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{ReadAs, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use super::paging::PageSize;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{
    AddressKind, ContactEventView, ContactHistoryEntry, ContactPage, ContactView, NewContact,
};
use switchboard_gateway::receipts::{Receipt, ReceiptError, SIGNATURE_HEADER};
use switchboard_gateway::store::ContactFilter;

const PAGE_SIZE: PageSize = PageSize {
    default: 50,
    max: 200,
};

fn limit_schema() -> utoipa::openapi::Object {
    PAGE_SIZE.schema()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
    /// Only contacts who have not interacted for more than 24 hours.
    pub inactive: Option<bool>,
    /// Only contacts whose note name contains this (case-insensitive).
    pub name: Option<String>,
    /// Only contacts whose note name or one of whose addresses contains this
    /// (case-insensitive).
    pub q: Option<String>,
}

/// Contacts in creation order, with cursor pagination.
#[utoipa::path(get, path = "/v1/contacts", operation_id = "list_contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = ContactPage), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    query: Result<Query<ContactQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ContactPage>, ApiError> {
    let q = super::paging::query(query)?;
    let limit = PAGE_SIZE.limit(q.limit)?;
    Ok(Json(
        gw.store
            .list_contacts(
                ws,
                q.cursor,
                limit,
                ContactFilter {
                    inactive_only: q.inactive.unwrap_or(false),
                    name: q.name.filter(|n| !n.trim().is_empty()),
                    q: q.q.filter(|n| !n.trim().is_empty()),
                    own_member: viewer.own_only,
                },
            )
            .await?,
    ))
}

/// Register a contact and its addresses (e.g. a push token with its platform).
#[utoipa::path(post, path = "/v1/contacts", operation_id = "create_contact", tag = "contacts", request_body = NewContact,
    responses((status = 201, body = ContactView), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ContactView>), ApiError> {
    let body = read_body(body)?;
    let mut new: NewContact = parse_json(&body)?;
    if new.addresses.is_empty() {
        return Err(invalid(
            "addresses",
            "a contact needs at least one address".into(),
        ));
    }
    for (i, a) in new.addresses.iter_mut().enumerate() {
        let field = |f: &str| format!("addresses[{i}].{f}");
        if a.address.trim().is_empty() {
            return Err(invalid(&field("address"), "must not be empty".into()));
        }
        match a.kind {
            AddressKind::Phone => {
                let mut to = switchboard_gateway::model::Recipient {
                    phone: Some(a.address.clone()),
                    ..Default::default()
                };
                if let Some(v) = switchboard_gateway::intake::normalize_recipient(&mut to)
                    .into_iter()
                    .next()
                {
                    return Err(invalid(&field("address"), v.message));
                }
                a.address = to.phone.unwrap_or_default();
            }
            AddressKind::Email if !a.address.contains('@') => {
                return Err(invalid(
                    &field("address"),
                    format!("{:?} is not an email address", a.address),
                ));
            }
            AddressKind::Psid => {
                let conn = a.connection.as_deref().and_then(|c| gw.connections.get(c));
                if conn.is_none_or(|c| c.workspace_id != ws) {
                    return Err(invalid(
                        &field("connection"),
                        "a PSID needs the page connection it belongs to".into(),
                    ));
                }
            }
            AddressKind::Push if !matches!(a.platform.as_deref(), Some("android" | "ios")) => {
                return Err(invalid(
                    &field("platform"),
                    "a push token needs its platform: android or ios".into(),
                ));
            }
            _ => {}
        }
        if a.kind != AddressKind::Psid {
            a.connection = None;
        }
    }
    let id = gw.store.upsert_contact(ws.clone(), new).await?;
    let view = gw
        .store
        .contact_view(ws, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(view)))
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_contact", message).field(field)
}

#[utoipa::path(get, path = "/v1/contacts/{id}", operation_id = "get_contact", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    if !gw.sees_contact(ws.clone(), &viewer, id.clone()).await? {
        return Err(ApiError::not_found("contact"));
    }
    gw.store
        .contact_view(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("contact"))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

fn string_schema(min: usize, max: usize, pattern: &str) -> utoipa::openapi::schema::Schema {
    crate::openapi::or_null(
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(min))
            .max_length(Some(max))
            .pattern(Some(pattern))
            .build(),
    )
}

fn contact_name_schema() -> utoipa::openapi::schema::Schema {
    string_schema(
        1,
        switchboard_gateway::contact_edits::NAME_MAX,
        super::error::NOT_BLANK,
    )
}

fn phone_schema() -> utoipa::openapi::schema::Schema {
    string_schema(8, 16, "^\\+[1-9][0-9]{6,14}$")
}

fn email_schema() -> utoipa::openapi::schema::Schema {
    string_schema(
        5,
        switchboard_gateway::contact_edits::EMAIL_MAX,
        "^[^@ \\t\\r\\n]+@[^@ \\t\\r\\n]+\\.[^@ \\t\\r\\n]+$",
    )
}

/// An agent's edit of a contact. Absent fields stay; `null` removes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ada (VIP)", "phone": "+14155550100", "email": null}))]
pub struct ContactChange {
    /// The note name agents know the contact by.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = contact_name_schema)]
    pub name: Option<Option<String>>,
    /// The contact's phone, E.164.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = phone_schema)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = email_schema)]
    pub email: Option<Option<String>>,
}

/// Edit a contact's note name, phone or email. An address that belongs to another contact is
/// refused with 409.
#[utoipa::path(patch, path = "/v1/contacts/{id}", operation_id = "update_contact", tag = "contacts", request_body = ContactChange,
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn patch(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ContactView>, ApiError> {
    let change: ContactChange = parse_json(&read_body(body)?)?;
    let change = switchboard_gateway::contact_edits::ContactChange {
        name: change.name,
        phone: change.phone,
        email: change.email,
    };
    Ok(Json(gw.edit_contact(ws, id, change).await?))
}

/// The contact's conversation history: synced and inbound messages, oldest first.
#[utoipa::path(get, path = "/v1/contacts/{id}/messages", operation_id = "list_contact_messages", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = Vec<ContactHistoryEntry>), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn history(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    Path(id): Path<String>,
) -> Result<Json<Vec<ContactHistoryEntry>>, ApiError> {
    if !gw.sees_contact(ws.clone(), &viewer, id.clone()).await? {
        return Err(ApiError::not_found("contact"));
    }
    gw.store
        .contact_history(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("contact"))
}

/// What the contact did outside any conversation, oldest first (the newest 200): today the
/// messages a `one_way` connection refused (`inbound_refused`, reason `chat_disabled`), with
/// their text and payload and the auto-reply that answered them, if any.
#[utoipa::path(get, path = "/v1/contacts/{id}/events", operation_id = "list_contact_events", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = Vec<ContactEventView>), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn events(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    Path(id): Path<String>,
) -> Result<Json<Vec<ContactEventView>>, ApiError> {
    if !gw.sees_contact(ws.clone(), &viewer, id.clone()).await? {
        return Err(ApiError::not_found("contact"));
    }
    gw.contact_events(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("contact"))
}

/// A mobile app confirms a push: `received` → delivered, `opened` → seen. Signed with the
/// push connection's `receipt_key` (see `X-Switchboard-Signature`); no API key.
#[utoipa::path(post, path = "/v1/receipts", operation_id = "record_receipt", tag = "receipts", request_body = Receipt,
    params(("X-Switchboard-Signature" = String, Header, description = "t=<unix s>,v1=<hex HMAC-SHA256(receipt_key, \"<t>.\" + body)>")),
    responses(
        (status = 204, description = "Applied (or already further along)"),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Signature missing, wrong or stale", body = ErrorBody),
        (status = 404, description = "No such message on that connection", body = ErrorBody),
    ))]
pub async fn receipt(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = read_body(body)?;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    match gw.receipts.handle(signature, &body).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(ReceiptError::BadRequest(m)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_receipt", m))
        }
        Err(e @ ReceiptError::Unauthorized(_)) => {
            Err(
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string())
                    .field("X-Switchboard-Signature"),
            )
        }
        Err(e @ ReceiptError::UnknownMessage(_)) => {
            Err(
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
                    .field("message_id"),
            )
        }
        Err(ReceiptError::Lifecycle(e)) => Err(e.into()),
    }
}
