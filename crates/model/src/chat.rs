//! The two-way chat switch of a connection, as values: the mode, the auto-reply, who changed
//! them, and the contact events a refused inbound message leaves. What the switch does to an
//! inbound message is the gateway's (`chat_switch/`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether customers can write in on a connection.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChatMode {
    /// A customer's message opens (or feeds) their conversation.
    #[default]
    TwoWay,
    /// The business sends only: a customer's message opens no conversation and is kept as a
    /// contact event `inbound_refused` (reason `chat_disabled`).
    OneWay,
}

impl ChatMode {
    pub const ALL: [ChatMode; 2] = [ChatMode::TwoWay, ChatMode::OneWay];

    pub fn as_str(self) -> &'static str {
        match self {
            ChatMode::TwoWay => "two_way",
            ChatMode::OneWay => "one_way",
        }
    }

    pub fn parse(s: &str) -> Option<ChatMode> {
        ChatMode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for ChatMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection's chat setting as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatSetting {
    pub mode: ChatMode,
    /// What answers a customer who writes to a `one_way` connection.
    pub auto_reply: Option<String>,
}

/// One change of a connection's chat setting: the setting it left, who made it and when.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ChatChangeView {
    pub chat: ChatMode,
    /// The auto-reply after the change; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_auto_reply: Option<String>,
    /// `api_key` (through the API; `api_key` names the key) or `member` (in the console;
    /// `member` names them).
    #[schema(schema_with = changed_by_schema)]
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub at: String,
}

fn changed_by_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["api_key", "member"]))
        .build()
}

/// Something a contact did that is kept outside any conversation, oldest first in their
/// events. Today one kind: `inbound_refused`, a message that reached a `one_way` connection
/// (reason `chat_disabled`), with what it said.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ContactEventView {
    pub id: String,
    #[schema(schema_with = event_kind_schema)]
    pub kind: String,
    #[schema(schema_with = event_reason_schema)]
    pub reason: String,
    /// The connection it came through.
    pub connection: String,
    /// The provider's id of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// What the message said (its text, else a line per attachment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The payload of the button or quick reply the contact chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The connection's auto-reply this message was answered with: at most one per contact
    /// and connection in 24 hours, so most refused messages have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_reply: Option<AutoReplyView>,
    pub at: String,
}

fn event_kind_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["inbound_refused"]))
        .build()
}

fn event_reason_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["chat_disabled"]))
        .build()
}

/// An auto-reply: decided in the commit of the message it answers, then sent as a normal
/// message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AutoReplyView {
    /// `pending` (decided, not yet committed as a message), `sent` (a message: see
    /// `message`) or `failed` (the message could not be accepted; `detail` says why).
    #[schema(schema_with = auto_reply_state_schema)]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn auto_reply_state_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "sent", "failed"]))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_back_as_written() {
        for m in ChatMode::ALL {
            assert_eq!(ChatMode::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(ChatMode::parse("off"), None);
        assert_eq!(ChatMode::default(), ChatMode::TwoWay);
    }
}
