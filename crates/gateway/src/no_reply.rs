//! No-reply alerts: when a customer has waited the workspace's `no_reply_alert_minutes` for an
//! agent's answer, an email goes to the conversation's owner, or to every member when nobody
//! owns it.
//!
//! The timer is the conversation's `alert_due_at`, set in the commit where the wait begins
//! and cleared in the commit of the answer (or the finish): a column behind an index, so it
//! survives restarts like every other timer. The loop sends what is due through the gateway's
//! own pipeline (the email channel, the workspace's first active email connection), each
//! alert under an idempotency key made of the conversation, the wait and the member: a crash
//! between sending and clearing the timer sends nothing twice, on any node.

use std::sync::Arc;
use std::time::Duration;

use crate::Gateway;
use crate::model::{Content, NewMessage, Recipient, now_ms, rfc3339};
use crate::sending::{SendError, request_hash};
use crate::store::StoreError;
use crate::store::conversation_states::{self as rows, ConversationState};

/// How often the loop looks for due alerts (the sandbox clock jumps; a timer is never
/// more than this late).
const POLL: Duration = Duration::from_secs(1);

/// One alert to send: to whom, and what it says.
struct Alert {
    member_id: String,
    email: String,
    subject: String,
    text: String,
}

impl Gateway {
    /// Who hears of one conversation's wait, and what they read.
    async fn alerts_for(&self, conv: &ConversationState) -> Result<Vec<Alert>, StoreError> {
        let conv = conv.clone();
        let public_url = self.public_url.trim_end_matches('/').to_string();
        self.store
            .read(move |c| {
                let members = match &conv.owner {
                    Some(owner) => crate::store::members::member_in(c, &conv.workspace_id, owner)?
                        .map(|m| vec![m.view])
                        .unwrap_or_default(),
                    None => crate::store::members::members(c, &conv.workspace_id)?,
                };
                let minutes = rows::no_reply_alert_minutes(c, &conv.workspace_id)?.unwrap_or(0);
                let waiting = conv.waiting_since.map(rfc3339).unwrap_or_default();
                let who = if conv.owner.is_some() { "your" } else { "an unassigned" };
                Ok(members
                    .into_iter()
                    .map(|m| Alert {
                        subject: format!("A customer has waited {minutes} minutes for an answer"),
                        text: format!(
                            "Hello {},\n\nA customer in {who} conversation {} has waited since {waiting} without an answer.\n\nOpen the contact: {public_url}/console/contacts/{}\n",
                            m.name, conv.id, conv.contact_id
                        ),
                        member_id: m.id,
                        email: m.email,
                    })
                    .collect())
            })
            .await
    }

    /// Send every alert due now: how many conversations were handled.
    pub async fn send_due_alerts(&self, limit: u32) -> Result<usize, StoreError> {
        let now = now_ms();
        let due = self
            .store
            .read(move |c| rows::alerts_due(c, now, limit))
            .await?;
        for conv in &due {
            let Some(due_at) = conv.alert_due_at else {
                continue;
            };
            for alert in self.alerts_for(conv).await? {
                let request = NewMessage {
                    channel: "email".into(),
                    policy: None,
                    to: Recipient {
                        email: Some(alert.email.clone()),
                        ..Recipient::default()
                    },
                    content: Content {
                        subject: Some(alert.subject),
                        text: Some(alert.text),
                        ..Content::default()
                    },
                    category: Default::default(),
                    metadata: [
                        ("conversation".to_string(), conv.id.clone()),
                        ("kind".to_string(), "no_reply_alert".to_string()),
                    ]
                    .into(),
                    options: Default::default(),
                    connection: None,
                    from: None,
                };
                let key = format!(
                    "no-reply:{}:{}:{}",
                    conv.id,
                    conv.waiting_since.unwrap_or(due_at),
                    alert.member_id
                );
                let hash = request_hash(&request);
                match self
                    .accept_message(conv.workspace_id.clone(), request, hash, Some(key), None)
                    .await
                {
                    Ok(_) => {}
                    Err(SendError::Store(e)) => return Err(e),
                    // No email connection, or an address the channel refuses: said in the
                    // log, and the timer is cleared so it does not fire forever.
                    Err(e) => {
                        tracing::warn!(conversation = %conv.id, member = %alert.member_id, error = %e, "a no-reply alert could not be sent");
                    }
                }
            }
            let (id, at) = (conv.id.clone(), due_at);
            self.store
                .write(move |t| rows::alert_sent(t, &id, at))
                .await?;
        }
        Ok(due.len())
    }
}

/// The loop: due alerts every [`POLL`].
pub async fn run(gw: Arc<Gateway>) {
    loop {
        if let Err(e) = gw.send_due_alerts(64).await {
            tracing::warn!(error = %e, "sending no-reply alerts failed; trying again");
        }
        tokio::time::sleep(POLL).await;
    }
}
