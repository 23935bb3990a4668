//! Results (what a bot or a form submits) and the notification rules that decide whom each
//! result notifies.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Recipient;

/// Whom a matching result notifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(untagged)]
pub enum Target {
    Email(EmailTarget),
    Member(MemberTarget),
    Connection(ConnectionTarget),
    WebhookEndpoint(WebhookEndpointTarget),
}

/// A `result.notification` event to this webhook endpoint only, signed and retried like every
/// event it receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointTarget {
    #[schema(min_length = 1)]
    pub webhook_endpoint: String,
}

/// An email to this address, through the workspace's email channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTarget {
    #[schema(
        min_length = 5,
        max_length = 254,
        pattern = "^[^@ \\t\\r\\n]+@[^@ \\t\\r\\n]+\\.[^@ \\t\\r\\n]+$"
    )]
    pub email: String,
}

/// A member: an item in their inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberTarget {
    #[schema(min_length = 1)]
    pub member: String,
}

/// A message on this channel connection, to this recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTarget {
    #[schema(min_length = 1)]
    pub connection: String,
    pub to: Recipient,
}

/// A condition: `true`, `false`, or a JSONLogic operator object (`docs/rules.md`).
pub fn condition_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .min_properties(Some(1))
                .max_properties(Some(1)),
        )
        .build()
        .into()
}

/// `POST /v1/notification-rules`, `PUT /v1/notification-rules/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "cottages to mailbox A",
    "condition": {"==": [{"var": "values.housingType"}, "cottage"]},
    "targets": [{"email": "mailbox-a@example.com"}]
}))]
pub struct NewRule {
    #[schema(min_length = 1, max_length = 100, pattern = "[^ \\t\\n\\r]")]
    pub name: String,
    /// A JSONLogic condition on `{form, values, contact, conversation}` (`docs/rules.md`).
    #[schema(schema_with = condition_schema)]
    pub condition: Value,
    #[schema(min_items = 1, max_items = 20)]
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    #[schema(schema_with = condition_schema)]
    pub condition: Value,
    pub targets: Vec<Target>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /v1/results`: what a bot or a form collected.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"form": "lead", "values": {"intent": "seller", "housingType": "cottage"}}))]
pub struct NewResult {
    /// The form's name.
    #[schema(min_length = 1, max_length = 100, pattern = "[^ \\t\\n\\r]")]
    pub form: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    /// The contact it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The conversation it came from (a contact id names it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
}

/// One target a result notified.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub rule: String,
    pub rule_name: String,
    pub target: Target,
    /// `pending` (not handed on yet), `sent` (a message was committed: see `message_status`),
    /// `delivered` (an inbox item) or `failed` (see `detail`).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The message's overall status, as `GET /v1/messages/{id}` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ResultView {
    pub id: String,
    pub form: String,
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    pub created_at: String,
    pub notifications: Vec<NotificationView>,
}

/// An item of a member's inbox.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct InboxItem {
    pub id: String,
    /// `result`.
    pub kind: String,
    pub title: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: String,
}
