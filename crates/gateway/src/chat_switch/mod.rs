//! The two-way chat switch (the loyalty app's "chat off"): a connection is `two_way`, where
//! a customer's message opens or feeds their conversation, or `one_way`, where the business
//! only sends.
//!
//! - **Changing it** is an admin's: an API key with the `admin` scope (`PATCH
//!   /v1/connections/{id}`) or a console admin. The change rides on the connection's patch,
//!   in its one store write ([`crate::connections::patch`]): the columns, a history row
//!   naming the key or the member ([`record_change`]), and a `connection.chat_changed` event.
//!   Setting what a connection already has writes nothing.
//! - **An inbound message on a `one_way` connection** ([`inbound`]) still counts as the
//!   contact's activity (history, last inbound time, Messenger's window), but opens no
//!   conversation, so no no-reply alert, automation timer or run and no follow-up can start
//!   from it. It is kept as the contact's `inbound_refused` event (reason `chat_disabled`)
//!   with its text and payload, in the same commit. The mode is read from the database in
//!   that commit, not from a node's cache, so switching back to `two_way` applies to the very
//!   next message on every node.
//! - **The auto-reply** answers at most once per contact and connection in any 24 hours
//!   (rolling, not a calendar day: workspaces have no time zone, and a UTC day would answer
//!   twice a customer who writes at 08:59 and 09:01 in Seoul). The decision is one
//!   conditional upsert on a row per connection and contact, in the message's commit, so two
//!   messages at once (on one node or several) cannot both win. The reply is then sent as a
//!   normal message by [`auto_reply`], under an idempotency key of its own.

use serde_json::json;

use crate::model::{
    AutoReplyView, ChatChangeView, ChatMode, ChatSetting, ContactEventView, Content, Millis,
    NewMessage, rfc3339,
};
use crate::runtime::bindings::wit::ContentLimits;
use crate::store::chat_switch::{self as rows, ChatChangeRow};
use crate::store::sql::Transaction;
use crate::store::{ConnectionRecord, StoreError};

pub mod auto_reply;
pub(crate) mod inbound;

/// The longest auto-reply, in characters (a channel's own limit may be lower, and is checked
/// too).
pub const AUTO_REPLY_MAX: usize = 1000;

/// The most contact events one read returns (the newest).
pub const CONTACT_EVENTS_LIMIT: u32 = 200;

/// Who changed a connection's chat setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatActor {
    /// An API key, by its id (`key_...`).
    ApiKey(String),
    /// A console member, by id.
    Member(String),
}

/// A change of the chat setting: `None` leaves a part alone; `auto_reply: Some(None)`
/// removes the auto-reply.
#[derive(Debug, Clone)]
pub struct ChatChange {
    pub mode: Option<ChatMode>,
    pub auto_reply: Option<Option<String>>,
    pub by: ChatActor,
}

/// Why a chat change was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ChatSwitchError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An auto-reply text must be a message the connection's channel can carry: not blank, at
/// most [`AUTO_REPLY_MAX`] characters, and within the plugin's declared text limit.
pub fn check_auto_reply(
    limits: &ContentLimits,
    channel: &str,
    text: &str,
) -> Result<(), ChatSwitchError> {
    let invalid = |message: String| ChatSwitchError::Invalid {
        field: "chat_auto_reply",
        message,
    };
    // Blank as the API's pattern spells it, so the document and this check agree.
    let blank = text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if blank || text.chars().count() > AUTO_REPLY_MAX {
        return Err(invalid(format!(
            "must be 1 to {AUTO_REPLY_MAX} characters, not all blank"
        )));
    }
    let probe = NewMessage {
        channel: channel.to_string(),
        policy: None,
        to: Default::default(),
        content: Content {
            text: Some(text.to_string()),
            ..Content::default()
        },
        category: Default::default(),
        metadata: Default::default(),
        options: Default::default(),
        connection: None,
        from: None,
    };
    match crate::validation::check(limits, &probe).into_iter().next() {
        Some(v) => Err(invalid(format!(
            "not a message `{channel}` can carry: {}",
            v.message
        ))),
        None => Ok(()),
    }
}

/// Apply a change to a connection's row before it is written back: the history row to
/// record once it is ([`record_change`]), or `None` when nothing changes.
pub fn apply(rec: &mut ConnectionRecord, change: ChatChange, at: Millis) -> Option<ChatChangeRow> {
    let mut next = rec.chat.clone();
    if let Some(mode) = change.mode {
        next.mode = mode;
    }
    if let Some(text) = change.auto_reply {
        next.auto_reply = text;
    }
    if next == rec.chat {
        return None;
    }
    rec.chat = next.clone();
    let (changed_by, actor_id) = match change.by {
        ChatActor::ApiKey(id) => ("api_key", id),
        ChatActor::Member(id) => ("member", id),
    };
    Some(ChatChangeRow {
        setting: next,
        changed_by: changed_by.to_string(),
        actor_id,
        at,
    })
}

/// The history row and the `connection.chat_changed` event of a change, in the caller's
/// transaction (the connection's patch).
pub fn record_change(
    t: &Transaction,
    rec: &ConnectionRecord,
    ch: &ChatChangeRow,
) -> Result<(), StoreError> {
    rows::insert_change(t, &rec.workspace_id, &rec.id, ch)?;
    let view = view(ch);
    crate::events::record(
        t,
        &rec.workspace_id,
        "connection.chat_changed",
        ch.at,
        json!({
            "connection_id": rec.id,
            "name": rec.name,
            "channel": rec.channel,
            "chat": view.chat,
            "chat_auto_reply": view.chat_auto_reply,
            "by": view.by,
            "api_key": view.api_key,
            "member": view.member,
        }),
    )?;
    Ok(())
}

fn view(ch: &ChatChangeRow) -> ChatChangeView {
    let ChatSetting { mode, auto_reply } = ch.setting.clone();
    let by_key = ch.changed_by == "api_key";
    ChatChangeView {
        chat: mode,
        chat_auto_reply: auto_reply,
        by: ch.changed_by.clone(),
        api_key: by_key.then(|| ch.actor_id.clone()),
        member: (!by_key).then(|| ch.actor_id.clone()),
        at: rfc3339(ch.at),
    }
}

impl crate::Gateway {
    /// A connection's chat changes, oldest first; `None` for a connection the workspace
    /// does not have.
    pub async fn chat_changes(
        &self,
        ws: String,
        connection: String,
    ) -> Result<Option<Vec<ChatChangeView>>, StoreError> {
        let rows = self
            .store
            .read(move |c| rows::changes(c, &ws, &connection))
            .await?;
        Ok(rows.map(|rows| rows.iter().map(view).collect()))
    }

    /// The contact's most recent [`CONTACT_EVENTS_LIMIT`] events, oldest first; `None` for a
    /// contact the workspace does not have.
    pub async fn contact_events(
        &self,
        ws: String,
        contact: String,
    ) -> Result<Option<Vec<ContactEventView>>, StoreError> {
        let rows = self
            .store
            .read(move |c| rows::contact_events(c, &ws, &contact, CONTACT_EVENTS_LIMIT))
            .await?;
        Ok(rows.map(|rows| {
            rows.into_iter()
                .map(|(e, reply)| ContactEventView {
                    id: e.id,
                    kind: e.kind,
                    reason: e.reason,
                    connection: e.connection_id,
                    provider_message_id: e.provider_message_id,
                    text: e.text,
                    payload: e.payload,
                    auto_reply: reply.map(|(state, message, detail)| AutoReplyView {
                        state,
                        message,
                        detail,
                    }),
                    at: rfc3339(e.at),
                })
                .collect()
        }))
    }

    /// The id of the live admin key behind `key_hash` in `ws`: who an API change was made by.
    pub async fn api_key_id(
        &self,
        ws: String,
        key_hash: String,
    ) -> Result<Option<String>, StoreError> {
        self.store
            .read(move |c| rows::api_key_id(c, &ws, &key_hash))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(chat: ChatSetting) -> ConnectionRecord {
        ConnectionRecord {
            id: "con_1".into(),
            workspace_id: "ws_1".into(),
            channel: "messenger".into(),
            plugin: "messenger".into(),
            name: "page".into(),
            config: Default::default(),
            sealed_secrets: String::new(),
            allowed_origins: Vec::new(),
            max_in_flight: 1,
            status: "active".into(),
            status_detail: None,
            chat,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn change(mode: Option<ChatMode>, auto_reply: Option<Option<&str>>) -> ChatChange {
        ChatChange {
            mode,
            auto_reply: auto_reply.map(|t| t.map(str::to_string)),
            by: ChatActor::ApiKey("key_1".into()),
        }
    }

    #[test]
    fn only_a_real_change_is_recorded_and_parts_left_out_stay() {
        let mut rec = record(ChatSetting::default());
        assert_eq!(
            apply(&mut rec, change(Some(ChatMode::TwoWay), None), 1),
            None
        );
        let row = apply(
            &mut rec,
            change(Some(ChatMode::OneWay), Some(Some("Closed"))),
            2,
        )
        .expect("a change");
        assert_eq!(row.setting.mode, ChatMode::OneWay);
        assert_eq!(
            (row.changed_by.as_str(), row.actor_id.as_str()),
            ("api_key", "key_1")
        );
        // The text alone: the mode stays one-way.
        let row = apply(&mut rec, change(None, Some(Some("Back Monday"))), 3).unwrap();
        assert_eq!(row.setting.mode, ChatMode::OneWay);
        assert_eq!(rec.chat.auto_reply.as_deref(), Some("Back Monday"));
        // Removing it keeps the mode; removing it again changes nothing.
        assert!(apply(&mut rec, change(None, Some(None)), 4).is_some());
        assert_eq!(apply(&mut rec, change(None, Some(None)), 5), None);
        assert_eq!(
            rec.chat,
            ChatSetting {
                mode: ChatMode::OneWay,
                auto_reply: None
            }
        );
    }
}
