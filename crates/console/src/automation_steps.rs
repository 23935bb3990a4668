//! An automation's definition in words, for the read-only view on its console page: the
//! trigger and its settings, and each step's kind, settings and where each of its branches
//! goes. Pure functions of the definition, so they are tested here without a gateway.
//!
//! What cannot be put shortly in words (conditions, a message's cards, notification targets)
//! is shown as pretty JSON; the template escapes it like any other text.

use switchboard_gateway::model::automation::{
    Action, AskField, ConversationScope, NewAutomation, Step, Trigger, VisitorKind,
};

/// One setting of a step or trigger: a label and its value as text.
pub struct Setting {
    pub label: &'static str,
    pub value: String,
    /// The value is pretty JSON, to be shown in a `<pre>`.
    pub json: bool,
}

/// Where one branch of a step leads.
pub struct Branch {
    /// The branch's name as the figures count it (`docs/automations.md`, "Branch names").
    pub name: String,
    /// The step it goes to; `None` when taking it ends the run.
    pub to: Option<String>,
    /// What happens when `to` is `None`, or why the step is the one it goes to.
    pub note: &'static str,
}

pub struct StepView {
    pub id: String,
    pub kind: &'static str,
    pub settings: Vec<Setting>,
    pub branches: Vec<Branch>,
}

fn words(label: &'static str, value: impl Into<String>) -> Setting {
    Setting {
        label,
        value: value.into(),
        json: false,
    }
}

/// A value as indented JSON. Serialising a `Value` or a plain model struct cannot fail;
/// should it, the setting reads empty rather than breaking the page.
fn json(label: &'static str, value: &impl serde::Serialize) -> Setting {
    Setting {
        label,
        value: serde_json::to_string_pretty(value).unwrap_or_default(),
        json: true,
    }
}

/// The trigger's type as the API names it.
pub fn trigger_type(t: &Trigger) -> &'static str {
    match t {
        Trigger::VisitorNoReply { .. } => "visitor.no_reply",
        Trigger::ConversationStarted => "conversation.started",
        Trigger::MessageReceived { .. } => "message.received",
        Trigger::ResultSubmitted { .. } => "result.submitted",
    }
}

fn scope(s: &ConversationScope) -> &'static str {
    match s {
        ConversationScope::Hosted => "hosted",
        ConversationScope::Unassigned => "unassigned",
        ConversationScope::Assigned => "assigned",
    }
}

/// The trigger's settings, for the list (one line) and the automation's page.
pub fn trigger_settings(t: &Trigger) -> Vec<Setting> {
    match t {
        Trigger::VisitorNoReply {
            minutes,
            visitor,
            states,
            off_platform,
        } => vec![
            words(
                "after",
                format!("{minutes} minute(s) without the visitor's reply"),
            ),
            words(
                "visitors",
                match visitor {
                    VisitorKind::New => "new",
                    VisitorKind::Returning => "returning",
                    VisitorKind::Any => "any",
                },
            ),
            words(
                "conversation states",
                states.iter().map(scope).collect::<Vec<_>>().join(", "),
            ),
            words(
                "replies typed in the provider's inbox",
                if *off_platform {
                    "start the timer"
                } else {
                    "ignored"
                },
            ),
        ],
        Trigger::ConversationStarted => Vec::new(),
        Trigger::MessageReceived {
            keywords,
            condition,
        } => {
            let mut out = vec![words(
                "keywords",
                if keywords.is_empty() {
                    "any message".to_string()
                } else {
                    keywords.join(", ")
                },
            )];
            if let Some(c) = condition {
                out.push(json("message condition", c));
            }
            out
        }
        Trigger::ResultSubmitted { form } => vec![words(
            "form",
            form.clone().unwrap_or_else(|| "any form".into()),
        )],
    }
}

/// The trigger's settings on one line, for the list; JSON kept compact there.
pub fn trigger_line(t: &Trigger) -> String {
    let line = trigger_settings(t)
        .into_iter()
        .map(|s| {
            let value = if s.json {
                // Re-read and write compact: pretty JSON's line breaks do not fit a cell.
                serde_json::from_str::<serde_json::Value>(&s.value)
                    .map(|v| v.to_string())
                    .unwrap_or(s.value)
            } else {
                s.value
            };
            format!("{}: {value}", s.label)
        })
        .collect::<Vec<_>>()
        .join("; ");
    if line.is_empty() {
        "no settings".into()
    } else {
        line
    }
}

/// The steps of a definition, in order, each with where its branches go.
pub fn steps(def: &NewAutomation) -> Vec<StepView> {
    def.steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let following = def.steps.get(i + 1).map(|s| s.id.clone());
            step_view(step, following)
        })
        .collect()
}

/// A branch that names its step, or ends the run (`ends`) when left out.
fn to(name: impl Into<String>, target: &Option<String>, ends: &'static str) -> Branch {
    Branch {
        name: name.into(),
        to: target.clone(),
        note: if target.is_some() { "" } else { ends },
    }
}

fn step_view(step: &Step, following: Option<String>) -> StepView {
    // A kind that does not branch goes on to `next`, else the step after it in the list,
    // and after the last step the run is complete.
    let next = || {
        let (to, note) = match (&step.next, following) {
            (Some(n), _) => (Some(n.clone()), ""),
            (None, Some(f)) => (Some(f), "the following step"),
            (None, None) => (None, "the run completes"),
        };
        vec![Branch {
            name: "next".into(),
            to,
            note,
        }]
    };
    let ends = "ends the run";
    let (kind, settings, branches) = match &step.action {
        Action::Send(s) => {
            let mut out = Vec::new();
            if let Some(t) = &s.text {
                out.push(words("text", t.clone()));
            }
            if let Some(t) = &s.template {
                out.push(json("template", t));
            }
            if !s.quick_replies.is_empty() {
                let titles = s
                    .quick_replies
                    .iter()
                    .map(|q| format!("{} (payload {})", q.title, q.payload));
                out.push(words(
                    "quick replies",
                    titles.collect::<Vec<_>>().join(", "),
                ));
            }
            if !s.buttons.is_empty() {
                out.push(json("buttons", &s.buttons));
            }
            if !s.carousel.is_empty() {
                out.push(json("carousel", &s.carousel));
            }
            if !s.media.is_empty() {
                out.push(json("media", &s.media));
            }
            out.push(words(
                "sent through",
                match &s.policy {
                    Some(p) => format!("the routing policy {p}"),
                    None => "the conversation's channel".into(),
                },
            ));
            ("send", out, next())
        }
        Action::Wait(w) => {
            let mut branches = vec![to("reply", &w.reply, ends)];
            for (payload, target) in &w.buttons {
                branches.push(to(format!("button:{payload}"), &Some(target.clone()), ends));
            }
            branches.push(to("timeout", &w.timeout, "ends the run, timed out"));
            (
                "wait",
                vec![words("for", format!("{} minute(s)", w.minutes))],
                branches,
            )
        }
        Action::Ask(a) => {
            let mut out = vec![
                words(
                    "field",
                    match a.field {
                        AskField::Email => "email",
                        AskField::Phone => "phone",
                    },
                ),
                words("question", a.text.clone()),
                words("each answer waited for", format!("{} minute(s)", a.minutes)),
                words("answers taken", a.attempts.to_string()),
            ];
            if let Some(r) = &a.retry_text {
                out.push(words("asked again with", r.clone()));
            }
            (
                "ask",
                out,
                vec![
                    to("answered", &a.answered, ends),
                    to("invalid", &a.invalid, ends),
                    to("timeout", &a.timeout, ends),
                ],
            )
        }
        Action::Branch(b) => (
            "branch",
            vec![json("if", &b.condition)],
            vec![to("then", &b.then, ends), to("else", &b.otherwise, ends)],
        ),
        Action::Tag(t) => ("tag", vec![words("tags", t.tags.join(", "))], next()),
        Action::Assign(a) => ("assign", vec![words("member", a.member.clone())], next()),
        Action::Handover(_) => (
            "handover",
            vec![words(
                "does",
                "hosting off, unanswered with no owner; the run ends completed",
            )],
            Vec::new(),
        ),
        Action::Notify(n) => ("notify", vec![json("targets", &n.targets)], next()),
        Action::End(_) => (
            "end",
            vec![words("does", "the run ends completed")],
            Vec::new(),
        ),
    };
    StepView {
        id: step.id.clone(),
        kind,
        settings,
        branches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(v: serde_json::Value) -> NewAutomation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn branches_name_their_steps_and_say_what_a_missing_one_does() {
        let d = def(
            json!({"name": "n", "trigger": {"type": "conversation.started"}, "steps": [
                {"id": "hello", "send": {"text": "Hi <b>"}},
                {"id": "choice", "wait": {"minutes": 10, "buttons": {"human": "bye"}, "reply": "bye"}},
                {"id": "check", "branch": {"if": {"==": [1, 1]}, "then": "bye"}},
                {"id": "bye", "send": {"text": "Bye"}, "next": "hello"}
            ]}),
        );
        let s = steps(&d);
        assert_eq!(s[0].kind, "send");
        assert_eq!(
            s[0].settings[0].value, "Hi <b>",
            "escaping is the template's"
        );
        assert_eq!(s[0].branches[0].to.as_deref(), Some("choice"));
        assert_eq!(s[0].branches[0].note, "the following step");
        let wait: Vec<_> = s[1]
            .branches
            .iter()
            .map(|b| (b.name.as_str(), b.to.as_deref(), b.note))
            .collect();
        assert_eq!(
            wait,
            [
                ("reply", Some("bye"), ""),
                ("button:human", Some("bye"), ""),
                ("timeout", None, "ends the run, timed out"),
            ]
        );
        assert_eq!(s[2].branches[1].to, None);
        assert!(s[2].settings[0].json);
        assert_eq!(s[3].branches[0].to.as_deref(), Some("hello"));
    }

    #[test]
    fn the_last_step_completes_the_run_and_triggers_read_as_words() {
        let d = def(
            json!({"name": "n", "trigger": {"type": "visitor.no_reply", "minutes": 30,
            "states": ["unassigned"]}, "steps": [{"id": "s1", "tag": {"tags": ["a", "b"]}}]}),
        );
        let s = steps(&d);
        assert_eq!(s[0].branches[0].to, None);
        assert_eq!(s[0].branches[0].note, "the run completes");
        assert_eq!(trigger_type(&d.trigger), "visitor.no_reply");
        let line = trigger_line(&d.trigger);
        assert!(line.contains("30 minute(s)"), "{line}");
        assert!(line.contains("conversation states: unassigned"), "{line}");
        let started = def(
            json!({"name": "n", "trigger": {"type": "conversation.started"},
            "steps": [{"id": "e", "end": {}}]}),
        );
        assert_eq!(trigger_line(&started.trigger), "no settings");
        assert!(steps(&started)[0].branches.is_empty());
        let keyed = def(json!({"name": "n", "trigger": {"type": "message.received",
            "keywords": ["price"], "condition": {"==": [{"var": "message.text"}, "x"]}},
            "steps": [{"id": "e", "end": {}}]}));
        let line = trigger_line(&keyed.trigger);
        assert!(
            line.contains(r#"message condition: {"==":[{"var":"message.text"},"x"]}"#),
            "{line}"
        );
    }
}
