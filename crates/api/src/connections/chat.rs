//! The two-way chat switch over the API: `chat` and `chat_auto_reply` on
//! `PATCH /v1/connections/{id}` (an admin key, recorded by its id), and the history at
//! `GET /v1/connections/{id}/chat-changes` (see [`switchboard_gateway::chat_switch`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::chat_switch::{AUTO_REPLY_MAX, ChatActor, ChatChange, check_auto_reply};
use switchboard_gateway::model::{ChatChangeView, ChatMode};
use switchboard_gateway::runtime::LoadedPlugin;

use crate::auth::ReadKey;
use crate::error::{ApiError, ErrorBody};

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
pub(super) fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

pub(super) fn auto_reply_schema() -> utoipa::openapi::schema::Schema {
    let mut text = crate::error::not_blank_schema();
    text.max_length = Some(AUTO_REPLY_MAX);
    crate::openapi::or_null(text)
}

/// The patch's chat change, checked against the connection's channel, made by `key_id`.
pub(super) fn change(
    plugin: &LoadedPlugin,
    mode: Option<ChatMode>,
    auto_reply: Option<Option<String>>,
    key_id: String,
) -> Result<Option<ChatChange>, ApiError> {
    if let Some(Some(text)) = &auto_reply {
        check_auto_reply(&plugin.manifest.limits, plugin.channel(), text)?;
    }
    if mode.is_none() && auto_reply.is_none() {
        return Ok(None);
    }
    Ok(Some(ChatChange {
        mode,
        auto_reply,
        by: ChatActor::ApiKey(key_id),
    }))
}

/// A connection's two-way chat changes, oldest first: the setting each left, and who made it
/// (`api_key` with the key's id, or `member` for a console admin).
#[utoipa::path(get, path = "/v1/connections/{id}/chat-changes", operation_id = "list_connection_chat_changes", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = Vec<ChatChangeView>), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn chat_changes(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<Vec<ChatChangeView>>, ApiError> {
    gw.chat_changes(ws, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("connection"))
}
