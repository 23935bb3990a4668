//! The two-way chat switch: rows only. A connection's setting (its `chat` and
//! `chat_auto_reply` columns, written with the rest of the row by `update_connection`), the
//! history of its changes, the contact events a refused message leaves, and the auto-replies
//! with the one mark per connection and contact that limits them. What a switch means, when
//! a reply is due and how it is sent are the gateway's (`chat_switch/`).

use crate::StoreError;
use crate::model::{ChatSetting, Millis};
use crate::sql::{Connection, OptionalExtension, Transaction, params};

/// One change of a connection's chat setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatChangeRow {
    pub setting: ChatSetting,
    /// `api_key` or `member` (the table refuses any other).
    pub changed_by: String,
    /// The key's id or the member's id.
    pub actor_id: String,
    pub at: Millis,
}

/// A connection's chat setting as committed, read in the caller's transaction (an inbound
/// message is decided by what the database holds, not by a node's cache). `None` for an
/// unknown connection.
pub fn chat_setting(
    c: &Connection,
    connection_id: &str,
) -> Result<Option<ChatSetting>, StoreError> {
    Ok(
        c.prepare_cached("SELECT chat, chat_auto_reply FROM connections WHERE id = ?1")?
            .query_row([connection_id], |r| {
                Ok(ChatSetting {
                    mode: crate::connections::chat_mode(r, 0)?,
                    auto_reply: r.get(1)?,
                })
            })
            .optional()?,
    )
}

pub fn insert_change(
    t: &Transaction,
    workspace_id: &str,
    connection_id: &str,
    ch: &ChatChangeRow,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO connection_chat_changes (workspace_id, connection_id, chat, chat_auto_reply, changed_by, actor_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        workspace_id,
        connection_id,
        ch.setting.mode.as_str(),
        ch.setting.auto_reply,
        ch.changed_by,
        ch.actor_id,
        ch.at
    ])?;
    Ok(())
}

/// A connection's changes, oldest first; `None` when the workspace has no such connection.
pub fn changes(
    c: &Connection,
    workspace_id: &str,
    connection_id: &str,
) -> Result<Option<Vec<ChatChangeRow>>, StoreError> {
    let known = c
        .prepare_cached(
            "SELECT 1 FROM connections WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
        )?
        .query_row(params![connection_id, workspace_id], |_| Ok(()))
        .optional()?;
    if known.is_none() {
        return Ok(None);
    }
    Ok(Some(
        c.prepare_cached(
            "SELECT chat, chat_auto_reply, changed_by, actor_id, at FROM connection_chat_changes
             WHERE connection_id = ?1 ORDER BY seq",
        )?
        .query_map([connection_id], |r| {
            Ok(ChatChangeRow {
                setting: ChatSetting {
                    mode: crate::connections::chat_mode(r, 0)?,
                    auto_reply: r.get(1)?,
                },
                changed_by: r.get(2)?,
                actor_id: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?,
    ))
}

/// The id of a live API key of the workspace, by its digest.
pub fn api_key_id(
    c: &Connection,
    workspace_id: &str,
    key_hash: &str,
) -> Result<Option<String>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT id FROM api_keys WHERE key_hash = ?1 AND workspace_id = ?2 AND revoked_at IS NULL",
    )?
    .query_row(params![key_hash, workspace_id], |r| r.get(0))
    .optional()?)
}

/// A contact event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEventRow {
    pub id: String,
    pub workspace_id: String,
    pub contact_id: String,
    pub connection_id: String,
    pub kind: String,
    pub reason: String,
    pub provider_message_id: Option<String>,
    pub text: Option<String>,
    pub payload: Option<String>,
    pub at: Millis,
}

pub fn insert_contact_event(t: &Transaction, e: &ContactEventRow) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO contact_events (id, workspace_id, contact_id, connection_id, kind, reason,
            provider_message_id, text, payload, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        e.id,
        e.workspace_id,
        e.contact_id,
        e.connection_id,
        e.kind,
        e.reason,
        e.provider_message_id,
        e.text,
        e.payload,
        e.at
    ])?;
    Ok(())
}

/// A contact event with the auto-reply that answered it, if any: `(state, message, detail)`.
pub type ContactEventWithReply = (
    ContactEventRow,
    Option<(String, Option<String>, Option<String>)>,
);

/// The contact's most recent `limit` events, oldest first; `None` when the workspace has no
/// such contact.
pub fn contact_events(
    c: &Connection,
    workspace_id: &str,
    contact_id: &str,
    limit: u32,
) -> Result<Option<Vec<ContactEventWithReply>>, StoreError> {
    let known = c
        .prepare_cached("SELECT 1 FROM contacts WHERE workspace_id = ?1 AND id = ?2")?
        .query_row(params![workspace_id, contact_id], |_| Ok(()))
        .optional()?;
    if known.is_none() {
        return Ok(None);
    }
    Ok(Some(
        c.prepare_cached(
            "SELECT * FROM (
                SELECT e.id, e.workspace_id, e.contact_id, e.connection_id, e.kind, e.reason,
                       e.provider_message_id, e.text, e.payload, e.at, r.state, r.message_id, r.detail, e.seq
                FROM contact_events e LEFT JOIN chat_auto_replies r ON r.event_id = e.id
                WHERE e.contact_id = ?1 ORDER BY e.seq DESC LIMIT ?2) AS recent
             ORDER BY seq",
        )?
        .query_map(params![contact_id, limit], |r| {
            let event = ContactEventRow {
                id: r.get(0)?,
                workspace_id: r.get(1)?,
                contact_id: r.get(2)?,
                connection_id: r.get(3)?,
                kind: r.get(4)?,
                reason: r.get(5)?,
                provider_message_id: r.get(6)?,
                text: r.get(7)?,
                payload: r.get(8)?,
                at: r.get(9)?,
            };
            let reply = match r.get::<_, Option<String>>(10)? {
                Some(state) => Some((state, r.get(11)?, r.get(12)?)),
                None => None,
            };
            Ok((event, reply))
        })?
        .collect::<Result<_, _>>()?,
    ))
}

/// Take the connection's reply mark for the contact at `now`, unless a reply was taken
/// after `not_after` (the last one is too recent): whether it was taken. One statement on
/// the mark's primary key, so of two messages racing in different transactions (or nodes)
/// exactly one takes it.
pub fn take_reply_mark(
    t: &Transaction,
    connection_id: &str,
    contact_id: &str,
    now: Millis,
    not_after: Millis,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "INSERT INTO chat_reply_marks (connection_id, contact_id, replied_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (connection_id, contact_id) DO UPDATE SET replied_at = excluded.replied_at
             WHERE chat_reply_marks.replied_at <= ?4
             RETURNING replied_at",
    )?
    .query_row(params![connection_id, contact_id, now, not_after], |_| {
        Ok(())
    })
    .optional()?
    .is_some())
}

/// An auto-reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoReplyRow {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub contact_id: String,
    /// The contact event it answers.
    pub event_id: String,
    /// The address it goes to, as the contact's address is keyed (`psid`, `phone`, ...).
    pub address_kind: String,
    pub address: String,
    /// The auto-reply as it was when the message came.
    pub text: String,
    pub created_at: Millis,
}

pub fn insert_auto_reply(t: &Transaction, a: &AutoReplyRow) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO chat_auto_replies (id, workspace_id, connection_id, contact_id, event_id,
            address_kind, address, text, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)",
    )?
    .execute(params![
        a.id,
        a.workspace_id,
        a.connection_id,
        a.contact_id,
        a.event_id,
        a.address_kind,
        a.address,
        a.text,
        a.created_at
    ])?;
    Ok(())
}

/// Auto-replies decided at or before `before` and not yet committed as messages, oldest
/// first.
pub fn pending_auto_replies(
    c: &Connection,
    before: Millis,
    limit: u32,
) -> Result<Vec<AutoReplyRow>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT id, workspace_id, connection_id, contact_id, event_id, address_kind, address, text, created_at
             FROM chat_auto_replies WHERE state = 'pending' AND created_at <= ?1
             ORDER BY created_at, id LIMIT ?2",
        )?
        .query_map(params![before, limit], |r| {
            Ok(AutoReplyRow {
                id: r.get(0)?,
                workspace_id: r.get(1)?,
                connection_id: r.get(2)?,
                contact_id: r.get(3)?,
                event_id: r.get(4)?,
                address_kind: r.get(5)?,
                address: r.get(6)?,
                text: r.get(7)?,
                created_at: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// A pending auto-reply became `sent` (with its message) or `failed` (with why); one
/// already settled stays as it was.
pub fn settle_auto_reply(
    t: &Transaction,
    id: &str,
    state: &str,
    message_id: Option<&str>,
    detail: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "UPDATE chat_auto_replies SET state = ?2, message_id = ?3, detail = ?4
             WHERE id = ?1 AND state = 'pending'",
    )?
    .execute(params![id, state, message_id, detail])?
        == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreError};

    const DAY: Millis = 24 * 3_600_000;

    /// The mark is taken by the first message only, and again once its last reply is a day
    /// old; another contact or connection has a mark of its own.
    #[test]
    fn a_reply_mark_is_taken_once_per_day_per_connection_and_contact() {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-store-chat-marks-{}-{}",
            std::process::id(),
            crate::statements_run()
        ));
        let store = Store::open(&dir).expect("the store opens");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let take = |connection: &'static str, contact: &'static str, now: Millis| {
            rt.block_on(
                store.write(move |t| take_reply_mark(t, connection, contact, now, now - DAY)),
            )
            .expect("the write commits")
        };
        let t0 = 1_000 * DAY;
        assert!(take("con_a", "ct_1", t0), "the first message takes it");
        assert!(
            !take("con_a", "ct_1", t0),
            "a second at the same moment does not"
        );
        assert!(
            !take("con_a", "ct_1", t0 + DAY - 1),
            "nor one a moment short of a day"
        );
        assert!(take("con_b", "ct_1", t0), "another connection has its own");
        assert!(take("con_a", "ct_2", t0), "another contact has its own");
        assert!(
            take("con_a", "ct_1", t0 + DAY),
            "a day later it is taken again"
        );
        assert!(!take("con_a", "ct_1", t0 + DAY + 1), "and counts from then");
        let kept: Millis = rt
            .block_on(store.read(|c| {
                Ok::<_, StoreError>(c.query_row(
                    "SELECT replied_at FROM chat_reply_marks WHERE connection_id = 'con_a' AND contact_id = 'ct_1'",
                    [],
                    |r| r.get(0),
                )?)
            }))
            .unwrap();
        assert_eq!(kept, t0 + DAY);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Two nodes' transactions race for the same mark on PostgreSQL with nothing but the
    /// mark's row between them (no write lock): the second waits for the first to commit,
    /// then finds the mark taken.
    #[test]
    fn two_racing_transactions_on_postgres_take_the_mark_once() {
        use crate::pg::{Io, connect, testing::TestDatabase};
        use crate::sql::Connection as Sql;
        let db = TestDatabase::create("chatmarks");
        let io = Io::start().expect("an I/O thread");
        let first = connect(&db.url, &io).expect("the test database");
        crate::pg::migrate(&first).expect("migrations");
        let a = Sql::postgres(&first);
        let t0 = 1_000 * DAY;
        a.execute_batch("BEGIN").unwrap();
        assert!(take_reply_mark(&a, "con_a", "ct_1", t0, t0 - DAY).unwrap());
        let url = db.url.clone();
        let second = std::thread::spawn(move || {
            let io = Io::start().expect("an I/O thread");
            let conn = connect(&url, &io).expect("the test database");
            let b = Sql::postgres(&conn);
            b.execute_batch("BEGIN").unwrap();
            let took = take_reply_mark(&b, "con_a", "ct_1", t0 + 1, t0 + 1 - DAY).unwrap();
            b.execute_batch("COMMIT").unwrap();
            took
        });
        // The second is blocked on the first's row until it commits.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!second.is_finished(), "the second waits for the first");
        a.execute_batch("COMMIT").unwrap();
        assert!(!second.join().unwrap(), "and then finds the mark taken");
        let kept: Millis = a
            .query_row(
                "SELECT replied_at FROM chat_reply_marks WHERE connection_id = 'con_a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, t0);
    }
}
