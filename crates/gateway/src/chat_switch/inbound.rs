//! A customer's message on a `one_way` connection, in the commit that records it: kept as the
//! contact's `inbound_refused` event, announced as `contact.inbound_refused`, and answered by
//! the connection's auto-reply when the contact has had none from it in 24 hours.

use serde_json::json;

use crate::model::{ChatSetting, Millis, new_id, now_ms};
use crate::store::chat_switch::{self as rows, AutoReplyRow, ContactEventRow};
use crate::store::sql::Transaction;
use crate::store::{Activity, StoreError};

/// How long after one auto-reply the same contact may get the next from a connection.
pub const AUTO_REPLY_EVERY_MS: Millis = 24 * 3_600_000;

/// The reason every refused message carries today.
pub const CHAT_DISABLED: &str = "chat_disabled";

/// A customer's message the switch refused.
pub(crate) struct Refused<'a> {
    pub contact: &'a str,
    pub activity: &'a Activity,
    /// What the message said (its text, else a line per attachment).
    pub text: &'a str,
    pub payload: Option<&'a str>,
}

/// Keep a refused message (the caller has recorded it as the contact's activity) and decide
/// its auto-reply, in the caller's transaction: whether one is now pending.
pub(crate) fn refuse(
    t: &Transaction,
    ws: &str,
    connection_id: &str,
    setting: &ChatSetting,
    m: &Refused<'_>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let event = ContactEventRow {
        id: new_id("cev"),
        workspace_id: ws.to_string(),
        contact_id: m.contact.to_string(),
        connection_id: connection_id.to_string(),
        kind: "inbound_refused".into(),
        reason: CHAT_DISABLED.into(),
        provider_message_id: m.activity.message.as_ref().map(|(id, _)| id.clone()),
        text: Some(m.text.to_string()).filter(|t| !t.is_empty()),
        payload: m.payload.map(str::to_string),
        at: m.activity.at,
    };
    rows::insert_contact_event(t, &event)?;
    let replies = match &setting.auto_reply {
        Some(text) => {
            rows::take_reply_mark(t, connection_id, m.contact, now, now - AUTO_REPLY_EVERY_MS)?
                .then(|| AutoReplyRow {
                    id: new_id("car"),
                    workspace_id: ws.to_string(),
                    connection_id: connection_id.to_string(),
                    contact_id: m.contact.to_string(),
                    event_id: event.id.clone(),
                    address_kind: m.activity.key.kind.clone(),
                    address: m.activity.key.address.clone(),
                    text: text.clone(),
                    created_at: now,
                })
        }
        None => None,
    };
    if let Some(reply) = &replies {
        rows::insert_auto_reply(t, reply)?;
    }
    crate::events::record(
        t,
        ws,
        "contact.inbound_refused",
        event.at,
        json!({
            "contact_id": m.contact,
            "contact_event_id": event.id,
            "connection_id": connection_id,
            "reason": CHAT_DISABLED,
            "auto_reply": replies.is_some(),
        }),
    )?;
    Ok(replies.is_some())
}
