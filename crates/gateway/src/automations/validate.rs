//! An automation as written, checked field by field on the JSON itself, so every mistake is
//! reported with its path at once (`steps[2].wait.minutes`, `trigger.states[1]`) rather than
//! the first one serde meets. Only a body with no violation is deserialised into
//! [`NewAutomation`], so the engine never sees a definition that could fail it later.
//!
//! What needs the workspace (an `assign` step's member, a `notify` step's members,
//! connections and endpoints) is returned as [`Checked::references`]; the service looks them
//! up and adds its own violations.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::model::automation::NewAutomation;
use crate::model::{Recipient, Target, Violation};
use crate::rules::condition;

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
pub const QUICK_REPLIES_MAX: usize = 13;
pub const QUICK_REPLY_TITLE_MAX: usize = 20;
pub const PAYLOAD_MAX: usize = 1_000;
pub const BUTTONS_MAX: usize = 3;
pub const CAROUSEL_MAX: usize = 10;
pub const MEDIA_MAX: usize = 10;
pub const POLICY_MAX: usize = 100;
pub const ATTEMPTS_MAX: u64 = 10;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 50;
pub const TARGETS_MAX: usize = crate::rules::TARGETS_MAX;

mod graph;
mod send;

/// What an automation's `condition` may name.
pub const CONDITION_ROOTS: &[&str] = &["contact", "conversation"];
/// What `message.received`'s condition may name: the message too.
pub const MESSAGE_ROOTS: &[&str] = &["message", "contact", "conversation"];
/// What a `branch` step's `if` may name: the answers `ask` steps collected too.
pub const BRANCH_ROOTS: &[&str] = &["contact", "conversation", "answers"];

/// The step kinds, as their keys are spelt.
pub const KINDS: [&str; 9] = [
    "send", "wait", "ask", "branch", "tag", "assign", "handover", "notify", "end",
];

/// A target the workspace must have: a member, connection or webhook endpoint, at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub at: String,
    pub target: Target,
}

/// What [`check`] found.
#[derive(Debug, Default)]
pub struct Checked {
    pub violations: Vec<Violation>,
    pub references: Vec<Reference>,
}

/// Check a body as written. Unknown keys are violations too.
pub fn check(body: &Value) -> Checked {
    let mut w = Walk::default();
    let top = ["name", "enabled", "trigger", "condition", "steps"];
    if let Some(o) = w.object(body, "", &top) {
        w.string(o, "", "name", Need::Required, 1..=NAME_MAX, true);
        w.boolean(o, "", "enabled", Need::Defaulted);
        if let Some(t) = w.field(o, "", "trigger", Need::Required) {
            trigger(&mut w, t);
        }
        w.condition(o, "", "condition", CONDITION_ROOTS);
        steps(&mut w, o);
    }
    Checked {
        violations: w.out,
        references: w.references,
    }
}

/// Deserialise a body [`check`] found nothing wrong with. Should serde still refuse it (a
/// rule this module missed), that is one more violation, not a panic.
pub fn parse(body: Value) -> Result<NewAutomation, Vec<Violation>> {
    serde_json::from_value(body).map_err(|e| vec![violation("invalid_value", ".", e.to_string())])
}

fn violation(code: &str, field: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        code: code.into(),
        field: field.into(),
        message: message.into(),
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// Blank as the rest of the API has it: only spaces, tabs and line breaks.
fn blank(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// Whether a field may be left out, and what `null` means for it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Required,
    /// May be absent or `null` (an `Option`).
    Optional,
    /// May be absent, then its default; `null` is not a value of it.
    Defaulted,
}

#[derive(Default)]
struct Walk {
    out: Vec<Violation>,
    references: Vec<Reference>,
}

impl Walk {
    fn push(&mut self, code: &str, field: impl Into<String>, message: impl Into<String>) {
        self.out.push(violation(code, field, message));
    }

    /// `v` as an object whose keys are all `allowed`; every other key is a violation.
    fn object<'a>(
        &mut self,
        v: &'a Value,
        at: &str,
        allowed: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        let Some(o) = v.as_object() else {
            let field = if at.is_empty() { "." } else { at };
            self.push("invalid_type", field, "must be an object");
            return None;
        };
        for key in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.push(
                "unknown_field",
                join(at, key),
                format!("unknown field; expected one of {}", allowed.join(", ")),
            );
        }
        Some(o)
    }

    /// The value of `key`, or `None` when it is absent (or `null` where that means absent).
    fn field<'a>(
        &mut self,
        o: &'a Map<String, Value>,
        at: &str,
        key: &str,
        need: Need,
    ) -> Option<&'a Value> {
        match (o.get(key), need) {
            (None, Need::Required) => {
                self.push("required", join(at, key), "is required");
                None
            }
            (Some(Value::Null), Need::Optional) | (None, _) => None,
            (Some(Value::Null), _) => {
                self.push("invalid_type", join(at, key), "must not be null");
                None
            }
            (Some(v), _) => Some(v),
        }
    }

    /// A string value with `len` characters (and not blank, when asked).
    fn text<'a>(
        &mut self,
        v: &'a Value,
        at: &str,
        len: std::ops::RangeInclusive<usize>,
        not_blank: bool,
    ) -> Option<&'a str> {
        let Some(s) = v.as_str() else {
            self.push("invalid_type", at, "must be a string");
            return None;
        };
        let n = s.chars().count();
        if !len.contains(&n) || (not_blank && blank(s)) {
            let blank = if not_blank { ", not all blank" } else { "" };
            self.push(
                "out_of_range",
                at,
                format!("must be {} to {} characters{blank}", len.start(), len.end()),
            );
            return None;
        }
        Some(s)
    }

    fn string<'a>(
        &mut self,
        o: &'a Map<String, Value>,
        at: &str,
        key: &str,
        need: Need,
        len: std::ops::RangeInclusive<usize>,
        not_blank: bool,
    ) -> Option<&'a str> {
        let v = self.field(o, at, key, need)?;
        self.text(v, &join(at, key), len, not_blank)
    }

    fn integer(
        &mut self,
        o: &Map<String, Value>,
        at: &str,
        key: &str,
        need: Need,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let v = self.field(o, at, key, need)?;
        let at = join(at, key);
        let in_range = match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => {
                n.as_u64().filter(|n| range.contains(n))
            }
            _ => {
                self.push("invalid_type", at, "must be a whole number");
                return None;
            }
        };
        if in_range.is_none() {
            let (lo, hi) = (range.start(), range.end());
            self.push("out_of_range", at, format!("must be {lo} to {hi}"));
        }
        in_range
    }

    fn boolean(&mut self, o: &Map<String, Value>, at: &str, key: &str, need: Need) {
        if let Some(v) = self.field(o, at, key, need)
            && !v.is_boolean()
        {
            self.push("invalid_type", join(at, key), "must be true or false");
        }
    }

    /// One of `allowed` words.
    fn word<'a>(&mut self, v: &'a Value, at: &str, allowed: &[&str]) -> Option<&'a str> {
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Some(s),
            Some(_) => {
                self.push(
                    "invalid_value",
                    at,
                    format!("must be one of {}", allowed.join(", ")),
                );
                None
            }
            None => {
                self.push("invalid_type", at, "must be a string");
                None
            }
        }
    }

    /// An array of `count` items; a count out of range is reported and the items are still
    /// checked, so their own mistakes are reported too.
    fn array<'a>(
        &mut self,
        o: &'a Map<String, Value>,
        at: &str,
        key: &str,
        need: Need,
        count: std::ops::RangeInclusive<usize>,
    ) -> Option<&'a Vec<Value>> {
        let v = self.field(o, at, key, need)?;
        let Some(items) = v.as_array() else {
            self.push("invalid_type", join(at, key), "must be an array");
            return None;
        };
        if !count.contains(&items.len()) {
            let (lo, hi) = (count.start(), count.end());
            self.push(
                "out_of_range",
                join(at, key),
                format!("must have {lo} to {hi} items"),
            );
        }
        Some(items)
    }

    /// A JSONLogic condition whose `var`s may name `roots` only.
    fn condition(&mut self, o: &Map<String, Value>, at: &str, key: &str, roots: &[&str]) {
        let need = if key == "if" {
            Need::Required
        } else {
            Need::Optional
        };
        if let Some(c) = self.field(o, at, key, need)
            && let Err(e) = condition::check_in(c, &join(at, key), roots)
        {
            self.push("invalid_condition", e.path, e.message);
        }
    }
}

fn trigger(w: &mut Walk, t: &Value) {
    const TYPES: [&str; 4] = [
        "visitor.no_reply",
        "conversation.started",
        "message.received",
        "result.submitted",
    ];
    let at = "trigger";
    let Some(o) = t.as_object() else {
        w.push("invalid_type", at, "must be an object");
        return;
    };
    let Some(kind) = w
        .field(o, at, "type", Need::Required)
        .and_then(|v| w.word(v, "trigger.type", &TYPES))
    else {
        return;
    };
    let allowed: &[&str] = match kind {
        "visitor.no_reply" => &["type", "minutes", "visitor", "states", "off_platform"],
        "message.received" => &["type", "keywords", "condition"],
        "result.submitted" => &["type", "form"],
        _ => &["type"],
    };
    w.object(t, at, allowed);
    match kind {
        "visitor.no_reply" => {
            w.integer(o, at, "minutes", Need::Required, 1..=NO_REPLY_MINUTES_MAX);
            if let Some(v) = w.field(o, at, "visitor", Need::Defaulted) {
                w.word(v, "trigger.visitor", &["new", "returning", "any"]);
            }
            if let Some(states) = w.array(o, at, "states", Need::Defaulted, 1..=3) {
                let mut seen = Vec::new();
                for (i, s) in states.iter().enumerate() {
                    let here = format!("trigger.states[{i}]");
                    if let Some(s) = w.word(s, &here, &["hosted", "unassigned", "assigned"]) {
                        if seen.contains(&s) {
                            w.push("duplicate", here, format!("`{s}` is listed twice"));
                        }
                        seen.push(s);
                    }
                }
            }
            w.boolean(o, at, "off_platform", Need::Defaulted);
        }
        "message.received" => {
            if let Some(words) = w.array(o, at, "keywords", Need::Defaulted, 0..=KEYWORDS_MAX) {
                for (i, k) in words.iter().enumerate() {
                    w.text(k, &format!("trigger.keywords[{i}]"), 1..=KEYWORD_MAX, true);
                }
            }
            w.condition(o, at, "condition", MESSAGE_ROOTS);
        }
        "result.submitted" => {
            w.string(o, at, "form", Need::Optional, 1..=NAME_MAX, true);
        }
        _ => {}
    }
}

fn steps(w: &mut Walk, o: &Map<String, Value>) {
    let Some(list) = w.array(o, "", "steps", Need::Required, 1..=STEPS_MAX) else {
        return;
    };
    // First the ids, so a target may name a step further down the list.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut nodes: Vec<graph::Node> = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let at = format!("steps[{i}]");
        let id = s
            .as_object()
            .and_then(|o| w.field(o, &at, "id", Need::Required))
            .and_then(|v| step_id(w, v, &format!("{at}.id")));
        if let Some(id) = id {
            if ids.contains_key(id) {
                w.push(
                    "duplicate",
                    format!("{at}.id"),
                    format!("another step has the id `{id}`"),
                );
            } else {
                ids.insert(id, i);
            }
        }
        nodes.push(graph::Node {
            id: id.map(str::to_string),
            ..graph::Node::default()
        });
    }
    for (i, s) in list.iter().enumerate() {
        step(w, s, i, &ids, &mut nodes[i]);
    }
    for v in graph::check(&nodes) {
        w.out.push(v);
    }
}

fn step_id<'a>(w: &mut Walk, v: &'a Value, at: &str) -> Option<&'a str> {
    let id = w.text(v, at, 1..=STEP_ID_MAX, false)?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        w.push(
            "invalid_value",
            at,
            "may hold letters, digits, `_` and `-` only",
        );
        return None;
    }
    Some(id)
}

fn step(w: &mut Walk, s: &Value, i: usize, ids: &HashMap<&str, usize>, node: &mut graph::Node) {
    let at = format!("steps[{i}]");
    let mut allowed = vec!["id", "next"];
    allowed.extend(KINDS);
    let Some(o) = w.object(s, &at, &allowed) else {
        return;
    };
    let kinds: Vec<&str> = KINDS.into_iter().filter(|k| o.contains_key(*k)).collect();
    let kind = match kinds.as_slice() {
        [] => {
            w.push(
                "required",
                at.as_str(),
                format!("a step needs one kind: {}", KINDS.join(", ")),
            );
            return;
        }
        [one] => *one,
        [first, rest @ ..] => {
            for k in rest {
                w.push(
                    "not_allowed",
                    format!("{at}.{k}"),
                    format!("a step has one kind, and this one is `{first}`"),
                );
            }
            *first
        }
    };
    node.kind = Some(kind);
    let mut target = |w: &mut Walk, v: Option<&Value>, field: String, branch: &str| {
        let Some(v) = v else { return };
        let Some(name) = v.as_str() else {
            w.push("invalid_type", field, "must be a step id");
            return;
        };
        match ids.get(name) {
            Some(&to) => node.edges.push((branch.to_string(), to)),
            None => w.push(
                "unknown_step",
                field,
                format!("no step has the id `{name}`"),
            ),
        }
    };
    let next = w.field(o, &at, "next", Need::Optional);
    if next.is_some() && matches!(kind, "wait" | "ask" | "branch" | "handover" | "end") {
        w.push(
            "not_allowed",
            format!("{at}.next"),
            format!("a `{kind}` step names its branches instead of `next`"),
        );
    } else {
        target(w, next, format!("{at}.next"), "next");
    }
    let here = format!("{at}.{kind}");
    let body = &o[kind];
    match kind {
        "send" => send::check(w, body, &here),
        "wait" => {
            let Some(b) = w.object(body, &here, &["minutes", "reply", "buttons", "timeout"]) else {
                return;
            };
            w.integer(b, &here, "minutes", Need::Required, 1..=WAIT_MINUTES_MAX);
            let reply = w.field(b, &here, "reply", Need::Optional);
            target(w, reply, format!("{here}.reply"), "reply");
            if let Some(buttons) = w.field(b, &here, "buttons", Need::Defaulted) {
                match buttons.as_object() {
                    Some(map) => {
                        for (payload, to) in map {
                            let field = format!("{here}.buttons.{payload}");
                            if !(1..=PAYLOAD_MAX).contains(&payload.chars().count()) {
                                w.push(
                                    "out_of_range",
                                    field.as_str(),
                                    format!("a payload is 1 to {PAYLOAD_MAX} characters"),
                                );
                            }
                            target(w, Some(to), field, &format!("button:{payload}"));
                        }
                    }
                    None => w.push(
                        "invalid_type",
                        format!("{here}.buttons"),
                        "must be an object of payload to step id",
                    ),
                }
            }
            let timeout = w.field(b, &here, "timeout", Need::Optional);
            target(w, timeout, format!("{here}.timeout"), "timeout");
        }
        "ask" => {
            let keys = [
                "field",
                "text",
                "minutes",
                "attempts",
                "retry_text",
                "answered",
                "invalid",
                "timeout",
            ];
            let Some(b) = w.object(body, &here, &keys) else {
                return;
            };
            if let Some(f) = w.field(b, &here, "field", Need::Required) {
                w.word(f, &format!("{here}.field"), &["email", "phone"]);
            }
            w.string(b, &here, "text", Need::Required, 1..=TEXT_MAX, false);
            w.integer(b, &here, "minutes", Need::Required, 1..=WAIT_MINUTES_MAX);
            w.integer(b, &here, "attempts", Need::Defaulted, 1..=ATTEMPTS_MAX);
            w.string(b, &here, "retry_text", Need::Optional, 1..=TEXT_MAX, false);
            for branch in ["answered", "invalid", "timeout"] {
                let v = w.field(b, &here, branch, Need::Optional);
                target(w, v, format!("{here}.{branch}"), branch);
            }
        }
        "branch" => {
            let Some(b) = w.object(body, &here, &["if", "then", "else"]) else {
                return;
            };
            w.condition(b, &here, "if", BRANCH_ROOTS);
            for branch in ["then", "else"] {
                let v = w.field(b, &here, branch, Need::Optional);
                target(w, v, format!("{here}.{branch}"), branch);
            }
        }
        "tag" => {
            let Some(b) = w.object(body, &here, &["tags"]) else {
                return;
            };
            if let Some(tags) = w.array(b, &here, "tags", Need::Required, 1..=TAGS_MAX) {
                for (j, t) in tags.iter().enumerate() {
                    w.text(t, &format!("{here}.tags[{j}]"), 1..=TAG_MAX, true);
                }
            }
        }
        "assign" => {
            let Some(b) = w.object(body, &here, &["member"]) else {
                return;
            };
            if let Some(m) = w.string(b, &here, "member", Need::Required, 1..=200, true) {
                w.references.push(Reference {
                    at: here.clone(),
                    target: Target::Member(crate::model::MemberTarget { member: m.into() }),
                });
            }
        }
        "notify" => {
            let Some(b) = w.object(body, &here, &["targets"]) else {
                return;
            };
            if let Some(targets) = w.array(b, &here, "targets", Need::Required, 1..=TARGETS_MAX) {
                for (j, t) in targets.iter().enumerate() {
                    notify_target(w, t, &format!("{here}.targets[{j}]"));
                }
            }
        }
        // `handover` and `end` take nothing.
        _ => {
            w.object(body, &here, &[]);
        }
    }
}

/// A notification rule's target, by the key that names its kind.
fn notify_target(w: &mut Walk, t: &Value, at: &str) {
    let Some(o) = t.as_object() else {
        w.push("invalid_type", at, "must be an object");
        return;
    };
    let kind = ["email", "member", "connection", "webhook_endpoint"]
        .into_iter()
        .find(|k| o.contains_key(*k));
    let Some(kind) = kind else {
        w.push(
            "required",
            at,
            "a target is one of {email}, {member}, {connection, to} or {webhook_endpoint}",
        );
        return;
    };
    let allowed: &[&str] = if kind == "connection" {
        &["connection", "to"]
    } else {
        &[kind]
    };
    w.object(t, at, allowed);
    let Some(name) = w.string(o, at, kind, Need::Required, 1..=254, true) else {
        return;
    };
    let target = match kind {
        "email" => {
            if crate::contact_edits::check_email(name).is_err() {
                w.push(
                    "invalid_value",
                    join(at, "email"),
                    "must look like name@example.com",
                );
            }
            return;
        }
        "member" => Target::Member(crate::model::MemberTarget {
            member: name.into(),
        }),
        "webhook_endpoint" => Target::WebhookEndpoint(crate::model::WebhookEndpointTarget {
            webhook_endpoint: name.into(),
        }),
        _ => {
            let Some(to) = w.field(o, at, "to", Need::Required) else {
                return;
            };
            match serde_json::from_value::<Recipient>(to.clone()) {
                Ok(to) => Target::Connection(crate::model::ConnectionTarget {
                    connection: name.into(),
                    to,
                }),
                Err(e) => {
                    w.push("invalid_value", join(at, "to"), e.to_string());
                    return;
                }
            }
        }
    };
    w.references.push(Reference {
        at: at.to_string(),
        target,
    });
}

#[cfg(test)]
mod tests;
