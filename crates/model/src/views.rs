use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Category, Content, FailureReason, Recipient, Status};

/// The answer to an accepted `POST /v1/messages`: the message is durably committed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[schema(example = json!({"id": "msg_01a24b38a944724da746e1ad114bbb47", "status": "queued"}))]
pub struct Accepted {
    pub id: String,
    pub status: Status,
}

/// A message with every delivery, attempt and status change.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub workspace: String,
    pub channel: String,
    /// The overall status across the message's deliveries.
    pub status: Status,
    /// `failed` because a delivery ran out of attempts on a retryable failure: a dead
    /// letter, listed by `GET /v1/messages?exhausted=true` and resent in bulk by
    /// `POST /v1/messages/redrive`.
    pub exhausted: bool,
    pub to: Recipient,
    pub content: Content,
    pub category: Category,
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// The sender the message named (email); absent when it goes out from the connection's
    /// own sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<crate::Sender>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The contact this message went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The failed message this one resends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resend_of: Option<String>,
    /// For a message sent through a policy: every step and channel, and the outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteView>,
    pub created_at: String,
    pub updated_at: String,
    pub deliveries: Vec<DeliveryView>,
}

/// One channel's attempt chain for a message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub channel: String,
    pub connection: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// Billable product from the plugin's quote, e.g. `sms`, `lms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// When the next attempt is due, while a retry is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<AttemptView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureView>,
    /// What the send cost the wallet, once it was dispatched; absent for free sends and
    /// sends never dispatched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<DeliveryCost>,
    pub timeline: Vec<TimelineEntry>,
}

/// The wallet's side of one delivery, in integer micro-units of the wallet's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct DeliveryCost {
    /// Units times the unit price.
    pub micros: i64,
    pub unit_price_micros: i64,
    pub units: u32,
    pub currency: String,
    /// `held` (sending), `captured` (the provider accepted it: charged), `released` (never
    /// sent: nothing charged) or `refunded` (accepted, then reported failed: given back).
    pub state: String,
    /// How much of it came from the monthly free credit, and how much from the paid balance.
    pub from_credit_micros: i64,
    pub from_paid_micros: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The provider accepted the message.
    Accepted,
    /// Failed; another attempt is scheduled.
    RetryScheduled,
    /// Failed; no more attempts.
    Failed,
    /// The answer was lost after the request went out (a timeout, a reset): the provider
    /// may have the message. Before anything is sent again the provider is asked, where it
    /// can be (`find-sent`); the timeline says what it answered.
    Unknown,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Accepted => "accepted",
            AttemptOutcome::RetryScheduled => "retry_scheduled",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            AttemptOutcome::Accepted,
            AttemptOutcome::RetryScheduled,
            AttemptOutcome::Failed,
            AttemptOutcome::Unknown,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One call to the provider through the plugin.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AttemptView {
    pub number: u32,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: i64,
    pub outcome: AttemptOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The provider's Retry-After hint, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// Why a delivery failed, and what can be done about it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct FailureView {
    pub reason: FailureReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<String>,
    pub detail: String,
    /// Whether the failure was of a kind the gateway retries (it ran out of attempts).
    pub retryable: bool,
    /// The gateway retried until its attempts ran out (`--max-attempts`).
    pub exhausted: bool,
    /// Whether `POST /v1/messages/{id}/resend` is allowed now, and if not, when it will be.
    pub resend: ResendView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ResendView {
    pub allowed: bool,
    pub when: ResendWhen,
    /// The earliest time a resend is allowed, for time-bound reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    pub detail: String,
}

/// What a resend waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResendWhen {
    /// Allowed now.
    Now,
    /// Refused forever: the same message fails the same way.
    Never,
    /// After the contact writes again (the messaging window reopens).
    AfterUserInteraction,
    /// After the connection is reconnected with new credentials.
    AfterReconnect,
    /// After the message's URLs are off the connection's block list.
    AfterUrlUnblocked,
    /// After `not_before`.
    AfterTime,
    /// The message was resent already.
    AlreadyResent,
}

/// A URL a connection refuses to send (the provider flagged it).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct BlockedUrlView {
    pub url: String,
    pub reason: String,
    /// The message whose failure put it on the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub added_at: String,
}

/// A status change, with where it came from: `api`, `dispatcher` or `provider`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct TimelineEntry {
    pub status: Status,
    pub at: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// False when the event arrived late or out of order and did not change the status.
    pub applied: bool,
}

/// A page of messages, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "msg_01a24b38a944724da746e1ad114bbb47",
        "channel": "sms",
        "status": "delivered",
        "to": {"phone": "+15551234567", "country": "US"},
        "created_at": "2026-12-06T11:40:00.000Z",
        "updated_at": "2026-12-06T11:40:01.250Z"
    }],
    "next_cursor": "msg_01a24b38a944724da746e1ad114bbb47"
}))]
pub struct MessagePage {
    pub data: Vec<MessageSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct MessageSummary {
    pub id: String,
    pub channel: String,
    pub status: Status,
    /// Failed because its attempts ran out (see [`MessageView::exhausted`]).
    pub exhausted: bool,
    pub to: Recipient,
    pub created_at: String,
    pub updated_at: String,
}

/// A problem with a message, addressed by a JSON path such as `content.text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Violation {
    pub code: String,
    pub field: String,
    pub message: String,
}

/// `POST /v1/messages/preview`: what would happen, without sending.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Preview {
    pub valid: bool,
    pub violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// What sending it would cost now, by the price table; absent when no price applies
    /// (free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::CostQuote>,
}

/// A loaded channel plugin and its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct PluginView {
    pub name: String,
    pub channel: String,
    pub version: String,
    /// The plugin API (WIT contract) version it was built against.
    pub api_version: String,
    /// `bundled` or the file it was loaded from.
    pub source: String,
    pub capabilities: Vec<String>,
    pub config_keys: Vec<ConfigKeyView>,
    pub outbound_hosts: Vec<String>,
    pub limits: ContentLimitsView,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConfigKeyView {
    pub name: String,
    pub secret: bool,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ContentLimitsView {
    pub max_text_bytes: u32,
    pub max_subject_bytes: u32,
    pub max_media: u32,
    pub max_media_bytes: u64,
    pub max_carousel_elements: u32,
    pub max_buttons: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct PluginList {
    pub data: Vec<PluginView>,
    /// Plugins from `--plugins-dir` that were not loaded because this gateway does not
    /// support the plugin API version they were built against.
    pub refused: Vec<RefusedPluginView>,
}

/// A plugin refused at load, and why.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RefusedPluginView {
    /// The file it was read from.
    pub source: String,
    /// Names the plugin, the API version it declares and the versions this gateway supports.
    pub error: String,
}

/// A channel connection as the API shows it: config values, secret names only.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    pub channel: String,
    pub plugin: String,
    pub name: String,
    /// `active`; `needs_reconnect` after the provider rejected its credentials (PATCH new
    /// secrets to reconnect); `disabled` by the workspace.
    pub status: String,
    /// Why, for `needs_reconnect`: the provider's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// Where the provider must send callbacks for this connection.
    pub webhook_url: String,
    pub config: BTreeMap<String, String>,
    /// Names of the secrets set; their values never leave the gateway.
    pub secrets: Vec<String>,
    /// Sends to this provider in flight at once.
    pub max_in_flight: u32,
    /// The connection's plugin calls that are quarantined for faulting call after call: they
    /// are not made (messages retry later with `plugin_quarantined`). Absent when none are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine: Vec<QuarantineView>,
    /// `two_way` (the default): a customer's message opens or feeds their conversation.
    /// `one_way`: it opens none and is kept as the contact's `inbound_refused` event; sends
    /// still work. Admins change it; `GET /v1/connections/{id}/chat-changes` says who did.
    pub chat: super::ChatMode,
    /// On a `one_way` connection, what answers a customer who writes, at most once per
    /// contact in 24 hours. Absent when none is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_auto_reply: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A connection's plugin quarantine (see `--quarantine-after`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct QuarantineView {
    /// Which plugin export: `validate` (intake), `send`, `handle-webhook` or `sync-contacts`.
    pub calls: String,
    /// Calls are refused until then; the first call after it is a probe, and its outcome
    /// ends the quarantine or doubles the period.
    pub until: String,
    /// The current period.
    pub backoff_ms: u64,
    /// Faulting calls in a row (refused calls are not counted).
    pub consecutive_faults: u32,
    /// What the last faulting call reported.
    pub last_fault: String,
}

/// How a routed message went: the policy's steps as they ran.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RouteView {
    pub policy: String,
    /// `running`, `succeeded` (a step met its condition) or `failed` (every step failed,
    /// timed out or was skipped).
    pub outcome: String,
    pub steps: Vec<RouteStepView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RouteStepView {
    pub index: u32,
    /// The success condition: `accepted`, `delivered` or `seen`.
    pub until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// `pending`, `running`, `succeeded`, `failed`, `timed_out`, `skipped` or `stopped` (never
    /// run: an earlier step failed with a reason that does not fall back).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub channels: Vec<RouteEntryView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RouteEntryView {
    /// Parallel lanes are numbered from 0; channels of a first-of group share a lane.
    pub lane: u32,
    pub channel: String,
    /// `waiting`, `active`, `succeeded`, `failed`, `skipped`, `timed_out` (the step ran out of
    /// time while this channel was under way) or `stopped` (never tried).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// The delivery's current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Why the channel was not used: `no_connection`, `no_address`, `opted_out`,
    /// `invalid_format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_detail: Option<String>,
    /// The condition was met only after the step had timed out: recorded, triggers nothing.
    pub late: bool,
}

/// Everything a resend decision depends on, as of now.
#[derive(Debug, Clone, Default)]
pub struct ResendFacts {
    pub failed_at: Option<crate::Millis>,
    /// The contact's last inbound activity on the delivery's address.
    pub last_inbound_at: Option<crate::Millis>,
    pub connection_active: bool,
    pub reconnected_at: Option<crate::Millis>,
    /// The message's URLs that are on the connection's block list.
    pub blocked_urls: Vec<String>,
    /// The message that already resent this one.
    pub resent_as: Option<String>,
}
