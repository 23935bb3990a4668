//! Contacts as the API shows them, and how a message's recipient maps to a contact address.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Recipient;

/// One address of a contact, as the store keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressKey {
    pub workspace_id: String,
    /// `phone`, `email`, `psid` or `push`.
    pub kind: String,
    /// The connection for page-scoped ids (a PSID means nothing on another page), empty for
    /// global addresses.
    pub scope: String,
    pub address: String,
}

impl AddressKey {
    /// The address a message on `channel` goes to. Channels read the recipient field they
    /// need; the well-known ones are listed, and any other channel uses the first address the
    /// recipient has.
    pub fn for_message(
        workspace_id: &str,
        channel: &str,
        connection_id: &str,
        to: &Recipient,
    ) -> Option<AddressKey> {
        let psid = || to.psid.clone().map(|a| ("psid", connection_id, a));
        let phone = || to.phone.clone().map(|a| ("phone", "", a));
        let email = || to.email.clone().map(|a| ("email", "", a));
        let push = || to.push_token.clone().map(|a| ("push", "", a));
        let (kind, scope, address) = match channel {
            "messenger" => psid(),
            "sms" | "alimtalk" => phone(),
            "email" => email(),
            "push" => push(),
            _ => phone().or_else(email).or_else(psid).or_else(push),
        }?;
        Some(AddressKey {
            workspace_id: workspace_id.to_string(),
            kind: kind.to_string(),
            scope: scope.to_string(),
            address,
        })
    }

    /// What a person typed to find an address, in the form deliveries store it: trimmed, and
    /// a phone number without the spaces, dashes, dots and brackets people write it with
    /// (`+1 (415) 555-0100` finds `+14155550100`). Anything else is kept as typed.
    pub fn search_form(typed: &str) -> String {
        let typed = typed.trim();
        let phone_like = typed
            .chars()
            .all(|c| c.is_ascii_digit() || "+-(). ".contains(c))
            && typed.chars().filter(char::is_ascii_digit).count() >= 3;
        if phone_like {
            typed
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect()
        } else {
            typed.to_string()
        }
    }

    /// The recipient field this address came from, for error messages.
    pub fn field(&self) -> &'static str {
        match self.kind.as_str() {
            "psid" => "to.psid",
            "phone" => "to.phone",
            "email" => "to.email",
            _ => "to.push_token",
        }
    }
}

/// `POST /v1/contacts`: a person and the addresses they can be reached at. Addresses already
/// known join this contact; a push token registered again becomes valid again.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Ada Lovelace",
    "addresses": [
        {"kind": "phone", "address": "+14155550100"},
        {"kind": "email", "address": "ada@example.com"}
    ]
}))]
pub struct NewContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schema(min_items = 1)]
    pub addresses: Vec<NewAddress>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAddress {
    pub kind: AddressKind,
    #[schema(min_length = 1)]
    pub address: String,
    /// For `psid`: the page's connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// For `push`: `android` or `ios`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    Phone,
    Email,
    Psid,
    Push,
}

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Phone => "phone",
            AddressKind::Email => "email",
            AddressKind::Psid => "psid",
            AddressKind::Push => "push",
        }
    }
}

impl NewContact {
    pub fn address_keys(&self, workspace_id: &str) -> Vec<(AddressKey, Option<String>)> {
        self.addresses
            .iter()
            .map(|a| {
                (
                    AddressKey {
                        workspace_id: workspace_id.to_string(),
                        kind: a.kind.as_str().to_string(),
                        scope: a.connection.clone().unwrap_or_default(),
                        address: a.address.clone(),
                    },
                    a.platform.clone(),
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ContactView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub addresses: Vec<AddressView>,
    /// The contact's first and latest interaction: a message or a postback, at the provider's
    /// time (a read receipt is not one: it would also reopen Messenger's messaging window,
    /// which only the person's own message opens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_active_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<String>,
    /// Messages the contact has sent, on every channel.
    pub inbound_messages: u64,
    /// True when the contact has not interacted for more than 24 hours (or never has).
    pub inactive: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AddressView {
    pub kind: String,
    pub address: String,
    /// The page connection a PSID belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// False once the provider said this address is dead (e.g. an unregistered push token):
    /// it is never used again.
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ContactPage {
    pub data: Vec<ContactView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ContactHistoryEntry {
    pub connection: String,
    pub provider_message_id: String,
    /// `inbound` (from the contact) or `outbound`.
    pub direction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub at: String,
    /// `webhook` or `sync`.
    pub source: String,
}

/// A contact's conversation with the business's agents, and their presence.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub contact: String,
    /// `agent` or `customer`: who wrote first.
    pub started_by: String,
    /// The connection the customer last wrote through, when a message came from a provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// That connection's channel (`messenger`, `sms`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `online`, `offline` or `unknown` (no activity recorded).
    pub presence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activity_at: Option<String>,
    /// `unanswered`, `active` or `finished`.
    pub state: String,
    /// The member who owns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Since when the customer has waited for an agent's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<String>,
    /// Whether the workspace's automations answer it (bot hosting).
    pub hosted: bool,
    pub messages: Vec<ConversationMessageView>,
    /// Every transition: `opened`, `taken`, `overtaken`, `answered`, `finished`, `reopened`,
    /// `handed_over`.
    pub history: Vec<ConversationEventView>,
    /// Every switch of `hosted`, oldest first (a new conversation's starting value, the
    /// workspace's `hosting_default`, is none).
    pub hosting: Vec<HostingChangeView>,
    #[serde(flatten)]
    pub figures: crate::ConversationFigures,
}

/// One switch of a conversation's bot hosting.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct HostingChangeView {
    pub hosted: bool,
    /// The member who switched it: none for an API call that named no member, or an
    /// automation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// `member` (a member, through the API or the console), `api` (an API call naming no
    /// member) or `automation`.
    #[schema(schema_with = hosting_by_schema)]
    pub by: String,
    pub at: String,
}

fn hosting_by_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["member", "api", "automation"]))
        .build()
}

/// One transition of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationEventView {
    pub kind: String,
    /// The member who acted (none for the customer, or an agent message without `member`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Who owned it before an overtake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_owner: Option<String>,
    /// `answered`: how long the customer waited; `finished`: how long the round took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    pub at: String,
}

/// A conversation as listed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationSummary {
    pub id: String,
    pub contact: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When it entered its state.
    pub state_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<String>,
    /// Whether the workspace's automations answer it (bot hosting).
    pub hosted: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationPage {
    pub data: Vec<crate::ConversationRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Conversation figures over a window (`docs/conversations.md` defines each).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationStats {
    pub since: String,
    pub until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Conversations finished in the window.
    pub finished: i64,
    /// Conversations active at the window's end.
    pub active: i64,
    /// Conversations in which an agent answered a waiting customer in the window.
    pub answered: i64,
    /// Mean time from a customer's first unanswered message to the agent's answer, over the
    /// answers in the window (ms, rounded down); none without answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_response_ms: Option<i64>,
    /// Mean time from the start of a round (the first message) to its finish, over the
    /// conversations finished in the window (ms, rounded down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_handling_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConversationMessageView {
    pub id: i64,
    /// `agent` or `customer`.
    pub author: String,
    pub text: String,
    pub marketing: bool,
    pub at: String,
    /// When the customer saw it (agent messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<String>,
    /// The follow-up notification that carried it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    /// An agent message written outside Switchboard (the provider's own inbox, another app),
    /// seen through the provider's echo; written by no member.
    pub off_platform: bool,
    /// The payload of the button or quick reply the customer chose: a click, not typed text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The connection it came through, for messages from a provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

#[cfg(test)]
mod search_form_tests {
    use super::AddressKey;

    #[test]
    fn phones_lose_their_punctuation_and_the_rest_is_kept() {
        assert_eq!(
            AddressKey::search_form(" +1 (415) 555-0100 "),
            "+14155550100"
        );
        assert_eq!(AddressKey::search_form("010.1234.5678"), "01012345678");
        assert_eq!(
            AddressKey::search_form("Ada@Example.com"),
            "Ada@Example.com"
        );
        assert_eq!(
            AddressKey::search_form("9000000000000001"),
            "9000000000000001"
        );
        assert_eq!(AddressKey::search_form("a-b"), "a-b");
    }
}
