//! Sending the auto-replies the inbound commits decided ([`super::inbound`]): each as a
//! normal message through the gateway's own pipeline (intake, the commit behind the 202, the
//! dispatcher), on the connection the customer wrote to, under the idempotency key
//! `chat-auto-reply:<id>`. The pending row is settled with the message (or why none could
//! be accepted) after the commit, so a crash in between sends nothing twice: the next pass
//! finds the row pending and the key finds the message.
//!
//! The callback that decided a reply wakes the loop at once; the loop also looks every
//! [`POLL`] for rows another node or a crash left, once they are [`ORPHANED_AFTER_MS`] old
//! (a node that just decided one sends it itself, with its connection cache up to date).

use std::sync::Arc;
use std::time::Duration;

use crate::Gateway;
use crate::model::{Content, Millis, NewMessage, Recipient, now_ms};
use crate::sending::{SendError, request_hash};
use crate::store::StoreError;
use crate::store::chat_switch::{self as rows, AutoReplyRow};

/// How often the loop looks for replies left pending.
const POLL: Duration = Duration::from_secs(1);
/// How old a pending reply must be before a pass that was not woken for it takes it.
const ORPHANED_AFTER_MS: Millis = 5_000;
/// Replies taken per pass.
const BATCH: u32 = 64;

/// The message an auto-reply is: its text to the address the customer wrote from.
fn message(a: &AutoReplyRow, channel: String) -> Result<NewMessage, String> {
    let mut to = Recipient::default();
    let address = Some(a.address.clone());
    match a.address_kind.as_str() {
        "psid" => to.psid = address,
        "phone" => to.phone = address,
        "email" => to.email = address,
        "push" => to.push_token = address,
        other => return Err(format!("cannot answer an address of kind `{other}`")),
    }
    Ok(NewMessage {
        channel,
        policy: None,
        to,
        content: Content {
            text: Some(a.text.clone()),
            ..Content::default()
        },
        category: Default::default(),
        metadata: [
            ("kind".to_string(), "chat_auto_reply".to_string()),
            ("contact_event".to_string(), a.event_id.clone()),
        ]
        .into(),
        options: Default::default(),
        connection: Some(a.connection_id.clone()),
        from: None,
    })
}

impl Gateway {
    /// Commit the message of every pending auto-reply decided at or before `before`: how
    /// many were handled.
    pub async fn send_pending_auto_replies(&self, before: Millis) -> Result<usize, StoreError> {
        let pending = self
            .store
            .read(move |c| rows::pending_auto_replies(c, before, BATCH))
            .await?;
        for a in &pending {
            self.send_auto_reply(a).await?;
        }
        Ok(pending.len())
    }

    async fn send_auto_reply(&self, a: &AutoReplyRow) -> Result<(), StoreError> {
        let request = match self.connections.get(&a.connection_id) {
            Some(c) => message(a, c.channel.clone()),
            None => Err(format!("connection {} no longer exists", a.connection_id)),
        };
        let outcome = match request {
            Ok(request) => {
                let hash = request_hash(&request);
                let key = format!("chat-auto-reply:{}", a.id);
                match self
                    .accept_message(a.workspace_id.clone(), request, hash, Some(key), None)
                    .await
                {
                    Ok(sent) => Ok(sent.accepted.id),
                    Err(SendError::Store(e)) => return Err(e),
                    // The connection disabled since, an address the channel refuses: said on
                    // the contact's event, not retried forever.
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(why) => Err(why),
        };
        if let Err(why) = &outcome {
            tracing::warn!(auto_reply = %a.id, connection = %a.connection_id, error = %why, "an auto-reply could not be sent");
        }
        let id = a.id.clone();
        self.store
            .write(move |t| {
                let (state, message, detail) = match &outcome {
                    Ok(message) => ("sent", Some(message.as_str()), None),
                    Err(why) => ("failed", None, Some(why.as_str())),
                };
                rows::settle_auto_reply(t, &id, state, message, detail)
            })
            .await?;
        Ok(())
    }
}

/// The loop: at once when a callback decided a reply, else every [`POLL`] for what was left.
pub async fn run(gw: Arc<Gateway>) {
    let mut woken = true;
    loop {
        let before = if woken {
            now_ms()
        } else {
            now_ms() - ORPHANED_AFTER_MS
        };
        match gw.send_pending_auto_replies(before).await {
            // A full batch: more may be waiting.
            Ok(n) if n >= BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sending auto-replies failed; trying again"),
        }
        woken = tokio::select! {
            _ = gw.callbacks.auto_replies_due().notified() => true,
            _ = tokio::time::sleep(POLL) => false,
        };
    }
}
