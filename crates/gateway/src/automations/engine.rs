//! The engine: due `visitor.no_reply` timers start runs, ready runs take their next steps,
//! and waits whose time has come take their timeout branch.
//!
//! Why a step never runs twice where it sends: a message to a provider is committed under
//! the idempotency key `automation:<run>:<seq>` before the run moves on, so a crash between
//! the two sends nothing new when the step is taken again (the key answers the first
//! message); a message in the app's own chat, a tag, an assignment or a hand-over is written
//! in the commit that moves the run. Every move is conditional on the run's `seq`, so of
//! two nodes (or a reply and a timeout) racing on a run, one moves it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::defs;
use super::moves::{self, Move};
use super::triggers;
use crate::Gateway;
use crate::model::automation::{Action, NewAutomation, SendStep};
use crate::model::{
    ConnectionTarget, Content, EmailTarget, MemberTarget, Millis, NewMessage, PolicyRef, Recipient,
    Target, WebhookEndpointTarget, new_id, now_ms,
};
use crate::sending::{SendError, request_hash};
use crate::store::StoreError;
use crate::store::automation_runs::{self as runs, Run};
use crate::store::sql::Transaction;

/// How often the loop looks for due work (the sandbox clock jumps; nothing is more than this
/// late).
const POLL: Duration = Duration::from_millis(500);
/// Steps one run takes in a row before the others get their turn.
const STEPS_PER_TURN: usize = 50;

/// What a step writes in the commit that moves its run.
enum Effect {
    None,
    /// The bot's message in the app's own chat.
    AppMessage(String),
    Tags(Vec<String>),
    Assign(String),
    Handover,
    /// Inbox items for members and events for webhook endpoints.
    Notify(Vec<Target>),
}

impl Gateway {
    /// One pass of the engine: how many timers and runs it handled.
    pub async fn automations_pass(&self, limit: u32) -> Result<usize, StoreError> {
        let now = now_ms();
        let timers = self
            .store
            .read(move |c| runs::timers_due(c, now, limit))
            .await?;
        let mut handled = timers.len();
        for timer in timers {
            self.store
                .write(move |t| triggers::fire_timer(t, &timer, now))
                .await?;
        }
        let due = self
            .store
            .read(move |c| runs::runs_due(c, now, limit))
            .await?;
        handled += due.len();
        for run in due {
            self.drive(run).await?;
        }
        Ok(handled)
    }

    /// Take a run's steps until it waits, ends, or has had its turn.
    async fn drive(&self, mut run: Run) -> Result<(), StoreError> {
        for _ in 0..STEPS_PER_TURN {
            let now = now_ms();
            // Versions never change: most steps find theirs parsed already, without a hop to
            // the read pool.
            let def = match defs::cached(&run.automation_id, run.version) {
                Some(def) => Some(def),
                None => {
                    let (a, v) = (run.automation_id.clone(), run.version);
                    self.store.read(move |c| defs::version(c, &a, v)).await?
                }
            };
            let Some(def) = def else {
                self.settle(
                    moves::end_early(&run, "failed", "definition_missing", now),
                    Effect::None,
                )
                .await?;
                return Ok(());
            };
            let (m, effect) = match run.state.as_str() {
                "waiting" if run.wait_due_at.is_some_and(|d| d <= now) => {
                    (timeout(&def, &run, now), Effect::None)
                }
                "running" => self.step(&def, &run, now).await?,
                _ => return Ok(()),
            };
            match self.settle(m, effect).await? {
                Some(next) if next.state == "running" => run = next,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Commit a move and its step's writes, if the run is still where it was read.
    async fn settle(&self, m: Move, effect: Effect) -> Result<Option<Run>, StoreError> {
        self.store
            .write(move |t| {
                if !triggers::commit(t, &m)? {
                    return Ok(None);
                }
                apply(t, &m.run, effect, now_ms())?;
                Ok(Some(m.run))
            })
            .await
    }

    /// What the current step does, and the move that follows it.
    async fn step(
        &self,
        def: &NewAutomation,
        run: &Run,
        now: Millis,
    ) -> Result<(Move, Effect), StoreError> {
        let Some(step) = run.step.as_deref().and_then(|s| moves::step(def, s)) else {
            return Ok((
                moves::end_early(run, "failed", "step_missing", now),
                Effect::None,
            ));
        };
        let next = moves::default_next(def, &step.id);
        Ok(match &step.action {
            Action::Send(s) => match self.say(run, content(s), s.policy.as_deref()).await? {
                Ok(effect) => (moves::advance(run, "next", next, now), effect),
                Err(why) => (moves::end_early(run, "failed", &why, now), Effect::None),
            },
            Action::Ask(a) => {
                let text = match (&a.retry_text, run.attempt) {
                    (Some(retry), 1..) => retry.clone(),
                    _ => a.text.clone(),
                };
                let c = Content {
                    text: Some(text),
                    ..Content::default()
                };
                match self.say(run, c, None).await? {
                    Ok(effect) => (moves::wait(run, now + minutes(a.minutes)), effect),
                    Err(why) => (moves::end_early(run, "failed", &why, now), Effect::None),
                }
            }
            Action::Wait(w) => (moves::wait(run, now + minutes(w.minutes)), Effect::None),
            Action::Branch(b) => {
                let (ws, conv, answers) = (
                    run.workspace_id.clone(),
                    run.conversation_id.clone(),
                    run.answers.clone(),
                );
                let holds = {
                    let cond = b.condition.clone();
                    self.store
                        .read(move |c| {
                            let Some(state) =
                                crate::store::conversation_states::state_of(c, &ws, &conv)?
                            else {
                                return Ok::<_, StoreError>(false);
                            };
                            let f = triggers::facts(c, &state.id)?;
                            let answers: Value =
                                serde_json::from_str(&answers).unwrap_or_else(|_| json!({}));
                            let data = triggers::data(c, &state, &f, &answers)?;
                            Ok(crate::rules::condition::eval(&cond, &data))
                        })
                        .await?
                };
                if holds {
                    (
                        moves::advance(run, "then", b.then.clone(), now),
                        Effect::None,
                    )
                } else {
                    (
                        moves::advance(run, "else", b.otherwise.clone(), now),
                        Effect::None,
                    )
                }
            }
            Action::Tag(tag) => (
                moves::advance(run, "next", next, now),
                Effect::Tags(tag.tags.clone()),
            ),
            Action::Assign(a) => (
                moves::advance(run, "next", next, now),
                Effect::Assign(a.member.clone()),
            ),
            Action::Handover(_) => (moves::complete(run, now), Effect::Handover),
            Action::Notify(n) => {
                for (i, target) in n.targets.iter().enumerate() {
                    if let Err(why) = self.notify(run, target, i).await? {
                        tracing::warn!(run = %run.id, target = i, error = %why, "an automation's notification could not be sent");
                    }
                }
                (
                    moves::advance(run, "next", next, now),
                    Effect::Notify(n.targets.clone()),
                )
            }
            Action::End(_) => (moves::complete(run, now), Effect::None),
        })
    }

    /// A message to the visitor: through a policy, on the connection the customer wrote
    /// through, or (a chat through the API) the bot's message in the conversation itself.
    /// `Err` says why it was refused.
    async fn say(
        &self,
        run: &Run,
        content: Content,
        policy: Option<&str>,
    ) -> Result<Result<Effect, String>, StoreError> {
        let (conv, contact) = (run.conversation_id.clone(), run.contact_id.clone());
        let (f, addresses) = self
            .store
            .read(move |c| {
                Ok::<_, StoreError>((
                    triggers::facts(c, &conv)?,
                    runs::contact_address_map(c, &contact)?,
                ))
            })
            .await?;
        let mut to = Recipient::default();
        for (kind, address) in addresses {
            match kind.as_str() {
                "phone" => to.phone = Some(address),
                "email" => to.email = Some(address),
                "psid" => to.psid = Some(address),
                "push_token" => to.push_token = Some(address),
                _ => {}
            }
        }
        let (channel, policy, connection) = match (policy, &f.connection_id) {
            (Some(p), _) => (String::new(), Some(PolicyRef::Named(p.to_string())), None),
            (None, Some(conn)) => (f.channel.clone(), None, Some(conn.clone())),
            // The app's own chat carries text: a step with none (a template, media or cards
            // only) fails its run saying so, rather than post an empty message.
            (None, None) => {
                return Ok(match content.text {
                    Some(text) => Ok(Effect::AppMessage(text)),
                    None => Err("send_refused: the app's own chat carries text, and this step has none; give it a text or a policy".into()),
                });
            }
        };
        let request = NewMessage {
            channel,
            policy,
            to,
            content,
            category: Default::default(),
            metadata: [
                ("automation".to_string(), run.automation_id.clone()),
                ("run".to_string(), run.id.clone()),
            ]
            .into(),
            options: Default::default(),
            connection,
            from: None,
        };
        let key = format!("automation:{}:{}", run.id, run.seq);
        self.accept_keyed(run, request, key).await
    }

    async fn accept_keyed(
        &self,
        run: &Run,
        request: NewMessage,
        key: String,
    ) -> Result<Result<Effect, String>, StoreError> {
        let hash = request_hash(&request);
        match self
            .accept_message(run.workspace_id.clone(), request, hash, Some(key), None)
            .await
        {
            Ok(_) => Ok(Ok(Effect::None)),
            Err(SendError::Store(e)) => Err(e),
            Err(e) => Ok(Err(format!("send_refused: {e}"))),
        }
    }

    /// A notify step's email: sent before the run moves on, under its own key.
    async fn notify(
        &self,
        run: &Run,
        target: &Target,
        index: usize,
    ) -> Result<Result<(), String>, StoreError> {
        let (channel, to, connection) = match target {
            Target::Email(EmailTarget { email }) => (
                "email".to_string(),
                Recipient {
                    email: Some(email.clone()),
                    ..Recipient::default()
                },
                None,
            ),
            Target::Connection(ConnectionTarget { connection, to }) => {
                let Some(channel) = self.connections.get(connection).map(|c| c.channel.clone())
                else {
                    return Ok(Err(format!("connection {connection} no longer exists")));
                };
                (channel, to.clone(), Some(connection.clone()))
            }
            Target::Member(_) | Target::WebhookEndpoint(_) => return Ok(Ok(())),
        };
        let request = NewMessage {
            channel,
            policy: None,
            to,
            content: Content {
                subject: Some("An automation needs you".into()),
                text: Some(format!(
                    "Automation {} reached a notify step in conversation {}.",
                    run.automation_id, run.conversation_id
                )),
                ..Content::default()
            },
            category: Default::default(),
            metadata: [("run".to_string(), run.id.clone())].into(),
            options: Default::default(),
            connection,
            from: None,
        };
        let key = format!("automation:{}:{}:{index}", run.id, run.seq);
        Ok(self.accept_keyed(run, request, key).await?.map(|_| ()))
    }
}

fn minutes(m: u32) -> Millis {
    i64::from(m) * 60_000
}

fn content(s: &SendStep) -> Content {
    Content {
        text: s.text.clone(),
        media: s.media.clone(),
        carousel: s.carousel.clone(),
        buttons: s.buttons.clone(),
        quick_replies: s.quick_replies.clone(),
        template: s.template.clone(),
        ..Content::default()
    }
}

/// A wait's time ran out: its `timeout` branch, or the run ends `timed_out`.
fn timeout(def: &NewAutomation, run: &Run, now: Millis) -> Move {
    let to = match run.step.as_deref().and_then(|s| moves::step(def, s)) {
        Some(s) => match &s.action {
            Action::Wait(w) => w.timeout.clone(),
            Action::Ask(a) => a.timeout.clone(),
            _ => None,
        },
        None => None,
    };
    match to {
        Some(to) => moves::advance(run, "timeout", Some(to), now),
        None => moves::time_out(run, now),
    }
}

/// A step's writes, in the commit that moves the run (`run` as it was before the move).
fn apply(t: &Transaction, run: &Run, effect: Effect, now: Millis) -> Result<(), StoreError> {
    match effect {
        Effect::None => {}
        Effect::AppMessage(text) => {
            let row = crate::store::conversations::MessageRow {
                author: "bot",
                text: &text,
                marketing: false,
                template: None,
                off_platform: false,
                payload: None,
                connection_id: None,
            };
            crate::store::conversations::insert_message(t, &run.conversation_id, &row, now)?;
        }
        Effect::Tags(tags) => {
            for tag in tags {
                crate::store::conversation_records::add_tag(
                    t,
                    &run.workspace_id,
                    &run.conversation_id,
                    &tag,
                    now,
                )?;
            }
        }
        Effect::Assign(member) => {
            let state = crate::store::conversation_states::state_of(
                t,
                &run.workspace_id,
                &run.conversation_id,
            )?;
            let known = crate::store::members::member_in(t, &run.workspace_id, &member)?;
            if let (Some(state), Some(_)) = (state, known)
                && let Ok(tr) = crate::conversations::Transition::take(state, &member, true, now)
            {
                crate::conversations::apply(t, &tr)?;
            }
        }
        Effect::Handover => {
            crate::hosting::hand_over(t, &run.workspace_id, &run.conversation_id, now)?;
        }
        Effect::Notify(targets) => {
            let data = json!({"automation": run.automation_id, "run": run.id,
                "conversation": run.conversation_id, "contact": run.contact_id});
            for target in targets {
                match target {
                    Target::Member(MemberTarget { member }) => {
                        crate::store::rules::insert_inbox_item(
                            t,
                            &new_id("inb"),
                            &run.workspace_id,
                            &member,
                            "automation",
                            "An automation needs you",
                            &data.to_string(),
                            now,
                        )?;
                    }
                    Target::WebhookEndpoint(WebhookEndpointTarget { webhook_endpoint }) => {
                        crate::events::record_for_endpoint(
                            t,
                            &run.workspace_id,
                            &webhook_endpoint,
                            "automation.notification",
                            now,
                            data.clone(),
                        )?;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The loop: a pass every [`POLL`].
pub async fn run(gw: Arc<Gateway>) {
    loop {
        match gw.automations_pass(256).await {
            // A full batch: more may be due at once.
            Ok(n) if n >= 256 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the automations pass failed; trying again"),
        }
        tokio::time::sleep(POLL).await;
    }
}
