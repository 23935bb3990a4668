//! Conversation records (SaleSmartly's session management): each conversation with its
//! message counts, first response time and reception, the workspace's tags, and the
//! dashboard's totals.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ConversationSummary;

/// What a record adds to a conversation. The counts and firsts move with the messages and
/// events that make them, in the same commit; nothing recounts them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationFigures {
    /// The contact as the caller's lists name them: the note name first, or the visitor
    /// label (the member's `list_label`).
    pub display_name: String,
    /// Every message in the conversation: the visitor's, the agents' and the bot's.
    pub message_count: i64,
    /// Messages the visitor (the customer) wrote.
    pub visitor_messages: i64,
    /// Messages agents wrote, here or in the provider's own inbox.
    pub agent_messages: i64,
    /// How long the visitor waited for the first agent answer (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_ms: Option<i64>,
    /// The member who received it: the first to take it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    /// When they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// Its tags, by name.
    pub tags: Vec<String>,
}

/// A conversation as the records list it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationRecord {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    #[serde(flatten)]
    pub figures: ConversationFigures,
}

/// The dashboard: conversations in the caller's scope.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationTotals {
    /// Not finished.
    pub ongoing: i64,
    /// Finished.
    pub ended: i64,
    pub total: i64,
}

/// A conversation tag of the workspace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct TagView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many conversations carry it.
    pub conversations: i64,
    pub created_at: String,
}

/// `POST /v1/conversation-tags`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "vip", "color": "#d97706"}))]
pub struct NewTag {
    /// 1 to 64 characters, not blank, unique in the workspace.
    #[schema(min_length = 1, max_length = 64, pattern = "[^ \\t\\n\\r]")]
    pub name: String,
    /// `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

impl From<NewTag> for TagInput {
    fn from(t: NewTag) -> TagInput {
        TagInput {
            name: Some(t.name),
            color: t.color,
            description: t.description,
        }
    }
}

/// `PATCH /v1/conversation-tags/{id}`: fields left out stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "vip", "color": "#d97706"}))]
pub struct TagInput {
    /// 1 to 64 characters, not blank, unique in the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 64, pattern = "[^ \\t\\n\\r]")]
    pub name: Option<String>,
    /// `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// `POST /v1/conversations/{contact}/tags`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tags": ["vip"]}))]
pub struct TagsInput {
    /// Names of the workspace's tags.
    #[schema(min_items = 1, max_items = 50)]
    pub tags: Vec<String>,
}
