//! Routing policies: how to reach a person, as an ordered list of steps.
//!
//! A step sends on one channel, on several in parallel, or on the first that works of an
//! ordered group; lanes nest one level, so "AlimTalk else SMS, and email, together" is one
//! step. Each step has a success condition (the provider `accepted` it, it was `delivered`,
//! or `seen`) and a timeout; the next step runs when the condition is not met in time or the
//! step fails. Which failure reasons move on is configurable (`fallback_on`); by default
//! every reason does except `invalid_format`, since the same content fails everywhere.
//!
//! ```json
//! {"name": "follow-up", "steps": [
//!   {"send": {"channel": "push"}, "until": "delivered", "timeout_ms": 30000},
//!   {"send": {"parallel": [{"first_of": ["alimtalk", "sms"]}, {"channel": "email"}]},
//!    "until": "delivered", "timeout_ms": 86400000}
//! ]}
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{FailureReason, Violation};

/// The built-in policy for follow-up notifications.
pub const FOLLOW_UP: &str = "follow-up";
/// How long the follow-up waits for the app to confirm a push.
pub const FOLLOW_UP_PUSH_WAIT_MS: u64 = 30_000;
/// How long the text and email step of the follow-up keeps its fallbacks alive.
const FOLLOW_UP_TEXT_WINDOW_MS: u64 = 24 * 3_600_000;
const MAX_STEPS: usize = 16;
const MAX_TIMEOUT_MS: u64 = 30 * 86_400_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// `[a-z0-9_-]{1,64}`; unique per workspace.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[schema(min_items = 1, max_items = 16)]
    pub steps: Vec<Step>,
    /// Failure reasons that move a first-of group or the policy on to the next channel or
    /// step. Default: every reason except `invalid_format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub fallback_on: Option<Vec<FailureReason>>,
    /// After a send whose answer was lost on a channel whose provider cannot be asked
    /// (Messenger, push): `retry` or `fail`. Default: the workspace's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous_sends: Option<crate::AmbiguousSends>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub send: Send,
    /// The success condition. Default `delivered`.
    #[serde(default)]
    pub until: Condition,
    /// How long the step may take to meet `until` before the next step runs. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true, minimum = 1, maximum = 2592000000.0)]
    pub timeout_ms: Option<u64>,
}

/// What a step sends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Send {
    /// One channel.
    Channel(String),
    /// The first channel that works, in order: the next only if the previous has no
    /// address or connection, or failed with a `fallback_on` reason.
    FirstOf(Vec<String>),
    /// Every lane at once; a lane is a channel or a first-of group.
    Parallel(Vec<Lane>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Lane {
    Channel(String),
    FirstOf(Vec<String>),
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The provider accepted it (`sent`).
    Accepted,
    #[default]
    Delivered,
    Seen,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Accepted => "accepted",
            Condition::Delivered => "delivered",
            Condition::Seen => "seen",
        }
    }
    pub fn parse(s: &str) -> Condition {
        match s {
            "accepted" => Condition::Accepted,
            "seen" => Condition::Seen,
            _ => Condition::Delivered,
        }
    }

    /// Whether a delivery at `status` meets the condition (a later status meets an earlier
    /// condition: `seen` was also delivered).
    pub fn met_by(self, status: crate::Status) -> bool {
        use crate::Status;
        match self {
            Condition::Accepted => {
                matches!(status, Status::Sent | Status::Delivered | Status::Seen)
            }
            Condition::Delivered => matches!(status, Status::Delivered | Status::Seen),
            Condition::Seen => status == Status::Seen,
        }
    }
}

impl Step {
    /// The step's lanes, each an ordered list of channels (one channel for a plain lane).
    pub fn lanes(&self) -> Vec<Vec<String>> {
        match &self.send {
            Send::Channel(c) => vec![vec![c.clone()]],
            Send::FirstOf(cs) => vec![cs.clone()],
            Send::Parallel(lanes) => lanes
                .iter()
                .map(|l| match l {
                    Lane::Channel(c) => vec![c.clone()],
                    Lane::FirstOf(cs) => cs.clone(),
                })
                .collect(),
        }
    }
}

impl Policy {
    pub fn falls_back_on(&self, reason: FailureReason) -> bool {
        match &self.fallback_on {
            Some(list) => list.contains(&reason),
            None => reason != FailureReason::InvalidFormat,
        }
    }

    /// Every problem, each naming its field; `channels` are the channels this gateway can
    /// send on.
    pub fn validate(&self, channels: &[String]) -> Vec<Violation> {
        let mut v = Vec::new();
        let mut push = |code: &str, field: String, message: String| {
            v.push(Violation {
                code: code.into(),
                field,
                message,
            })
        };
        let valid_name = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid_name {
            push(
                "invalid_name",
                "name".into(),
                "name must be 1-64 of [a-z0-9_-]".into(),
            );
        }
        if self.steps.is_empty() {
            push(
                "empty",
                "steps".into(),
                "a policy needs at least one step".into(),
            );
        }
        if self.steps.len() > MAX_STEPS {
            push(
                "too_many",
                "steps".into(),
                format!("at most {MAX_STEPS} steps"),
            );
        }
        if self.fallback_on.as_ref().is_some_and(|l| l.is_empty()) {
            push(
                "empty",
                "fallback_on".into(),
                "leave fallback_on out, or list at least one reason".into(),
            );
        }
        for (i, step) in self.steps.iter().enumerate() {
            let field = format!("steps[{i}]");
            match step.timeout_ms {
                None => push(
                    "required",
                    format!("{field}.timeout_ms"),
                    "every step needs a timeout".into(),
                ),
                Some(0) => push(
                    "invalid",
                    format!("{field}.timeout_ms"),
                    "the timeout must be positive".into(),
                ),
                Some(t) if t > MAX_TIMEOUT_MS => push(
                    "invalid",
                    format!("{field}.timeout_ms"),
                    format!("at most {MAX_TIMEOUT_MS} ms (30 days)"),
                ),
                _ => {}
            }
            let lanes = step.lanes();
            if lanes.is_empty() || lanes.iter().any(Vec::is_empty) {
                push(
                    "empty",
                    format!("{field}.send"),
                    "a step must send on at least one channel, and every group needs a channel"
                        .into(),
                );
            }
            let mut seen: Vec<&String> = Vec::new();
            for (l, lane) in lanes.iter().enumerate() {
                for (c, channel) in lane.iter().enumerate() {
                    let at = match (&step.send, lanes.len()) {
                        (Send::Channel(_), _) => format!("{field}.send.channel"),
                        (Send::FirstOf(_), _) => format!("{field}.send.first_of[{c}]"),
                        (Send::Parallel(_), _) => format!("{field}.send.parallel[{l}]"),
                    };
                    if !channels.contains(channel) {
                        push(
                            "unknown_channel",
                            at,
                            format!(
                                "no channel `{channel}`; this gateway sends on: {}",
                                channels.join(", ")
                            ),
                        );
                    } else if seen.contains(&channel) {
                        push(
                            "duplicate_channel",
                            at,
                            format!("`{channel}` appears twice in one step"),
                        );
                    }
                    seen.push(channel);
                }
            }
        }
        v
    }
}

/// `follow-up`: push first; if the app does not confirm it within 30 s (or there is no push
/// token), a text (AlimTalk, else SMS/LMS, never both) and an email together.
pub fn follow_up() -> Policy {
    Policy {
        name: FOLLOW_UP.into(),
        description: Some(
            "Push first; if not received within 30 s, or no push token, a text (AlimTalk, else SMS/LMS) and an email together".into(),
        ),
        steps: vec![
            Step {
                send: Send::Channel("push".into()),
                until: Condition::Delivered,
                timeout_ms: Some(FOLLOW_UP_PUSH_WAIT_MS),
            },
            Step {
                send: Send::Parallel(vec![
                    Lane::FirstOf(vec!["alimtalk".into(), "sms".into()]),
                    Lane::Channel("email".into()),
                ]),
                until: Condition::Delivered,
                timeout_ms: Some(FOLLOW_UP_TEXT_WINDOW_MS),
            },
        ],
        fallback_on: None,
        ambiguous_sends: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels() -> Vec<String> {
        ["sms", "email", "push", "alimtalk", "messenger"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn follow_up_is_valid_and_shaped_as_specified() {
        let p = follow_up();
        assert!(p.validate(&channels()).is_empty());
        assert_eq!(p.steps[0].lanes(), vec![vec!["push".to_string()]]);
        assert_eq!(
            p.steps[1].lanes(),
            vec![
                vec!["alimtalk".to_string(), "sms".to_string()],
                vec!["email".to_string()]
            ]
        );
        assert!(p.falls_back_on(FailureReason::Blocked));
        assert!(!p.falls_back_on(FailureReason::InvalidFormat));
    }

    #[test]
    fn validation_names_the_field() {
        let json = r#"{"name": "x", "steps": [
            {"send": {"channel": "fax"}, "timeout_ms": 10},
            {"send": {"first_of": []}, "timeout_ms": 10},
            {"send": {"parallel": [{"channel": "sms"}]}}
        ]}"#;
        let p: Policy = serde_json::from_str(json).unwrap();
        let v: Vec<(String, String)> = p
            .validate(&channels())
            .into_iter()
            .map(|v| (v.code, v.field))
            .collect();
        assert!(
            v.contains(&("unknown_channel".into(), "steps[0].send.channel".into())),
            "{v:?}"
        );
        assert!(
            v.contains(&("empty".into(), "steps[1].send".into())),
            "{v:?}"
        );
        assert!(
            v.contains(&("required".into(), "steps[2].timeout_ms".into())),
            "{v:?}"
        );
        let empty: Policy = serde_json::from_str(r#"{"name": "y", "steps": []}"#).unwrap();
        assert_eq!(empty.validate(&channels())[0].field, "steps");
    }

    #[test]
    fn configured_fallback_reasons_replace_the_default() {
        let p = Policy {
            fallback_on: Some(vec![FailureReason::RateLimited]),
            ..follow_up()
        };
        assert!(p.falls_back_on(FailureReason::RateLimited));
        assert!(!p.falls_back_on(FailureReason::Blocked));
    }
}
