//! `/v1/conversations/{contact}` and `/v1/activity`: the conversation a follow-up is about,
//! and the customer's presence that triggers it (see [`switchboard_gateway::followup`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{ReadKey, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::followup::FollowUp;
use switchboard_gateway::model::{ConversationView, TemplateRef};

async fn contact(gw: &Gateway, ws: &str, id: &str, field: &str) -> Result<(), ApiError> {
    if gw.store.contact_exists(ws.into(), id.into()).await? {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "contact not found").field(field))
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Agent,
    Customer,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversationMessage {
    pub author: Author,
    /// Not blank.
    #[schema(schema_with = super::error::not_blank_schema)]
    pub text: String,
    /// Marketing messages are never followed up.
    #[serde(default)]
    pub marketing: bool,
    /// The AlimTalk template a follow-up of this reply uses (AlimTalk sends only registered
    /// templates); without one the follow-up's text goes by SMS/LMS.
    #[serde(default)]
    pub template: Option<TemplateRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Posted {
    pub id: i64,
}

/// Post an agent's or the customer's message to the contact's conversation.
#[utoipa::path(post, path = "/v1/conversations/{contact}/messages", operation_id = "post_conversation_message", tag = "conversations", request_body = NewConversationMessage,
    params(("contact" = String, Path, description = "Contact id")),
    responses((status = 201, body = Posted), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_message(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let m: NewConversationMessage = parse_json(&read_body(b)?)?;
    if super::error::is_blank(&m.text) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_text",
            "text must not be empty",
        )
        .field("text"));
    }
    contact(&gw, &ws, &id, "contact").await?;
    let author = match m.author {
        Author::Agent => "agent",
        Author::Customer => "customer",
    };
    let template = m
        .template
        .as_ref()
        .and_then(|t| serde_json::to_string(t).ok());
    let seq = gw
        .store
        .post_conversation_message(
            ws.clone(),
            id.clone(),
            author,
            m.text,
            m.marketing,
            template,
        )
        .await?;
    if matches!(m.author, Author::Customer) {
        // Writing is a sign of life.
        gw.followups.record_presence(&ws, &id, true).await?;
    }
    Ok((StatusCode::CREATED, Json(Posted { id: seq })))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    /// The last message the customer saw; all of them when left out.
    #[serde(default)]
    pub up_to: Option<i64>,
}

/// The customer saw the agent's messages (up to `up_to`).
#[utoipa::path(post, path = "/v1/conversations/{contact}/seen", operation_id = "mark_conversation_seen", tag = "conversations", request_body = Seen,
    params(("contact" = String, Path, description = "Contact id")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn seen(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let b = read_body(b)?;
    let s: Seen = if b.is_empty() {
        Seen::default()
    } else {
        parse_json(&b)?
    };
    contact(&gw, &ws, &id, "contact").await?;
    gw.store.mark_conversation_seen(ws, id, s.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/conversations/{contact}", operation_id = "get_conversation", tag = "conversations",
    params(("contact" = String, Path, description = "Contact id")),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    gw.store
        .conversation_view(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("conversation"))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    PageView,
    Heartbeat,
    TabHidden,
    TabVisible,
    Left,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub contact: String,
    pub kind: ActivityKind,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceView {
    /// `online` or `offline`.
    pub presence: &'static str,
    /// The follow-up message this change sent, if it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    /// Why a follow-up that was due could not be sent (for example, no address on any
    /// channel of the `follow-up` policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up_skipped: Option<String>,
}

/// A customer's presence: page views, heartbeats and a visible tab keep them online for
/// 4 min 30 s; a hidden tab or leaving takes them offline at once.
#[utoipa::path(post, path = "/v1/activity", operation_id = "record_activity", tag = "conversations", request_body = Activity,
    responses((status = 200, body = PresenceView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn activity(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<PresenceView>, ApiError> {
    let a: Activity = parse_json(&read_body(b)?)?;
    contact(&gw, &ws, &a.contact, "contact").await?;
    let online = matches!(
        a.kind,
        ActivityKind::PageView | ActivityKind::Heartbeat | ActivityKind::TabVisible
    );
    let outcome = gw
        .followups
        .record_presence(&ws, &a.contact, online)
        .await?;
    let (follow_up, follow_up_skipped) = match outcome {
        Some(FollowUp::Sent(id)) => (Some(id), None),
        Some(FollowUp::Impossible(why)) => (None, Some(why)),
        Some(FollowUp::Nothing) | None => (None, None),
    };
    Ok(Json(PresenceView {
        presence: if online { "online" } else { "offline" },
        follow_up,
        follow_up_skipped,
    }))
}
