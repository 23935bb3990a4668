//! Follow-up notifications: when a customer leaves in the middle of a conversation with an
//! agent reply they have not seen, that reply follows them through the built-in `follow-up`
//! policy (push; if not received in 30 s, AlimTalk-else-SMS and email).
//!
//! Presence comes from `POST /v1/activity`: `page_view`, `heartbeat` and `tab_visible` keep
//! the customer online for 4 min 30 s; `tab_hidden` and `left` take them offline at once.
//! Going offline (now, or when the presence deadline passes) checks the conversation:
//! - a conversation the agent started and the customer never answered is not followed up;
//! - agent messages marked marketing are not followed up;
//! - each reply is followed up once (the follow-up's idempotency key is derived from the
//!   reply, so a crash between sending and recording it cannot send twice).
//!
//! The follow-up email goes out from the workspace's follow-up sender when one is set
//! (`PATCH /v1/sender-domains/{id}` with `follow_up`), its domain is verified and its
//! connection is the one the email channel goes through; otherwise from that connection's
//! own sender.

use std::sync::Arc;
use std::time::Duration;

use crate::connections::Connections;
use crate::dispatch::Dispatcher;
use crate::intake::IntakeError;
use crate::model::{
    Category, Content, NewMessage, PolicyRef, Recipient, TemplateRef, new_id, now_ms,
};
use crate::routing::plan::Planner;
use crate::routing::policy::FOLLOW_UP;
use crate::routing::{InsertRouted, Router};
use crate::sender_domains::SenderDomains;
use crate::store::{Inserted, Store, StoreError};

/// The sandbox clock can jump, so the loop never sleeps long on a computed deadline.
const POLL: Duration = Duration::from_millis(100);
/// After a failed follow-up (store or plugin trouble), wait before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// What going offline led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// Nothing to follow up: no unseen agent reply that qualifies.
    Nothing,
    /// The follow-up message, accepted and routed.
    Sent(String),
    /// A reply was due but the follow-up could not be routed (for example, the contact has
    /// no address on any of the policy's channels). Logged and not retried.
    Impossible(String),
}

/// The follow-up service: turns presence into follow-ups. A follow-up is an ordinary routed
/// message, so it is planned and accepted through the same [`Planner`] and [`Router`] as one
/// sent through the API; what this owns is the decision to send one and its bookkeeping.
pub struct FollowUps {
    /// Presence, pending replies and contact addresses (`store::conversations`).
    store: Arc<Store>,
    planner: Arc<Planner>,
    router: Arc<Router>,
    /// Woken after a follow-up is accepted, as after any API send.
    dispatcher: Arc<Dispatcher>,
    /// The workspace's follow-up sender, and which connection a channel goes through.
    senders: Arc<SenderDomains>,
    connections: Arc<Connections>,
}

impl FollowUps {
    pub fn new(
        store: Arc<Store>,
        planner: Arc<Planner>,
        router: Arc<Router>,
        dispatcher: Arc<Dispatcher>,
        senders: Arc<SenderDomains>,
        connections: Arc<Connections>,
    ) -> Arc<Self> {
        Arc::new(FollowUps {
            store,
            planner,
            router,
            dispatcher,
            senders,
            connections,
        })
    }

    /// The follow-up sender, when its domain is verified and its connection is the one its
    /// channel goes through (a routed message's channels go through the workspace's first
    /// connection for each).
    async fn sender(&self, workspace: &str) -> Result<Option<crate::model::Sender>, IntakeError> {
        let Some((connection, sender)) = self.senders.follow_up_sender(workspace).await? else {
            return Ok(None);
        };
        let used = self
            .connections
            .get(&connection)
            .and_then(|c| self.connections.for_channel(workspace, &c.channel))
            .is_some_and(|c| c.id == connection);
        if !used {
            tracing::info!(
                workspace,
                connection,
                "the follow-up sender's connection is not the one its channel goes through"
            );
        }
        Ok(used.then_some(sender))
    }

    /// A sign of presence from the customer's app or page. Returns the follow-up this sent,
    /// if the contact just went offline.
    /// A follow-up that fails for a passing reason stays due and the background loop retries
    /// it, so the presence itself is recorded regardless.
    pub async fn record_presence(
        &self,
        workspace: &str,
        contact: &str,
        online: bool,
    ) -> Result<Option<FollowUp>, StoreError> {
        let went_offline = self
            .store
            .record_presence(workspace.into(), contact.into(), online)
            .await?;
        if !went_offline {
            return Ok(None);
        }
        match self.follow_up(workspace, contact).await {
            Ok(outcome) => Ok(Some(outcome)),
            Err(e) => {
                tracing::warn!(contact, error = %e, "follow-up will be retried");
                Ok(None)
            }
        }
    }

    /// Send the follow-up for a contact who went offline, if their conversation calls for
    /// one, and clear the check the offline transition left due.
    /// Store and plugin errors leave the check due, to be retried.
    pub async fn follow_up(&self, workspace: &str, contact: &str) -> Result<FollowUp, IntakeError> {
        let outcome = match self.send_follow_up(workspace, contact).await {
            Ok(outcome) => outcome,
            Err(e @ (IntakeError::Store(_) | IntakeError::Plugin(_))) => return Err(e),
            Err(e) => FollowUp::Impossible(e.to_string()),
        };
        self.store
            .follow_up_checked(workspace.into(), contact.into())
            .await?;
        match &outcome {
            FollowUp::Sent(id) => tracing::info!(contact, message = %id, "follow-up sent"),
            FollowUp::Impossible(why) => tracing::info!(contact, why, "follow-up not possible"),
            FollowUp::Nothing => {}
        }
        Ok(outcome)
    }

    async fn send_follow_up(
        &self,
        workspace: &str,
        contact: &str,
    ) -> Result<FollowUp, IntakeError> {
        let replies = self
            .store
            .pending_replies(workspace.into(), contact.into())
            .await?;
        let Some(last) = replies.last().cloned() else {
            return Ok(FollowUp::Nothing);
        };
        let mut to = Recipient::default();
        for (kind, address, platform) in self.store.contact_addresses(contact.into()).await? {
            match kind.as_str() {
                "push" if to.push_token.is_none() => {
                    to.push_token = Some(address);
                    to.push_platform = platform;
                }
                "phone" if to.phone.is_none() => to.phone = Some(address),
                "email" if to.email.is_none() => to.email = Some(address),
                _ => {}
            }
        }
        let text = replies
            .iter()
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        let template = last
            .template
            .as_deref()
            .and_then(|t| serde_json::from_str::<TemplateRef>(t).ok());
        let request = NewMessage {
            channel: String::new(),
            policy: Some(PolicyRef::Named(FOLLOW_UP.into())),
            to,
            content: Content {
                subject: Some("New reply to your conversation".into()),
                text: Some(text),
                template,
                ..Default::default()
            },
            category: Category::FollowUp,
            metadata: [("conversation".to_string(), last.conversation_id.clone())].into(),
            options: Default::default(),
            connection: None,
            from: self.sender(workspace).await?,
        };
        let key = format!("follow-up:{}:{}", last.conversation_id, last.seq);
        let prepared = match self
            .planner
            .prepare_routed(workspace, request.clone())
            .await
        {
            // The domain failed a check since it was read: the reply still follows the
            // customer, from the connection's own sender.
            Err(IntakeError::SenderDomainUnverified { .. }) if request.from.is_some() => {
                let request = NewMessage {
                    from: None,
                    ..request
                };
                self.planner.prepare_routed(workspace, request).await?
            }
            other => other?,
        };
        let id = new_id("msg");
        let inserted = self
            .router
            .accept(InsertRouted {
                id: id.clone(),
                workspace_id: workspace.into(),
                request: prepared.request,
                request_hash: key.clone(),
                idempotency_key: Some(key),
                policy: prepared.policy,
                entries: prepared.entries,
            })
            .await?;
        let id = match inserted {
            Inserted::New => id,
            Inserted::Existing { id, .. } => id,
        };
        self.store
            .mark_followed_up(replies.iter().map(|r| r.seq).collect(), id.clone())
            .await?;
        self.dispatcher.wake();
        Ok(FollowUp::Sent(id))
    }

    /// Takes contacts offline when their presence deadline passes, and follows up.
    pub async fn run(self: Arc<Self>) {
        loop {
            let mut sleep = POLL;
            match self.store.expire_presence(256).await {
                Ok(due) => {
                    for (workspace, contact) in due {
                        if let Err(e) = self.follow_up(&workspace, &contact).await {
                            tracing::warn!(contact, error = %e, "follow-up failed; retrying");
                            sleep = RETRY;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "expiring presence failed");
                    sleep = RETRY;
                }
            }
            if let Ok(Some(deadline)) = self.store.next_presence_deadline().await {
                sleep = sleep.min(Duration::from_millis((deadline - now_ms()).max(0) as u64));
            }
            tokio::time::sleep(sleep).await;
        }
    }
}
