//! Conversations with owners: the states a conversation goes through and who owns it, as
//! Chatwoot's conversation model has them.
//!
//! - A customer's message opens a conversation `unanswered` (or reopens a `finished` one) and
//!   starts the wait (`waiting_since`) if nothing was waiting.
//! - An agent's message answers the wait (an `answered` event carrying the response time), and
//!   on a conversation that is not `active` takes it: `active`, owned by the member who wrote.
//! - `take` makes a member the owner; another member's conversation is refused
//!   (`conversation_taken`, naming the owner) unless `overtake` says so.
//! - `finish` closes the round (`finished`, carrying the handling time since the round began);
//!   only its owner may, and finishing an unowned one makes the finisher its owner.
//! - `hand_over` (an automation's) puts it back `unanswered` with no owner, the customer
//!   waiting (see `hosting.rs`).
//!
//! Every transition is a row of `conversation_events` and a webhook event
//! (`conversation.opened`, `.taken`, `.overtaken`, `.answered`, `.finished`, `.reopened`,
//! `.handed_over`), in
//! the same commit as the change; the statistics are sums over those rows, so they hold across
//! restarts and concurrent traffic.
//!
//! The transitions are pure functions of the state row ([`Transition`]), tested without a
//! database.

use serde_json::json;

use crate::model::{ConversationStats, ConversationSummary, Millis, now_ms, rfc3339};
use crate::store::StoreError;
use crate::store::conversation_records as record_rows;
use crate::store::conversation_states::{self as rows, ConversationEvent, ConversationState};

pub(crate) mod record;
pub mod records;
pub mod tags;
pub use record::{NewMessage, Recorded};
pub(crate) use record::{ProviderMessage, record_provider_messages};

/// Why a conversation action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("member: no member {0} in this workspace")]
    UnknownMember(String),
    #[error(
        "the conversation is owned by {owner_name} ({owner}); take it with overtake to proceed"
    )]
    Taken { owner: String, owner_name: String },
    #[error("the conversation is already finished")]
    AlreadyFinished,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an agent's action changes: the new state row and the events it leaves.
#[derive(Debug)]
pub struct Transition {
    pub state: ConversationState,
    pub events: Vec<ConversationEvent>,
}

fn event(
    kind: &str,
    member: Option<&str>,
    previous: Option<String>,
    value: Option<Millis>,
    at: Millis,
) -> ConversationEvent {
    ConversationEvent {
        kind: kind.to_string(),
        member_id: member.map(str::to_string),
        previous_owner: previous,
        value_ms: value,
        at,
    }
}

/// The owner other than `member`, unless overtaking.
fn check_owner(s: &ConversationState, member: Option<&str>, overtake: bool) -> Result<(), String> {
    match (&s.owner, member) {
        (Some(owner), Some(m)) if owner != m && !overtake => Err(owner.clone()),
        _ => Ok(()),
    }
}

/// Make `member` the owner of an active conversation (`taken`, or `overtaken` from another).
fn own(
    s: &mut ConversationState,
    member: Option<&str>,
    events: &mut Vec<ConversationEvent>,
    now: Millis,
) {
    let previous = s.owner.clone();
    if s.state != "active" {
        s.state = "active".into();
        s.state_at = now;
    } else if member.is_none() || previous.as_deref() == member {
        return;
    }
    let kind = match (&previous, member) {
        (Some(p), Some(m)) if p != m => "overtaken",
        _ => "taken",
    };
    if let Some(m) = member {
        s.owner = Some(m.to_string());
    }
    events.push(event(
        kind,
        member,
        previous.filter(|_| kind == "overtaken"),
        None,
        now,
    ));
}

/// A finished conversation starts a new round.
fn reopen(
    s: &mut ConversationState,
    member: Option<&str>,
    events: &mut Vec<ConversationEvent>,
    now: Millis,
) {
    s.state = "unanswered".into();
    s.state_at = now;
    s.opened_at = now;
    events.push(event("reopened", member, None, None, now));
}

impl Transition {
    /// The customer wrote. A wait that begins sets its no-reply alert `alert_after` later,
    /// when the workspace has one.
    pub fn customer(
        mut s: ConversationState,
        created: bool,
        now: Millis,
        alert_after: Option<Millis>,
    ) -> Transition {
        let mut events = Vec::new();
        if created {
            events.push(event("opened", None, None, None, now));
        } else if s.state == "finished" {
            reopen(&mut s, None, &mut events, now);
            s.waiting_since = None;
        }
        if s.waiting_since.is_none() {
            s.waiting_since = Some(now);
            s.alert_due_at = alert_after.map(|a| now + a);
        }
        Transition { state: s, events }
    }

    /// An agent wrote (as `member`, when the call names one).
    pub fn agent(
        mut s: ConversationState,
        created: bool,
        member: Option<&str>,
        overtake: bool,
        now: Millis,
    ) -> Result<Transition, String> {
        check_owner(&s, member, overtake)?;
        let mut events = Vec::new();
        if created {
            events.push(event("opened", member, None, None, now));
        } else if s.state == "finished" {
            reopen(&mut s, member, &mut events, now);
        }
        own(&mut s, member, &mut events, now);
        if let Some(waited) = s.waiting_since.take() {
            s.alert_due_at = None;
            events.push(event("answered", member, None, Some(now - waited), now));
        }
        Ok(Transition { state: s, events })
    }

    pub fn take(
        mut s: ConversationState,
        member: &str,
        overtake: bool,
        now: Millis,
    ) -> Result<Transition, String> {
        check_owner(&s, Some(member), overtake)?;
        let mut events = Vec::new();
        if s.state == "finished" {
            reopen(&mut s, Some(member), &mut events, now);
        }
        own(&mut s, Some(member), &mut events, now);
        Ok(Transition { state: s, events })
    }

    /// An automation hands the conversation over to the agents (its bot could not help):
    /// `unanswered` with no owner, so any agent may take it. The customer is waiting from now
    /// unless they already were, and the no-reply alert is armed as a customer message would
    /// arm it. A finished conversation begins a new round. The caller also switches hosting
    /// off (`hosting::set_hosting`, by `automation`), or the bot would go on answering.
    pub fn hand_over(
        mut s: ConversationState,
        now: Millis,
        alert_after: Option<Millis>,
    ) -> Transition {
        let previous = s.owner.take();
        if s.state == "finished" {
            s.opened_at = now;
        }
        if s.state != "unanswered" {
            s.state = "unanswered".into();
            s.state_at = now;
        }
        if s.waiting_since.is_none() {
            s.waiting_since = Some(now);
            s.alert_due_at = alert_after.map(|a| now + a);
        }
        let events = vec![event("handed_over", None, previous, None, now)];
        Transition { state: s, events }
    }

    /// `member` gives the conversation back to the team (Chatwoot's unassign): no owner, its
    /// state and wait unchanged. Another member's is refused unless `overtake`.
    pub fn release(
        mut s: ConversationState,
        member: &str,
        overtake: bool,
        now: Millis,
    ) -> Result<Transition, String> {
        check_owner(&s, Some(member), overtake)?;
        let events = match s.owner.take() {
            Some(previous) => vec![event("released", Some(member), Some(previous), None, now)],
            None => Vec::new(),
        };
        Ok(Transition { state: s, events })
    }

    /// `Err(None)`: already finished; `Err(Some(owner))`: someone else's.
    pub fn finish(
        mut s: ConversationState,
        member: &str,
        now: Millis,
    ) -> Result<Transition, Option<String>> {
        if s.state == "finished" {
            return Err(None);
        }
        check_owner(&s, Some(member), false).map_err(Some)?;
        s.owner = Some(member.to_string());
        s.state = "finished".into();
        s.state_at = now;
        s.waiting_since = None;
        let events = vec![event(
            "finished",
            Some(member),
            None,
            Some(now - s.opened_at),
            now,
        )];
        Ok(Transition { state: s, events })
    }
}

/// The webhook event type of a transition.
fn webhook_kind(kind: &str) -> &'static str {
    match kind {
        "opened" => "conversation.opened",
        "taken" => "conversation.taken",
        "overtaken" => "conversation.overtaken",
        "answered" => "conversation.answered",
        "finished" => "conversation.finished",
        "handed_over" => "conversation.handed_over",
        "released" => "conversation.released",
        _ => "conversation.reopened",
    }
}

/// Save a transition: the state row, its events and their webhook events, in the caller's
/// transaction.
///
/// The record's firsts move here too: the first member to take the conversation received it,
/// and the first answer's wait is its first response time.
pub fn apply(t: &crate::store::sql::Transaction, tr: &Transition) -> Result<(), StoreError> {
    rows::save_state(t, &tr.state)?;
    for e in &tr.events {
        rows::insert_event(t, &tr.state.workspace_id, &tr.state.id, e)?;
        let received = match (e.kind.as_str(), &e.member_id) {
            ("taken" | "overtaken", Some(member)) => Some((member.as_str(), e.at)),
            _ => None,
        };
        let response = (e.kind == "answered").then_some(e.value_ms).flatten();
        if received.is_some() || response.is_some() {
            record_rows::note_firsts(t, &tr.state.id, received, response)?;
        }
        crate::events::record(
            t,
            &tr.state.workspace_id,
            webhook_kind(&e.kind),
            e.at,
            json!({
                "conversation_id": tr.state.id,
                "contact_id": tr.state.contact_id,
                "state": tr.state.state,
                "owner": tr.state.owner,
                "member": e.member_id,
                "previous_owner": e.previous_owner,
                "duration_ms": e.value_ms,
            }),
        )?;
    }
    Ok(())
}

pub fn summary(s: ConversationState) -> ConversationSummary {
    ConversationSummary {
        id: s.id,
        contact: s.contact_id,
        state: s.state,
        owner: s.owner,
        state_at: rfc3339(s.state_at),
        waiting_since: s.waiting_since.map(rfc3339),
        hosted: s.hosted,
        created_at: rfc3339(s.created_at),
    }
}

/// A member of `ws`, or the error naming the field.
fn member_of(
    c: &crate::store::sql::Connection,
    ws: &str,
    member: &str,
) -> Result<String, ConversationError> {
    crate::store::members::member_in(c, ws, member)?
        .map(|m| m.view.name)
        .ok_or_else(|| ConversationError::UnknownMember(member.to_string()))
}

fn taken(c: &crate::store::sql::Connection, ws: &str, owner: String) -> ConversationError {
    let owner_name = crate::store::members::member_in(c, ws, &owner)
        .ok()
        .flatten()
        .map(|m| m.view.name)
        .unwrap_or_default();
    ConversationError::Taken { owner, owner_name }
}

impl crate::Gateway {
    pub async fn take_conversation(
        &self,
        ws: String,
        id: String,
        member: String,
        overtake: bool,
    ) -> Result<ConversationSummary, ConversationError> {
        self.change_owner(ws, id, member, overtake, false).await
    }

    /// Give a conversation back to the team: nobody owns it (see [`Transition::release`]).
    pub async fn release_conversation(
        &self,
        ws: String,
        id: String,
        member: String,
        overtake: bool,
    ) -> Result<ConversationSummary, ConversationError> {
        self.change_owner(ws, id, member, overtake, true).await
    }

    /// A member takes (or releases) a conversation, in one write; a take stops the bot's
    /// runs in that commit.
    async fn change_owner(
        &self,
        ws: String,
        id: String,
        member: String,
        overtake: bool,
        release: bool,
    ) -> Result<ConversationSummary, ConversationError> {
        self.store
            .write(move |t| {
                // Another workspace's conversation is not found, whoever asks.
                let state = rows::state_of(t, &ws, &id)?
                    .ok_or(ConversationError::NotFound("conversation"))?;
                member_of(t, &ws, &member)?;
                let now = now_ms();
                let change = if release {
                    Transition::release
                } else {
                    Transition::take
                };
                let tr =
                    change(state, &member, overtake, now).map_err(|owner| taken(t, &ws, owner))?;
                apply(t, &tr)?;
                if !release {
                    let taken = crate::automations::triggers::Happening::Taken;
                    crate::automations::triggers::on_conversation(t, &tr.state, taken, now)?;
                }
                Ok(summary(tr.state))
            })
            .await
    }

    pub async fn finish_conversation(
        &self,
        ws: String,
        id: String,
        member: String,
    ) -> Result<ConversationSummary, ConversationError> {
        self.store
            .write(move |t| {
                let state = rows::state_of(t, &ws, &id)?
                    .ok_or(ConversationError::NotFound("conversation"))?;
                member_of(t, &ws, &member)?;
                let tr =
                    Transition::finish(state, &member, now_ms()).map_err(|owner| match owner {
                        Some(owner) => taken(t, &ws, owner),
                        None => ConversationError::AlreadyFinished,
                    })?;
                apply(t, &tr)?;
                Ok(summary(tr.state))
            })
            .await
    }

    /// The figures of `[since, until)`, for one member or everyone.
    pub async fn conversation_stats(
        &self,
        ws: String,
        since: Millis,
        until: Millis,
        member: Option<String>,
    ) -> Result<ConversationStats, StoreError> {
        self.store
            .read(move |c| {
                let t = rows::totals(c, &ws, since, until, member.as_deref())?;
                let mean = |total: i64, n: i64| (n > 0).then(|| total / n);
                Ok(ConversationStats {
                    since: rfc3339(since),
                    until: rfc3339(until),
                    member,
                    finished: t.finished,
                    active: t.active,
                    answered: t.answered,
                    average_response_ms: mean(t.response_ms_total, t.response_count),
                    average_handling_ms: mean(t.handling_ms_total, t.handling_count),
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests;
