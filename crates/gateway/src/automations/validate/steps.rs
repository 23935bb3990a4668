//! The steps: each one's id, kind and body, the branches each names, and then the graph they
//! make ([`super::graph`]).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::*;
use crate::model::{ConnectionTarget, MemberTarget, Recipient, Target, WebhookEndpointTarget};

pub(super) fn check(w: &mut Walk, o: &Map<String, Value>) {
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
            w.condition(b, &here, "if", Need::Required, BRANCH_ROOTS);
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
            if let Some(m) = w.string(b, &here, "member", Need::Required, 1..=MEMBER_MAX, true) {
                w.references.push(Reference {
                    at: here.clone(),
                    target: Target::Member(MemberTarget { member: m.into() }),
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
    // 254: the longest email address; ids are far shorter.
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
        "member" => Target::Member(MemberTarget {
            member: name.into(),
        }),
        "webhook_endpoint" => Target::WebhookEndpoint(WebhookEndpointTarget {
            webhook_endpoint: name.into(),
        }),
        _ => {
            let Some(to) = w.field(o, at, "to", Need::Required) else {
                return;
            };
            match serde_json::from_value::<Recipient>(to.clone()) {
                Ok(to) => Target::Connection(ConnectionTarget {
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
