//! Writing a message into a contact's conversation, the one way every source does it: the
//! API (`POST /v1/conversations/{contact}/messages`, agent or customer) and the channels (a
//! customer's message through a provider, and a reply the business wrote outside Switchboard
//! that the provider echoes back).
//!
//! Echoes of Switchboard's own sends are recognised and left out, by the marker the plugin put
//! on the send (the delivery id, known from the moment the message was accepted, so an echo
//! that outruns the send's answer is still recognised) or by the provider id the send got: the
//! agent message those sends carry was already written when it was posted, and must not count
//! twice.

use super::{ConversationError, Transition, apply, member_of, rows, taken};
use crate::chat_switch::inbound::{Refused, refuse};
use crate::model::{AddressKey, ChatMode, Millis, now_ms};
use crate::store::chat_switch;
use crate::store::conversations::{self as store, MessageRow};
use crate::store::sql::Transaction;
use crate::store::{Activity, deliveries, record_activity, record_echo};

/// A message posted to a contact's conversation.
#[derive(Debug, Default)]
pub struct NewMessage {
    /// `agent` or `customer`.
    pub author: &'static str,
    pub text: String,
    pub marketing: bool,
    pub template: Option<String>,
    /// The member an agent message is written as.
    pub member: Option<String>,
    pub overtake: bool,
    /// An agent message written outside Switchboard, seen through the provider's echo.
    pub off_platform: bool,
    /// The payload of the button or quick reply a customer chose.
    pub payload: Option<String>,
    /// The connection a message from a provider came through.
    pub connection: Option<String>,
}

/// What recording a message wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub conversation_id: String,
    /// The message's sequence number (its id in the conversation view).
    pub seq: i64,
}

/// Record `m` on the contact's conversation (opened by whoever writes first) and move the
/// conversation as its author's message does, in the caller's transaction.
pub(crate) fn record_message(
    t: &Transaction,
    ws: &str,
    contact: &str,
    m: &NewMessage,
) -> Result<Recorded, ConversationError> {
    if let Some(member) = &m.member {
        member_of(t, ws, member)?;
    }
    let now = now_ms();
    let (id, created) = store::ensure_conversation(t, ws, contact, m.author, now)?;
    let row = MessageRow {
        author: m.author,
        text: &m.text,
        marketing: m.marketing,
        template: m.template.as_deref(),
        off_platform: m.off_platform,
        payload: m.payload.as_deref(),
        connection_id: m.connection.as_deref(),
    };
    let seq = store::insert_message(t, &id, &row, now)?;
    if m.author == "customer"
        && let Some(connection) = &m.connection
    {
        store::set_connection(t, &id, connection)?;
    }
    let state = rows::state_of(t, ws, &id)?.ok_or(ConversationError::NotFound("conversation"))?;
    let tr = if m.author == "customer" {
        let alert_after = rows::no_reply_alert_minutes(t, ws)?.map(|m| m * 60_000);
        Transition::customer(state, created, now, alert_after)
    } else {
        Transition::agent(state, created, m.member.as_deref(), m.overtake, now)
            .map_err(|owner| taken(t, ws, owner))?
    };
    apply(t, &tr)?;
    // What the message does to automations, in its own commit: a reply answers a waiting
    // run at once, and a human's message stops the bot.
    use crate::automations::triggers::{Happening, on_conversation};
    if m.author == "customer" {
        let h = Happening::Customer {
            text: &m.text,
            payload: m.payload.as_deref(),
            opened: created || tr.events.iter().any(|e| e.kind == "reopened"),
        };
        on_conversation(t, &tr.state, h, now)?;
    } else {
        on_conversation(t, &tr.state, Happening::Taken, now)?;
        let h = Happening::Agent {
            off_platform: m.off_platform,
        };
        on_conversation(t, &tr.state, h, now)?;
    }
    Ok(Recorded {
        conversation_id: id,
        seq,
    })
}

/// A message a provider reported on one connection, for its contact's conversation.
#[derive(Debug)]
pub(crate) enum ProviderMessage {
    /// The customer wrote: the contact's activity (with the message), and the payload of the
    /// button or quick reply they chose.
    Customer {
        activity: Activity,
        payload: Option<String>,
        /// What the conversation shows: the text, else the attachments.
        text: String,
    },
    /// Contact activity without a message (a read, a postback without payload).
    Activity(Activity),
    /// The business's own account sent this (an echo).
    Echo {
        key: AddressKey,
        provider_message_id: String,
        text: String,
        host_marker: Option<String>,
        at: Millis,
    },
}

/// What one callback's messages wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProviderOutcome {
    /// Conversation messages written.
    pub written: usize,
    /// Customer messages a `one_way` connection refused.
    pub refused: usize,
    /// Auto-replies decided (pending until the auto-reply loop commits them as messages).
    pub auto_replies: usize,
}

/// Apply what one callback reported, in the caller's transaction: contact activity as
/// before, each customer message not seen before as a `customer` message, and each echo that
/// is not one of this connection's own sends (and not seen before) as an `agent` message
/// written off platform by no member.
///
/// On a `one_way` connection (the setting as committed, read here) a customer's message
/// opens no conversation: it is kept as the contact's `inbound_refused` event and may get
/// the auto-reply ([`crate::chat_switch`]); an echo joins the contact's history but no
/// conversation either, since a conversation it opened could only wait for an answer the
/// switch refuses.
pub(crate) fn record_provider_messages(
    t: &Transaction,
    ws: &str,
    connection_id: &str,
    messages: &[ProviderMessage],
) -> Result<ProviderOutcome, ConversationError> {
    // No row: the connection was deleted while its callback was on the way; it is handled
    // as every connection was before the switch existed, two-way.
    let chat = chat_switch::chat_setting(t, connection_id)?.unwrap_or_default();
    let two_way = chat.mode == ChatMode::TwoWay;
    let mut out = ProviderOutcome::default();
    for m in messages {
        match m {
            ProviderMessage::Activity(a) => {
                record_activity(t, a)?;
            }
            ProviderMessage::Customer {
                activity,
                payload,
                text,
            } => {
                // A redelivered webhook repeats the message: it counted the first time.
                let (contact, new) = record_activity(t, activity)?;
                if new && !two_way {
                    let refused = Refused {
                        contact: &contact,
                        activity,
                        text,
                        payload: payload.as_deref(),
                    };
                    out.refused += 1;
                    if refuse(t, ws, connection_id, &chat, &refused)? {
                        out.auto_replies += 1;
                    }
                } else if new {
                    let msg = NewMessage {
                        author: "customer",
                        text: text.clone(),
                        payload: payload.clone(),
                        connection: Some(connection_id.to_string()),
                        ..NewMessage::default()
                    };
                    record_message(t, ws, &contact, &msg)?;
                    out.written += 1;
                }
            }
            ProviderMessage::Echo {
                key,
                provider_message_id,
                text,
                host_marker,
                at,
            } => {
                if deliveries::is_own_send(
                    t,
                    connection_id,
                    host_marker.as_deref(),
                    provider_message_id,
                )? {
                    continue;
                }
                let (contact, new) = record_echo(
                    t,
                    key,
                    connection_id,
                    provider_message_id,
                    Some(text.as_str()).filter(|t| !t.is_empty()),
                    *at,
                )?;
                if new && two_way {
                    let msg = NewMessage {
                        author: "agent",
                        text: text.clone(),
                        off_platform: true,
                        connection: Some(connection_id.to_string()),
                        ..NewMessage::default()
                    };
                    record_message(t, ws, &contact, &msg)?;
                    out.written += 1;
                }
            }
        }
    }
    Ok(out)
}

impl crate::Gateway {
    /// Post a message to the contact's conversation (opened by whoever writes first) and move
    /// the conversation as its author's message does: its sequence number.
    pub async fn post_conversation_message(
        &self,
        ws: String,
        contact: String,
        m: NewMessage,
    ) -> Result<i64, ConversationError> {
        self.store
            .write(move |t| Ok(record_message(t, &ws, &contact, &m)?.seq))
            .await
    }
}
