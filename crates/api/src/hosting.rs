//! `POST /v1/conversations/hosting`: switch bot hosting on or off for a batch of
//! conversations, or for every assigned one (see [`switchboard_gateway::hosting`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

use super::auth::SendKey;
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::hosting::{HostingTarget, MAX_IDS};

/// Which conversations to switch (`ids`, or `all_assigned`: exactly one of them), to what,
/// and who switched them.
///
/// `ids` and `all_assigned` are `Some` when the key is present, even as `null`: the document
/// allows neither beside the other, nor as `null`, so a `null` is refused, not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostingSwitch {
    #[serde(default, deserialize_with = "present")]
    pub ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub all_assigned: Option<Option<bool>>,
    pub hosted: bool,
    #[serde(default)]
    pub member: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` when the key is absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

// Documented by hand: serde reads one struct (so a mistake is named by its field), but the
// body is one of two shapes, and the document says so, so a client cannot send both or
// neither and believe it valid.
impl utoipa::PartialSchema for HostingSwitch {
    fn schema() -> RefOr<Schema> {
        let shape = |key: &str, value: Schema| -> Schema {
            ObjectBuilder::new()
                .property(key, value)
                .required(key)
                .property(
                    "hosted",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .description(Some("On: the workspace's automations answer them.")),
                )
                .required("hosted")
                .property(
                    "member",
                    crate::openapi::or_null(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .description(Some(
                                "The member who switches them (recorded as `by: member`); \
                                 without it (or `null`) the switch is recorded as `by: api`.",
                            ))
                            .build(),
                    ),
                )
                .additional_properties(Some(
                    utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                ))
                .into()
        };
        let ids: Schema = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .min_items(Some(1))
            .max_items(Some(MAX_IDS))
            .description(Some(
                "Conversation ids or contact ids (either names a conversation, as in the \
                 conversation paths).",
            ))
            .into();
        let all: Schema = ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([true]))
            .description(Some(
                "Every conversation of the workspace that has an owner and is not finished.",
            ))
            .into();
        OneOfBuilder::new()
            .item(shape("ids", ids))
            .item(shape("all_assigned", all))
            .description(Some(
                "Switch bot hosting: `ids` (1 to 1000) or `all_assigned: true`, exactly one.",
            ))
            .into()
    }
}

impl ToSchema for HostingSwitch {}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostingSwitched {
    /// How many conversations' flag changed (one already at `hosted` is not a change).
    pub changed: u64,
}

/// Switch bot hosting on or off: for the conversations `ids` names, or for every assigned
/// one (`all_assigned`: an owner, not finished). All or nothing: an unknown id or member
/// changes nothing. Each change is a `conversation.hosting_changed` event and a line of the
/// conversation's `hosting` history.
#[utoipa::path(post, path = "/v1/conversations/hosting", operation_id = "switch_conversation_hosting", tag = "conversations", request_body = HostingSwitch,
    responses((status = 200, body = HostingSwitched), (status = 404, description = "An id names no conversation of the workspace (the field says which), or no such member", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn switch(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<HostingSwitched>, ApiError> {
    let s: HostingSwitch = parse_json(&read_body(b)?)?;
    let target = match (s.ids, s.all_assigned) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "all_assigned",
                "give ids or all_assigned, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "ids",
                "give ids (1 to 1000 conversations) or all_assigned: true",
            ));
        }
        (None, Some(Some(true))) => HostingTarget::AllAssigned,
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "all_assigned",
                "must be true; name the conversations with ids instead",
            ));
        }
        (Some(None), None) => {
            return Err(ApiError::invalid(
                "ids",
                format!("must be a list of 1 to {MAX_IDS} ids"),
            ));
        }
        (Some(Some(ids)), None) => {
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(ApiError::invalid(
                    "ids",
                    format!("give 1 to {MAX_IDS} ids (got {})", ids.len()),
                ));
            }
            HostingTarget::Ids(ids)
        }
    };
    let changed = gw.switch_hosting(ws, target, s.hosted, s.member).await?;
    Ok(Json(HostingSwitched {
        changed: changed as u64,
    }))
}
