//! Automations as written: a trigger, an optional condition and a graph of steps with named
//! branches (`docs/automations.md`). Value types only: what a run *does* lives in the
//! gateway's automations service.
//!
//! Each step is an object with an `id`, exactly one kind (`send`, `wait`, `ask`, `branch`,
//! `tag`, `assign`, `handover`, `notify`, `end`) and, for the kinds that do not branch, an
//! optional `next` (by default the step after it in the list; after the last one, the run is
//! complete). The gateway checks a definition field by field before it deserialises it, so
//! every mistake is reported with its path, not only the first serde meets.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{Button, CarouselElement, Media, QuickReply, Target, TemplateRef};

mod schema;

/// What a definition may hold: the gateway's checks and the API document's schema are both
/// written from these numbers (`automation/schema.rs`), so the two cannot drift apart.
pub mod limits {
    pub const NAME_MAX: usize = 100;
    pub const STEPS_MAX: usize = 100;
    pub const STEP_ID_MAX: usize = 64;
    /// `visitor.no_reply`'s wait: up to a week.
    pub const NO_REPLY_MINUTES_MAX: u64 = 10_080;
    /// A `wait` or `ask` step's wait: up to 30 days.
    pub const WAIT_MINUTES_MAX: u64 = 43_200;
    pub const KEYWORDS_MAX: usize = 50;
    pub const KEYWORD_MAX: usize = 100;
    pub const TEXT_MAX: usize = 2_000;
    /// Messenger's limits: 13 quick replies of 20 characters, 3 buttons, 10 carousel cards.
    pub const QUICK_REPLIES_MAX: usize = 13;
    pub const QUICK_REPLY_TITLE_MAX: usize = 20;
    pub const PAYLOAD_MAX: usize = 1_000;
    pub const BUTTONS_MAX: usize = 3;
    pub const CAROUSEL_MAX: usize = 10;
    pub const MEDIA_MAX: usize = 10;
    /// A button's or carousel card's title.
    pub const TITLE_MAX: usize = 80;
    pub const URL_MAX: usize = 2_000;
    pub const MIME_TYPE_MAX: usize = 255;
    pub const TEMPLATE_ID_MAX: usize = 255;
    pub const POLICY_MAX: usize = 100;
    pub const ATTEMPTS_MAX: u64 = 10;
    pub const TAGS_MAX: usize = 20;
    pub const TAG_MAX: usize = 50;
    pub const MEMBER_MAX: usize = 200;
    /// A `notify` step's targets, as many as a notification rule's.
    pub const TARGETS_MAX: usize = 20;
}

/// `POST /v1/automations`, `PUT /v1/automations/{id}` (a new version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewAutomation {
    pub name: String,
    /// A disabled automation starts no run; runs already going finish.
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: Trigger,
    /// A JSONLogic condition (the notification rules' language, `docs/rules.md`) on
    /// `{contact, conversation}`, checked when the trigger fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    pub steps: Vec<Step>,
}

fn yes() -> bool {
    true
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum Trigger {
    /// The visitor did not answer an agent's (or the bot's) message for `minutes`.
    #[serde(rename = "visitor.no_reply")]
    VisitorNoReply {
        minutes: u32,
        #[serde(default)]
        visitor: VisitorKind,
        /// The conversation states it applies in; all three by default.
        #[serde(default = "all_scopes")]
        states: Vec<ConversationScope>,
        /// Count an agent's reply typed in the provider's own inbox (a Messenger echo) as an
        /// agent message that starts the timer.
        #[serde(default)]
        off_platform: bool,
    },
    /// A customer's first message opened the conversation.
    #[serde(rename = "conversation.started")]
    ConversationStarted,
    /// A customer's message: any of `keywords` (case-insensitive, as words or phrases in the
    /// text), and the condition when given (on `{message, contact, conversation}`).
    #[serde(rename = "message.received")]
    MessageReceived {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keywords: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        condition: Option<Value>,
    },
    /// A result was submitted for the conversation (`POST /v1/results`), of `form` when given.
    #[serde(rename = "result.submitted")]
    ResultSubmitted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        form: Option<String>,
    },
}

fn all_scopes() -> Vec<ConversationScope> {
    vec![
        ConversationScope::Hosted,
        ConversationScope::Unassigned,
        ConversationScope::Assigned,
    ]
}

/// New visitors have never had a conversation round before this one; returning ones have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitorKind {
    New,
    Returning,
    #[default]
    Any,
}

/// A conversation is `hosted` when the bot hosts it, else `assigned` when a member owns it,
/// else `unassigned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationScope {
    Hosted,
    Unassigned,
    Assigned,
}

/// One step of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    pub id: String,
    #[serde(flatten)]
    pub action: Action,
    /// The step after this one, for kinds that do not branch; by default the next in the
    /// list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Send(SendStep),
    Wait(WaitStep),
    Ask(AskStep),
    Branch(BranchStep),
    Tag(TagStep),
    Assign(AssignStep),
    Handover(HandoverStep),
    Notify(NotifyStep),
    End(EndStep),
}

/// A message to the visitor: on the conversation's channel, or through `policy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SendStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carousel: Vec<CarouselElement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    /// Send through this routing policy (by name) instead of the conversation's channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// Wait for the visitor: a reply, a button, or the timeout. Each outcome names the step it
/// continues at; an outcome without a step ends the run (a timeout then ends it
/// `timed_out`, not completed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaitStep {
    pub minutes: u32,
    /// Any message that is not one of `buttons`' payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// A button's or quick reply's payload, and the step it leads to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buttons: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// The field an `ask` step fills in on the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AskField {
    Email,
    Phone,
}

/// Ask for an email or a phone number, check the answer as intake checks addresses, and save
/// it on the contact. A bad answer is asked again with `retry_text`, up to `attempts` answers
/// in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AskStep {
    pub field: AskField,
    pub text: String,
    /// How long to wait for each answer.
    pub minutes: u32,
    /// Answers taken before giving up (1 to 10; 3 by default).
    #[serde(default = "three")]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<String>,
    /// Every attempt was a bad answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

fn three() -> u32 {
    3
}

/// `then` when the condition holds on `{contact, conversation, answers}`, else `else`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BranchStep {
    #[serde(rename = "if")]
    pub condition: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<String>,
    #[serde(default, rename = "else", skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TagStep {
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssignStep {
    pub member: String,
}

/// Hand the conversation to a human: hosting off, `unanswered` with no owner, a no-reply
/// alert armed. The run ends here, completed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HandoverStep {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NotifyStep {
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EndStep {}

/// An automation as stored: its current version's definition.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AutomationView {
    pub id: String,
    /// 1 for the first definition; each `PUT` makes the next. Runs finish on the version
    /// they started on.
    pub version: u32,
    #[serde(flatten)]
    pub definition: NewAutomation,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /v1/automations`: a page of live automations, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AutomationPage {
    pub data: Vec<AutomationView>,
    /// The `cursor` of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An exact ratio, and the same as a decimal string rounded to four places for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
    /// `numerator / denominator`, e.g. `"0.6667"`; absent when the denominator is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Ratio {
    pub fn new(numerator: u64, denominator: u64) -> Ratio {
        let value = (denominator > 0).then(|| {
            // floor(n / d * 10^4 + 1/2), in integers: rounded half up at four places.
            let (n, d) = (u128::from(numerator), u128::from(denominator));
            let scaled = (2 * n * 10_000 + d) / (2 * d);
            format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
        });
        Ratio {
            numerator,
            denominator,
            value,
        }
    }
}

/// How often a step was entered and each of its branches taken.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct StepStats {
    pub step: String,
    pub entered: u64,
    /// Branch name (`next`, `reply`, `button:<payload>`, `timeout`, `answered`, `invalid`,
    /// `then`, `else`) to how often it was taken.
    pub branches: BTreeMap<String, u64>,
}

/// `GET /v1/automations/{id}/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AutomationStats {
    pub automation: String,
    pub since: String,
    pub until: String,
    /// Trigger events in the window, including those counted while a run was already going.
    pub triggers: u64,
    /// Distinct visitors (contacts) who triggered it in the window.
    pub triggered_visitors: u64,
    /// Of those, visitors who answered, clicked a button or filled in a field in a run.
    pub participants: u64,
    /// Of those, visitors who reached a final step of any branch.
    pub completed: u64,
    /// `participants / triggered_visitors`.
    pub participation: Ratio,
    /// `completed / triggered_visitors`.
    pub completion: Ratio,
    pub steps: Vec<StepStats>,
}

/// What a visitor did with an automation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitorOutcome {
    Completed,
    Participated,
    NotParticipated,
}

/// `GET /v1/automations/{id}/runs`: one row per visitor.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AutomationVisitor {
    pub contact: String,
    pub conversation: String,
    /// `/v1/conversations/{id}`.
    pub conversation_url: String,
    pub status: VisitorOutcome,
    pub trigger_count: u64,
    /// The channel of the conversation's connection when it came through one (e.g.
    /// `messenger`), else `chat` (the app's own chat through the API).
    pub channel: String,
    pub first_triggered_at: String,
    pub last_triggered_at: String,
    /// The latest run: its state (`running`, `waiting`, `completed`, `stopped`,
    /// `timed_out`, `failed`), the step it is at, and why it stopped.
    pub run: RunSummary,
}

/// A page of an automation's visitors.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AutomationVisitorPage {
    pub data: Vec<AutomationVisitor>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub version: u32,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_exact_and_round_half_up_for_display() {
        assert_eq!(Ratio::new(2, 3).value.as_deref(), Some("0.6667"));
        assert_eq!(Ratio::new(1, 3).value.as_deref(), Some("0.3333"));
        assert_eq!(Ratio::new(3, 3).value.as_deref(), Some("1.0000"));
        assert_eq!(Ratio::new(0, 5).value.as_deref(), Some("0.0000"));
        assert_eq!(Ratio::new(1, 8).value.as_deref(), Some("0.1250"));
        assert_eq!(Ratio::new(0, 0).value, None);
    }

    #[test]
    fn the_smallest_automation_reads() {
        let a: NewAutomation = serde_json::from_value(serde_json::json!({"name": "recall",
            "trigger": {"type": "visitor.no_reply", "minutes": 30, "visitor": "returning",
            "states": ["unassigned"]}, "steps": [{"id": "s1", "send": {"text": "Still there?"}}]}))
        .unwrap();
        assert!(a.enabled);
        assert!(matches!(a.steps[0].action, Action::Send(_)));
        assert_eq!(
            a.trigger,
            Trigger::VisitorNoReply {
                minutes: 30,
                visitor: VisitorKind::Returning,
                states: vec![ConversationScope::Unassigned],
                off_platform: false
            }
        );
    }
}
