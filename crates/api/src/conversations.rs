//! `/v1/conversations/{contact}` and `/v1/activity`: the conversation a follow-up is about,
//! and the customer's presence that triggers it (see [`switchboard_gateway::followup`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{ReadAs, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::conversations::records::RecordFilter;
use switchboard_gateway::followup::FollowUp;
use switchboard_gateway::model::{
    ConversationPage, ConversationStats, ConversationSummary, ConversationTotals, ConversationView,
    TemplateRef,
};

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
    /// The member an agent message is written as: the first one on a conversation that is
    /// not active takes it for them. Without it the message answers the customer and takes
    /// the conversation for no one.
    #[serde(default)]
    pub member: Option<String>,
    /// Write into a conversation another member owns, taking it over.
    #[serde(default)]
    pub overtake: bool,
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
    if matches!(m.author, Author::Customer) && (m.member.is_some() || m.overtake) {
        return Err(ApiError::invalid(
            "member",
            "a customer's message is written by no member",
        ));
    }
    let template = m
        .template
        .as_ref()
        .and_then(|t| serde_json::to_string(t).ok());
    let seq = gw
        .post_conversation_message(
            ws.clone(),
            id.clone(),
            switchboard_gateway::conversations::NewMessage {
                author,
                text: m.text,
                marketing: m.marketing,
                template,
                member: m.member,
                overtake: m.overtake,
                ..Default::default()
            },
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
    ReadAs(ws, viewer): ReadAs,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    // Another member's conversation, for a member who sees only their own, is not found.
    gw.conversation_view(ws, viewer, id)
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Take {
    /// The member who takes it.
    #[schema(min_length = 1)]
    pub member: String,
    /// Take it from the member who owns it.
    #[serde(default)]
    pub overtake: bool,
}

/// Take a conversation: it becomes `active`, owned by `member`. Another member's conversation
/// answers 409 `conversation_taken`, naming the owner, unless `overtake` is set.
#[utoipa::path(post, path = "/v1/conversations/{contact}/take", operation_id = "take_conversation", tag = "conversations", request_body = Take,
    params(("contact" = String, Path, description = "Contact id (or the conversation's id)")),
    responses((status = 200, body = ConversationSummary), (status = 404, description = "No such conversation, or no such member", body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn take(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let t: Take = parse_json(&read_body(b)?)?;
    Ok(Json(
        gw.take_conversation(ws, id, t.member, t.overtake).await?,
    ))
}

/// Give a conversation back to the team: it keeps its state and wait, and nobody owns it
/// (`conversation.released`). Another member's answers 409 `conversation_taken` unless
/// `overtake` is set; an unowned one is left as it is.
#[utoipa::path(post, path = "/v1/conversations/{contact}/release", operation_id = "release_conversation", tag = "conversations", request_body = Take,
    params(("contact" = String, Path, description = "Contact id (or the conversation's id)")),
    responses((status = 200, body = ConversationSummary), (status = 404, description = "No such conversation, or no such member", body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn release(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let t: Take = parse_json(&read_body(b)?)?;
    Ok(Json(
        gw.release_conversation(ws, id, t.member, t.overtake)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Finish {
    /// The member who finishes it: its owner (an unowned one becomes theirs).
    #[schema(min_length = 1)]
    pub member: String,
}

/// Finish a conversation. Only its owner may; a finished one answers 409
/// `conversation_finished`.
#[utoipa::path(post, path = "/v1/conversations/{contact}/finish", operation_id = "finish_conversation", tag = "conversations", request_body = Finish,
    params(("contact" = String, Path, description = "Contact id (or the conversation's id)")),
    responses((status = 200, body = ConversationSummary), (status = 404, description = "No such conversation, or no such member", body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn finish(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let f: Finish = parse_json(&read_body(b)?)?;
    Ok(Json(gw.finish_conversation(ws, id, f.member).await?))
}

const PAGE_SIZE: super::paging::PageSize = super::paging::PageSize {
    default: 50,
    max: 200,
};

fn limit_schema() -> utoipa::openapi::Object {
    PAGE_SIZE.schema()
}

fn state_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["unanswered", "active", "finished"]))
        .build()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only conversations in this state.
    #[param(schema_with = state_schema, required = false)]
    pub state: Option<String>,
    /// Only those this member owns.
    pub owner: Option<String>,
    /// Only those this member received (took first).
    pub received_by: Option<String>,
    /// Received at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub received_since: Option<String>,
    /// Received before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub received_until: Option<String>,
    /// Only those carrying this tag (by name).
    pub tag: Option<String>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

fn record_query(
    state: Option<String>,
    owner: Option<String>,
    received_by: Option<String>,
    received_since: Option<String>,
    received_until: Option<String>,
    tag: Option<String>,
) -> Result<RecordFilter, ApiError> {
    if let Some(s) = &state
        && !["unanswered", "active", "finished"].contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("state {s:?} is not one of unanswered, active, finished"),
        )
        .field("state"));
    }
    Ok(RecordFilter {
        state,
        owner,
        received_by,
        received_since: received_since
            .map(|t| crate::billing::parse_time("received_since", &t))
            .transpose()?,
        received_until: received_until
            .map(|t| crate::billing::parse_time("received_until", &t))
            .transpose()?,
        tag,
        own_member: None,
    })
}

/// Conversation records in creation order, with cursor pagination: by state, owner,
/// receiving member, reception time and tag. A key that acts as a member whose data scope is
/// `own` lists only the conversations that member received or owns.
#[utoipa::path(get, path = "/v1/conversations", operation_id = "list_conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = ConversationPage), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ConversationPage>, ApiError> {
    let q = super::paging::query(query)?;
    let limit = PAGE_SIZE.limit(q.limit)?;
    let rq = record_query(
        q.state,
        q.owner,
        q.received_by,
        q.received_since,
        q.received_until,
        q.tag,
    )?;
    Ok(Json(
        gw.list_conversations(ws, viewer, rq, q.cursor, limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Only those this member owns.
    pub owner: Option<String>,
    /// Only those this member received (took first).
    pub received_by: Option<String>,
    /// Received at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub received_since: Option<String>,
    /// Received before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub received_until: Option<String>,
    /// Only those carrying this tag (by name).
    pub tag: Option<String>,
}

/// The dashboard: ongoing (not finished), ended and all conversations, in the caller's
/// scope and the filters given. Counted from the conversations as they are now.
#[utoipa::path(get, path = "/v1/conversations/summary", operation_id = "conversation_summary", tag = "conversations", params(SummaryQuery),
    responses((status = 200, body = ConversationTotals), (status = 400, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn summary(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Result<Json<ConversationTotals>, ApiError> {
    let q = super::paging::query(query)?;
    let rq = record_query(
        None,
        q.owner,
        q.received_by,
        q.received_since,
        q.received_until,
        q.tag,
    )?;
    Ok(Json(gw.conversation_totals(ws, viewer, rq).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start (inclusive): RFC 3339 or `YYYY-MM-DD`; default 24 hours before `until`.
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub since: Option<String>,
    /// End (exclusive): RFC 3339 or `YYYY-MM-DD`; default now.
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub until: Option<String>,
    /// Only this member's figures. A key acting as a member who sees only their own data
    /// gets theirs, and 403 for anyone else's.
    pub member: Option<String>,
}

/// Conversation figures over a window (default the past 24 hours): finished, active and
/// answered conversations, average response and handling times (`docs/conversations.md`).
#[utoipa::path(get, path = "/v1/conversations/stats", operation_id = "conversation_stats", tag = "conversations", params(StatsQuery),
    responses((status = 200, body = ConversationStats), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn stats(
    State(gw): State<Arc<Gateway>>,
    ReadAs(ws, viewer): ReadAs,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<ConversationStats>, ApiError> {
    let q = super::paging::query(query)?;
    let until = match &q.until {
        Some(t) => crate::billing::parse_time("until", t)?,
        None => switchboard_gateway::model::now_ms(),
    };
    let since = match &q.since {
        Some(t) => crate::billing::parse_time("since", t)?,
        None => until - 24 * 3_600_000,
    };
    let member = match (&viewer.own_only, q.member) {
        (None, member) => member,
        (Some(me), None) => Some(me.clone()),
        (Some(me), Some(asked)) if asked == *me => Some(asked),
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "this key's member sees only their own figures",
            )
            .field("member"));
        }
    };
    Ok(Json(
        gw.conversation_stats(ws, since, until.max(since), member)
            .await?,
    ))
}
