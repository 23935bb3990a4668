//! An automation as written, checked field by field on the JSON itself, so every mistake is
//! reported with its path at once (`steps[2].wait.minutes`, `trigger.states[1]`) rather than
//! the first one serde meets. Only a body with no violation is deserialised into
//! [`NewAutomation`], so the engine never sees a definition that could fail it later.
//!
//! What needs the workspace (an `assign` step's member, a `notify` step's members,
//! connections and endpoints) is returned as [`Checked::references`]; the service looks them
//! up and adds its own violations.

use serde_json::{Map, Value};

use crate::model::automation::NewAutomation;
use crate::model::{Target, Violation};
use crate::rules::condition;

/// The limits, shared with the API document's schema.
pub use crate::model::automation::limits::*;

mod graph;
mod send;
mod steps;

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
        w.condition(o, "", "condition", Need::Optional, CONDITION_ROOTS);
        steps::check(&mut w, o);
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
    fn condition(
        &mut self,
        o: &Map<String, Value>,
        at: &str,
        key: &str,
        need: Need,
        roots: &[&str],
    ) {
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
            w.condition(o, at, "condition", Need::Optional, MESSAGE_ROOTS);
        }
        "result.submitted" => {
            w.string(o, at, "form", Need::Optional, 1..=NAME_MAX, true);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
