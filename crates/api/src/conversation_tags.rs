//! `/v1/conversation-tags`: the workspace's conversation tags (admins manage them), and
//! `/v1/conversations/{contact}/tags`: the tags on one conversation (see
//! [`switchboard_gateway::conversations::tags`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{AdminKey, ReadKey, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::conversations::tags::TagError;
use switchboard_gateway::model::{NewTag, TagInput, TagView, TagsInput};

impl From<TagError> for ApiError {
    fn from(e: TagError) -> Self {
        match e {
            TagError::Invalid { field, .. } => ApiError::invalid(field, e.to_string()),
            TagError::Duplicate(_) => {
                ApiError::new(StatusCode::CONFLICT, "duplicate_tag", e.to_string()).field("name")
            }
            TagError::NotFound => ApiError::not_found("tag"),
            TagError::NoConversation => ApiError::not_found("conversation"),
            TagError::UnknownTag(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_reference",
                e.to_string(),
            )
            .field("tags"),
            TagError::Store(e) => e.into(),
        }
    }
}

/// The workspace's conversation tags, by name.
#[utoipa::path(get, path = "/v1/conversation-tags", operation_id = "list_conversation_tags", tag = "conversations",
    responses((status = 200, body = Vec<TagView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
) -> Result<Json<Vec<TagView>>, ApiError> {
    Ok(Json(gw.list_tags(ws).await?))
}

/// Add a tag to the workspace. A name it already has answers 409 `duplicate_tag`.
#[utoipa::path(post, path = "/v1/conversation-tags", operation_id = "create_conversation_tag", tag = "conversations",
    request_body = NewTag,
    responses((status = 201, body = TagView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<TagView>), ApiError> {
    let input: NewTag = parse_json(&read_body(b)?)?;
    Ok((
        StatusCode::CREATED,
        Json(gw.create_tag(ws, input.into()).await?),
    ))
}

/// A tag, by its id or its name.
#[utoipa::path(get, path = "/v1/conversation-tags/{id}", operation_id = "get_conversation_tag", tag = "conversations",
    params(("id" = String, Path, description = "Tag id (or name)")),
    responses((status = 200, body = TagView), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<TagView>, ApiError> {
    Ok(Json(gw.get_tag(ws, id).await?))
}

/// Change a tag's name, colour or description; fields left out stay. A new name follows the
/// tag onto every conversation that carries it.
#[utoipa::path(patch, path = "/v1/conversation-tags/{id}", operation_id = "update_conversation_tag", tag = "conversations",
    params(("id" = String, Path, description = "Tag id (or name)")), request_body = TagInput,
    responses((status = 200, body = TagView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<TagView>, ApiError> {
    let input: TagInput = parse_json(&read_body(b)?)?;
    Ok(Json(gw.update_tag(ws, id, input).await?))
}

/// Delete a tag: it comes off every conversation that carried it.
#[utoipa::path(delete, path = "/v1/conversation-tags/{id}", operation_id = "delete_conversation_tag", tag = "conversations",
    params(("id" = String, Path, description = "Tag id (or name)")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    gw.delete_tag(ws, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A conversation's tags after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationTags {
    pub tags: Vec<String>,
}

/// Put workspace tags on a conversation; those it carries already stay. A name the workspace
/// lacks answers 422 `unknown_reference`.
#[utoipa::path(post, path = "/v1/conversations/{contact}/tags", operation_id = "tag_conversation", tag = "conversations",
    params(("contact" = String, Path, description = "Contact id (or the conversation's id)")), request_body = TagsInput,
    responses((status = 200, body = ConversationTags), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn tag(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(contact): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<ConversationTags>, ApiError> {
    let input: TagsInput = parse_json(&read_body(b)?)?;
    if input.tags.is_empty() || input.tags.len() > 50 {
        return Err(ApiError::invalid("tags", "give 1 to 50 tag names"));
    }
    Ok(Json(ConversationTags {
        tags: gw.tag_conversation(ws, contact, input.tags).await?,
    }))
}

/// Take a tag off a conversation. A tag it does not carry is not found.
#[utoipa::path(delete, path = "/v1/conversations/{contact}/tags/{tag}", operation_id = "untag_conversation", tag = "conversations",
    params(("contact" = String, Path, description = "Contact id (or the conversation's id)"),
        ("tag" = String, Path, description = "Tag name")),
    responses((status = 200, body = ConversationTags), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn untag(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path((contact, tag)): Path<(String, String)>,
) -> Result<Json<ConversationTags>, ApiError> {
    Ok(Json(ConversationTags {
        tags: gw.untag_conversation(ws, contact, tag).await?,
    }))
}
