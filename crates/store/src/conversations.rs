//! Conversations between a business's agents and a contact, and the contact's presence:
//! what follow-up notifications are decided on.
//!
//! One conversation per contact. Agent messages record when the contact saw them and whether
//! a follow-up already carried them. Presence is one row per contact: online with a deadline
//! (`offline_at`, 4 min 30 s after the last sign of life), or offline. The deadline is a
//! column behind an index, so the offline timer survives restarts like every other timer.

use crate::sql::{OptionalExtension, Transaction, params};

use super::{Store, StoreError};
use crate::model::{
    ConversationEventView, ConversationMessageView, ConversationView, HostingChangeView, Millis,
    now_ms, rfc3339,
};

/// No sign of life for this long and the contact is offline.
pub const OFFLINE_AFTER_MS: Millis = 270_000;

/// An agent reply a follow-up should carry.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingReply {
    pub conversation_id: String,
    pub seq: i64,
    pub text: String,
    pub template: Option<String>,
}

/// The contact's conversation, started by `author` when there is none: `(id, created)`.
pub fn ensure_conversation(
    t: &Transaction,
    workspace_id: &str,
    contact_id: &str,
    author: &str,
    now: Millis,
) -> Result<(String, bool), StoreError> {
    let found: Option<String> = t
        .prepare_cached("SELECT id FROM conversations WHERE workspace_id = ?1 AND contact_id = ?2")?
        .query_row(params![workspace_id, contact_id], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok((id, false));
    }
    let id = crate::model::new_id("conv");
    // A new conversation starts at the workspace's hosting default; that is no switch, so it
    // leaves no history row.
    t.prepare_cached(
        "INSERT INTO conversations (id, workspace_id, contact_id, started_by, created_at, state_at, opened_at, hosted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, COALESCE((SELECT hosting_default FROM workspaces WHERE id = ?2), 0))",
    )?
    .execute(params![id, workspace_id, contact_id, author, now])?;
    Ok((id, true))
}

/// A conversation message as written: who wrote it and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct MessageRow<'a> {
    /// `agent` or `customer`.
    pub author: &'a str,
    pub text: &'a str,
    pub marketing: bool,
    pub template: Option<&'a str>,
    /// An agent message written outside Switchboard (seen as the provider's echo).
    pub off_platform: bool,
    /// The payload of the button or quick reply a customer chose.
    pub payload: Option<&'a str>,
    /// The connection it came through, for messages from a provider.
    pub connection_id: Option<&'a str>,
}

/// Add a message to a conversation, counted on its record in the same commit: its sequence
/// number.
pub fn insert_message(
    t: &Transaction,
    conversation_id: &str,
    m: &MessageRow<'_>,
    now: Millis,
) -> Result<i64, StoreError> {
    crate::conversation_records::count_message(t, conversation_id, m.author)?;
    Ok(t.query_row(
        "INSERT INTO conversation_messages (conversation_id, author, text, marketing, template, at, off_platform, payload, connection_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING seq",
        params![
            conversation_id,
            m.author,
            m.text,
            m.marketing,
            m.template,
            now,
            m.off_platform,
            m.payload,
            m.connection_id
        ],
        |r| r.get(0),
    )?)
}

/// The connection (and its channel) the customer last wrote through.
pub fn set_connection(
    t: &Transaction,
    conversation_id: &str,
    connection_id: &str,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE conversations SET connection_id = ?2,
            channel = (SELECT channel FROM connections WHERE id = ?2)
         WHERE id = ?1",
    )?
    .execute(params![conversation_id, connection_id])?;
    Ok(())
}

impl Store {
    pub async fn contact_exists(
        &self,
        workspace_id: String,
        contact_id: String,
    ) -> Result<bool, StoreError> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT 1 FROM contacts WHERE workspace_id = ?1 AND id = ?2")?
                    .exists(params![workspace_id, contact_id])?,
            )
        })
        .await
    }

    /// The contact saw the agent's messages up to `up_to` (all of them without it).
    pub async fn mark_conversation_seen(
        &self,
        workspace_id: String,
        contact_id: String,
        up_to: Option<i64>,
    ) -> Result<usize, StoreError> {
        self.write(move |t| {
            Ok(t.prepare_cached(
                "UPDATE conversation_messages SET seen_at = ?4
                 WHERE conversation_id = (SELECT id FROM conversations WHERE workspace_id = ?1 AND contact_id = ?2)
                   AND author = 'agent' AND seen_at IS NULL AND seq <= ?3",
            )?
            .execute(params![workspace_id, contact_id, up_to.unwrap_or(i64::MAX), now_ms()])?)
        })
        .await
    }

    pub async fn conversation_view(
        &self,
        workspace_id: String,
        contact_id: String,
    ) -> Result<Option<ConversationView>, StoreError> {
        self.read(move |c| {
            type Row = (String, String, Option<String>, Option<String>, String);
            // Named by the contact's id or the conversation's own.
            let row: Option<Row> = c
                .prepare_cached("SELECT id, started_by, connection_id, channel, contact_id FROM conversations WHERE workspace_id = ?1 AND (contact_id = ?2 OR id = ?2)")?
                .query_row(params![workspace_id, contact_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .optional()?;
            let Some((id, started_by, connection, channel, contact_id)) = row else { return Ok(None) };
            let state = crate::conversation_states::state_of(c, &workspace_id, &id)?;
            let history = crate::conversation_states::events(c, &id)?
                .into_iter()
                .map(|e| ConversationEventView {
                    kind: e.kind,
                    member: e.member_id,
                    previous_owner: e.previous_owner,
                    duration_ms: e.value_ms,
                    at: rfc3339(e.at),
                })
                .collect();
            let hosting = crate::hosting::history(c, &id)?
                .into_iter()
                .map(|h| HostingChangeView {
                    hosted: h.hosted,
                    member: h.member_id,
                    by: h.by,
                    at: rfc3339(h.at),
                })
                .collect();
            let messages = c
                .prepare_cached(
                    "SELECT seq, author, text, marketing, at, seen_at, follow_up_message_id, off_platform, payload, connection_id
                     FROM conversation_messages WHERE conversation_id = ?1 ORDER BY seq",
                )?
                .query_map([&id], |r| {
                    Ok(ConversationMessageView {
                        id: r.get(0)?,
                        author: r.get(1)?,
                        text: r.get(2)?,
                        marketing: r.get(3)?,
                        at: rfc3339(r.get(4)?),
                        seen_at: r.get::<_, Option<Millis>>(5)?.map(rfc3339),
                        follow_up: r.get(6)?,
                        off_platform: r.get(7)?,
                        payload: r.get(8)?,
                        connection: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let presence: Option<(String, Option<Millis>)> = c
                .prepare_cached("SELECT state, last_activity_at FROM presence WHERE workspace_id = ?1 AND contact_id = ?2")?
                .query_row(params![workspace_id, contact_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(Some(ConversationView {
                id,
                contact: contact_id,
                started_by,
                connection,
                channel,
                presence: presence.as_ref().map(|p| p.0.clone()).unwrap_or_else(|| "unknown".into()),
                last_activity_at: presence.and_then(|p| p.1).map(rfc3339),
                state: state.as_ref().map(|s| s.state.clone()).unwrap_or_else(|| "unanswered".into()),
                owner: state.as_ref().and_then(|s| s.owner.clone()),
                waiting_since: state.as_ref().and_then(|s| s.waiting_since).map(rfc3339),
                hosted: state.as_ref().is_some_and(|s| s.hosted),
                messages,
                history,
                hosting,
                // The record's figures and the contact's label are the gateway's to fill.
                figures: Default::default(),
            }))
        })
        .await
    }

    /// Record a sign of presence. Returns true when it took the contact offline.
    pub async fn record_presence(
        &self,
        workspace_id: String,
        contact_id: String,
        online: bool,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            let now = now_ms();
            let was: Option<String> = t
                .prepare_cached("SELECT state FROM presence WHERE workspace_id = ?1 AND contact_id = ?2")?
                .query_row(params![workspace_id, contact_id], |r| r.get(0))
                .optional()?;
            let (state, offline_at) = if online { ("online", Some(now + OFFLINE_AFTER_MS)) } else { ("offline", None) };
            let went_offline = !online && was.as_deref() != Some("offline");
            // The follow-up owed by going offline is recorded with the transition, so a crash
            // before it is sent leaves it due rather than lost.
            t.prepare_cached(
                "INSERT INTO presence (workspace_id, contact_id, state, last_activity_at, offline_at, follow_up_due)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (workspace_id, contact_id) DO UPDATE
                 SET state = ?3, last_activity_at = ?4, offline_at = ?5,
                     follow_up_due = CASE WHEN CAST(?6 AS BIGINT) <> 0 THEN 1 WHEN ?3 = 'online' THEN 0 ELSE presence.follow_up_due END",
            )?
            .execute(params![workspace_id, contact_id, state, now, offline_at, went_offline])?;
            Ok(went_offline)
        })
        .await
    }

    /// Contacts whose presence deadline passed go offline, owing a follow-up check; returns
    /// every contact owing one (including those left over from before a restart).
    pub async fn expire_presence(&self, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        self.write(move |t| {
            let now = now_ms();
            t.prepare_cached(
                "UPDATE presence SET state = 'offline', offline_at = NULL, follow_up_due = 1
                 WHERE (workspace_id, contact_id) IN
                       (SELECT workspace_id, contact_id FROM presence WHERE state = 'online' AND offline_at <= ?1 LIMIT ?2 /* FOR UPDATE SKIP LOCKED */)",
            )?
            .execute(params![now, limit])?;
            Ok(t.prepare_cached("SELECT workspace_id, contact_id FROM presence WHERE follow_up_due = 1 LIMIT ?1")?
                .query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The follow-up check for this contact is done (sent, or nothing to send).
    pub async fn follow_up_checked(
        &self,
        workspace_id: String,
        contact_id: String,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            t.prepare_cached(
                "UPDATE presence SET follow_up_due = 0 WHERE workspace_id = ?1 AND contact_id = ?2",
            )?
            .execute(params![workspace_id, contact_id])?;
            Ok(())
        })
        .await
    }

    pub async fn next_presence_deadline(&self) -> Result<Option<Millis>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MIN(offline_at) FROM presence WHERE state = 'online'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// The agent replies a follow-up should carry now: unseen, not followed up yet, not
    /// marketing, in a conversation the contact has taken part in (an agent's opener the
    /// contact never answered is not a conversation to follow up).
    pub async fn pending_replies(
        &self,
        workspace_id: String,
        contact_id: String,
    ) -> Result<Vec<PendingReply>, StoreError> {
        self.read(move |c| {
            let conv: Option<String> = c
                .prepare_cached("SELECT id FROM conversations WHERE workspace_id = ?1 AND contact_id = ?2")?
                .query_row(params![workspace_id, contact_id], |r| r.get(0))
                .optional()?;
            let Some(conv) = conv else { return Ok(Vec::new()) };
            let first_customer: Option<i64> = c
                .prepare_cached("SELECT MIN(seq) FROM conversation_messages WHERE conversation_id = ?1 AND author = 'customer'")?
                .query_row([&conv], |r| r.get(0))?;
            let Some(first_customer) = first_customer else { return Ok(Vec::new()) };
            Ok(c.prepare_cached(
                "SELECT seq, text, template FROM conversation_messages
                 WHERE conversation_id = ?1 AND author = 'agent' AND seq > ?2 AND seen_at IS NULL
                   AND follow_up_message_id IS NULL AND marketing = 0 ORDER BY seq",
            )?
            .query_map(params![conv, first_customer], |r| {
                Ok(PendingReply { conversation_id: conv.clone(), seq: r.get(0)?, text: r.get(1)?, template: r.get(2)? })
            })?
            .collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn mark_followed_up(
        &self,
        seqs: Vec<i64>,
        message_id: String,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            for seq in &seqs {
                t.prepare_cached(
                    "UPDATE conversation_messages SET follow_up_message_id = ?2 WHERE seq = ?1",
                )?
                .execute(params![seq, message_id])?;
            }
            Ok(())
        })
        .await
    }

    /// The contact's usable addresses, for a follow-up: the newest valid push token with its
    /// platform, a phone, an email.
    pub async fn contact_addresses(
        &self,
        contact_id: String,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT kind, address, platform FROM contact_addresses WHERE contact_id = ?1 AND valid = 1 ORDER BY created_at DESC",
            )?
            .query_map([contact_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?)
        })
        .await
    }
}
