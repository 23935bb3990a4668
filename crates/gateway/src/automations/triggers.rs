//! What a conversation's changes do to automations, in the commit of each change: a
//! customer's message answers a waiting run and may start one; an agent's message arms the
//! `visitor.no_reply` timers; an agent taking the conversation or hosting going off stops
//! the runs. Being in the same commit is what makes a reply count once and a stop happen
//! "at once": nothing runs between the change and its consequence.

use serde_json::{Value, json};

use super::defs;
use super::moves::{self, Move};
use crate::model::Millis;
use crate::model::automation::{Action, ConversationScope, NewAutomation, Trigger, VisitorKind};
use crate::model::new_id;
use crate::store::StoreError;
use crate::store::automation_runs::{self as runs, Run, Timer};
use crate::store::conversation_states::ConversationState;
use crate::store::sql::{Connection, Transaction};

/// A change on a conversation, as automations see it.
#[derive(Debug, Clone, Copy)]
pub enum Happening<'a> {
    /// The customer wrote; `opened` when the message opened the conversation.
    Customer {
        text: &'a str,
        payload: Option<&'a str>,
        opened: bool,
    },
    /// An agent wrote: in the console or the API, or in the provider's own inbox
    /// (`off_platform`).
    Agent { off_platform: bool },
    /// A member took the conversation (or an agent's message did).
    Taken,
    /// A result was submitted about the conversation.
    Result { form: &'a str },
}

/// The facts of a conversation the triggers and conditions read.
pub struct Facts {
    pub hosted: bool,
    /// The channel of the connection the customer wrote through, or `chat`.
    pub channel: String,
    pub connection_id: Option<String>,
}

pub fn facts(c: &Connection, conversation_id: &str) -> Result<Facts, StoreError> {
    let (hosted, connection_id, channel) = runs::conversation_facts(c, conversation_id)?;
    Ok(Facts {
        hosted,
        channel: channel.unwrap_or_else(|| "chat".into()),
        connection_id,
    })
}

/// A returning visitor had a round before this one (the conversation was finished and
/// opened again); a new one is in their first.
fn is_returning(conv: &ConversationState) -> bool {
    conv.opened_at > conv.created_at
}

/// The data conditions see: `contact` and `conversation` (and a branch's `answers`).
pub fn data(
    c: &Connection,
    conv: &ConversationState,
    f: &Facts,
    answers: &Value,
) -> Result<Value, StoreError> {
    let addresses = runs::contact_address_map(c, &conv.contact_id)?;
    let mut contact = json!({"id": conv.contact_id});
    for (kind, address) in addresses {
        contact[kind] = Value::String(address);
    }
    Ok(json!({
        "contact": contact,
        "conversation": {
            "id": conv.id,
            "state": conv.state,
            "owner": conv.owner,
            "hosted": f.hosted,
            "channel": f.channel,
            "returning": is_returning(conv),
        },
        "answers": answers,
    }))
}

/// Apply a change's consequences; `true` when the engine has work now.
pub fn on_conversation(
    t: &Transaction,
    conv: &ConversationState,
    happening: Happening<'_>,
    now: Millis,
) -> Result<bool, StoreError> {
    match happening {
        Happening::Customer {
            text,
            payload,
            opened,
        } => {
            runs::clear_timers(t, &conv.id)?;
            let mut woke = false;
            for run in runs::live_runs(t, &conv.id)? {
                if run.state == "waiting" {
                    woke |= answer(t, &run, text, payload, now)?;
                }
            }
            let f = facts(t, &conv.id)?;
            if f.hosted {
                for (id, version, def) in defs::active(t, &conv.workspace_id)? {
                    let fires = match &def.trigger {
                        Trigger::ConversationStarted => opened,
                        Trigger::MessageReceived {
                            keywords,
                            condition,
                        } => {
                            keyword_matches(keywords, text)
                                && match condition {
                                    Some(c) => {
                                        let mut d = data(t, conv, &f, &Value::Null)?;
                                        d["message"] = json!({"text": text, "payload": payload});
                                        crate::rules::condition::eval(c, &d)
                                    }
                                    None => true,
                                }
                        }
                        _ => false,
                    };
                    if fires {
                        woke |= start(t, &id, version, &def, conv, &f, now)?;
                    }
                }
            }
            Ok(woke)
        }
        Happening::Agent { off_platform } => {
            for (id, _, def) in defs::active(t, &conv.workspace_id)? {
                if let Trigger::VisitorNoReply {
                    minutes,
                    off_platform: counts_off_platform,
                    ..
                } = def.trigger
                    && (!off_platform || counts_off_platform)
                {
                    runs::arm_timer(
                        t,
                        &Timer {
                            automation_id: id,
                            conversation_id: conv.id.clone(),
                            workspace_id: conv.workspace_id.clone(),
                            due_at: now + i64::from(minutes) * 60_000,
                        },
                    )?;
                }
            }
            Ok(false)
        }
        Happening::Taken => {
            stop_runs(t, &conv.id, "taken", now)?;
            Ok(false)
        }
        Happening::Result { form } => {
            let f = facts(t, &conv.id)?;
            let mut woke = false;
            if f.hosted {
                for (id, version, def) in defs::active(t, &conv.workspace_id)? {
                    if let Trigger::ResultSubmitted { form: want } = &def.trigger
                        && want.as_deref().is_none_or(|w| w == form)
                    {
                        woke |= start(t, &id, version, &def, conv, &f, now)?;
                    }
                }
            }
            Ok(woke)
        }
    }
}

/// Keywords match as case-insensitive substrings of the text; no keywords match everything.
fn keyword_matches(keywords: &[String], text: &str) -> bool {
    let text = text.to_lowercase();
    keywords.is_empty() || keywords.iter().any(|k| text.contains(&k.to_lowercase()))
}

/// A due `visitor.no_reply` timer, in its own commit: whether a run started or was counted.
pub fn fire_timer(t: &Transaction, timer: &Timer, now: Millis) -> Result<bool, StoreError> {
    if !runs::take_timer(t, timer)? {
        return Ok(false);
    }
    let Some(conv) = crate::store::conversation_states::state_of(
        t,
        &timer.workspace_id,
        &timer.conversation_id,
    )?
    else {
        return Ok(false);
    };
    let Some((id, version, def)) = defs::active(t, &timer.workspace_id)?
        .into_iter()
        .find(|(id, ..)| *id == timer.automation_id)
    else {
        return Ok(false);
    };
    let Trigger::VisitorNoReply {
        visitor, states, ..
    } = &def.trigger
    else {
        return Ok(false);
    };
    let f = facts(t, &conv.id)?;
    let visitor_fits = match visitor {
        VisitorKind::Any => true,
        VisitorKind::New => !is_returning(&conv),
        VisitorKind::Returning => is_returning(&conv),
    };
    let state_fits = states.iter().any(|s| match s {
        ConversationScope::Hosted => f.hosted,
        ConversationScope::Assigned => conv.owner.is_some(),
        ConversationScope::Unassigned => conv.owner.is_none(),
    });
    if !(visitor_fits && state_fits) {
        return Ok(false);
    }
    start(t, &id, version, &def, &conv, &f, now)
}

/// Start a run, or count the trigger on the one already going: `true` when a run started.
fn start(
    t: &Transaction,
    automation_id: &str,
    version: u32,
    def: &NewAutomation,
    conv: &ConversationState,
    f: &Facts,
    now: Millis,
) -> Result<bool, StoreError> {
    if let Some(cond) = &def.condition
        && !crate::rules::condition::eval(cond, &data(t, conv, f, &Value::Null)?)
    {
        return Ok(false);
    }
    let Some(first) = def.steps.first() else {
        return Ok(false);
    };
    let run = Run {
        id: new_id("run"),
        workspace_id: conv.workspace_id.clone(),
        automation_id: automation_id.to_string(),
        version,
        conversation_id: conv.id.clone(),
        contact_id: conv.contact_id.clone(),
        state: "running".into(),
        step: Some(first.id.clone()),
        seq: 1,
        attempt: 0,
        wait_due_at: None,
        answers: "{}".into(),
        participated: false,
        stop_reason: None,
        started_at: now,
        ended_at: None,
    };
    let started = runs::insert_run(t, &run)?;
    // A trigger while a run is going is counted on that run, not started twice.
    let counted_on = if started {
        run.clone()
    } else {
        match runs::live_run(t, automation_id, &conv.id)? {
            Some(live) => live,
            None => return Ok(false),
        }
    };
    let mut triggered = moves::event(&counted_on, "triggered", None, None, now);
    triggered.channel = Some(f.channel.clone());
    runs::insert_event(t, &triggered)?;
    if started {
        runs::insert_event(t, &moves::event(&run, "step", Some(&first.id), None, now))?;
    }
    Ok(started)
}

/// Stop every live run of the conversation, saying why (`taken`, `hosting_off`).
pub fn stop_runs(
    t: &Transaction,
    conversation_id: &str,
    reason: &str,
    now: Millis,
) -> Result<(), StoreError> {
    for run in runs::live_runs(t, conversation_id)? {
        commit(t, &moves::end_early(&run, "stopped", reason, now))?;
    }
    Ok(())
}

/// Write a move if the run is still where it was read: whether it was.
pub fn commit(t: &Transaction, m: &Move) -> Result<bool, StoreError> {
    if !runs::save_run(t, &m.run)? {
        return Ok(false);
    }
    for e in &m.events {
        runs::insert_event(t, e)?;
    }
    Ok(true)
}

/// A customer's message reaches a waiting run: the wait's branch, or the ask's check.
fn answer(
    t: &Transaction,
    run: &Run,
    text: &str,
    payload: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    let Some(def) = defs::version(t, &run.automation_id, run.version)? else {
        return Ok(false);
    };
    let Some(step) = run.step.as_deref().and_then(|s| moves::step(&def, s)) else {
        return Ok(false);
    };
    let mut m = match &step.action {
        Action::Wait(w) => match payload.and_then(|p| w.buttons.get(p).map(|to| (p, to))) {
            Some((p, to)) => moves::advance(run, &format!("button:{p}"), Some(to.clone()), now),
            None => moves::advance(run, "reply", w.reply.clone(), now),
        },
        Action::Ask(a) => {
            let answer = payload.unwrap_or(text).trim();
            match super::ask::check(a.field, answer) {
                Ok(value) => {
                    super::ask::save(t, run, a.field, &value, now)?;
                    let mut m = moves::advance(run, "answered", a.answered.clone(), now);
                    let mut answers: Value =
                        serde_json::from_str(&run.answers).unwrap_or_else(|_| json!({}));
                    answers[&step.id] = Value::String(value);
                    m.run.answers = answers.to_string();
                    m
                }
                Err(_) if run.attempt + 1 < a.attempts => moves::again(run, run.attempt + 1),
                Err(_) => moves::advance(run, "invalid", a.invalid.clone(), now),
            }
        }
        _ => return Ok(false),
    };
    moves::participate(&mut m, Some(&step.id), now);
    commit(t, &m)
}
