//! Conversation records: a conversation's state row with the figures kept on it (message
//! counts, first response time, who received it and when), its tags, and what its contact is
//! called, for the lists and the summary. Rows and filters only: what counts as a reception
//! or a response, and how a contact is labelled, are the gateway's (`conversations/`).
//!
//! The workspace's tag catalogue (`tags`) lives here too: a tag on a conversation is a row of
//! `conversation_tags` naming a catalogue entry by its name.

use crate::StoreError;
use crate::conversation_states::{ConversationState, state_row};
use crate::model::Millis;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

/// What a record list is narrowed to. Every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub state: Option<String>,
    pub owner: Option<String>,
    pub received_by: Option<String>,
    /// Received at or after (ms).
    pub received_since: Option<Millis>,
    /// Received before (ms).
    pub received_until: Option<Millis>,
    pub tag: Option<String>,
    /// Only the conversations this member received or owns (a data scope of `own`).
    pub own_member: Option<String>,
}

/// A conversation as the records show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub state: ConversationState,
    pub message_count: i64,
    pub visitor_messages: i64,
    pub agent_messages: i64,
    pub first_response_ms: Option<Millis>,
    pub received_by: Option<String>,
    pub received_at: Option<Millis>,
    /// The contact's note name.
    pub note_name: Option<String>,
    /// The address the contact was first known by: `(kind, address)`.
    pub first_address: Option<(String, String)>,
}

const RECORD_COLUMNS: &str = "c.id, c.workspace_id, c.contact_id, c.state, c.owner,
    COALESCE(c.state_at, c.created_at), COALESCE(c.opened_at, c.created_at), c.waiting_since,
    c.created_at, c.alert_due_at, c.hosted,
    c.message_count, c.visitor_messages, c.agent_messages, c.first_response_ms, c.received_by,
    c.received_at, ct.name,
    (SELECT a.kind FROM contact_addresses a WHERE a.contact_id = c.contact_id
        ORDER BY a.created_at, a.kind, a.address LIMIT 1),
    (SELECT a.address FROM contact_addresses a WHERE a.contact_id = c.contact_id
        ORDER BY a.created_at, a.kind, a.address LIMIT 1)";

/// The filter's conditions on `conversations c`, with its parameters numbered from 2 (1 is
/// the workspace).
const FILTER: &str = "c.workspace_id = ?1
    AND (CAST(?2 AS TEXT) IS NULL OR c.state = ?2)
    AND (CAST(?3 AS TEXT) IS NULL OR c.owner = ?3)
    AND (CAST(?4 AS TEXT) IS NULL OR c.received_by = ?4)
    AND (CAST(?5 AS BIGINT) IS NULL OR c.received_at >= ?5)
    AND (CAST(?6 AS BIGINT) IS NULL OR c.received_at < ?6)
    AND (CAST(?7 AS TEXT) IS NULL OR EXISTS
        (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id AND t.tag = ?7))
    AND (CAST(?8 AS TEXT) IS NULL OR c.owner = ?8 OR c.received_by = ?8)";

fn record_row(r: &Row<'_>) -> crate::sql::Result<RecordRow> {
    let kind: Option<String> = r.get(18)?;
    let address: Option<String> = r.get(19)?;
    Ok(RecordRow {
        state: state_row(r)?,
        message_count: r.get(11)?,
        visitor_messages: r.get(12)?,
        agent_messages: r.get(13)?,
        first_response_ms: r.get(14)?,
        received_by: r.get(15)?,
        received_at: r.get(16)?,
        note_name: r.get(17)?,
        first_address: kind.zip(address),
    })
}

/// Records by id (creation order) after the cursor `after`.
pub fn list(
    c: &Connection,
    workspace_id: &str,
    f: &RecordFilter,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<RecordRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id
         WHERE {FILTER} AND c.id > ?9 ORDER BY c.id LIMIT ?10"
    ))?
    .query_map(
        params![
            workspace_id,
            f.state,
            f.owner,
            f.received_by,
            f.received_since,
            f.received_until,
            f.tag,
            f.own_member,
            after.unwrap_or_default(),
            limit as i64
        ],
        record_row,
    )?
    .collect::<Result<_, _>>()?)
}

/// One record, by the contact's id or the conversation's.
pub fn get(
    c: &Connection,
    workspace_id: &str,
    contact_or_id: &str,
) -> Result<Option<RecordRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id
         WHERE c.workspace_id = ?1 AND (c.contact_id = ?2 OR c.id = ?2)"
    ))?
    .query_row(params![workspace_id, contact_or_id], record_row)
    .optional()?)
}

/// Ongoing (not finished), ended (finished) and all conversations the filter keeps
/// (its `state` is ignored).
pub fn summary(
    c: &Connection,
    workspace_id: &str,
    f: &RecordFilter,
) -> Result<(i64, i64, i64), StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN c.state <> 'finished' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN c.state = 'finished' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COUNT(*) AS BIGINT)
         FROM conversations c WHERE {FILTER}"
    ))?
    .query_row(
        params![
            workspace_id,
            None::<String>,
            f.owner,
            f.received_by,
            f.received_since,
            f.received_until,
            f.tag,
            f.own_member
        ],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Whether `member` received or owns the conversation of this contact (or with this id).
pub fn is_members(
    c: &Connection,
    workspace_id: &str,
    contact_or_id: &str,
    member: &str,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM conversations WHERE workspace_id = ?1 AND (contact_id = ?2 OR id = ?2)
                AND (owner = ?3 OR received_by = ?3)",
    )?
    .exists(params![workspace_id, contact_or_id, member])?)
}

/// Whether a message went to a contact whose conversation `member` received or owns.
pub fn message_is_members(
    c: &Connection,
    workspace_id: &str,
    message_id: &str,
    member: &str,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM messages m JOIN conversations v
                ON v.workspace_id = m.workspace_id AND v.contact_id = m.contact_id
             WHERE m.workspace_id = ?1 AND m.id = ?2 AND (v.owner = ?3 OR v.received_by = ?3)",
    )?
    .exists(params![workspace_id, message_id, member])?)
}

/// Count a message written to a conversation, by its author.
pub fn count_message(
    t: &Transaction,
    conversation_id: &str,
    author: &str,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE conversations SET message_count = message_count + 1,
            visitor_messages = visitor_messages + CASE WHEN ?2 = 'customer' THEN 1 ELSE 0 END,
            agent_messages = agent_messages + CASE WHEN ?2 = 'agent' THEN 1 ELSE 0 END
         WHERE id = ?1",
    )?
    .execute(params![conversation_id, author])?;
    Ok(())
}

/// Keep the first reception (`(member, at)`) and the first response time; later ones leave
/// the columns as they are.
pub fn note_firsts(
    t: &Transaction,
    conversation_id: &str,
    received: Option<(&str, Millis)>,
    first_response_ms: Option<Millis>,
) -> Result<(), StoreError> {
    let (by, at) = received.unzip();
    t.prepare_cached(
        "UPDATE conversations SET received_by = COALESCE(received_by, ?2),
            received_at = COALESCE(received_at, ?3),
            first_response_ms = COALESCE(first_response_ms, ?4)
         WHERE id = ?1",
    )?
    .execute(params![conversation_id, by, at, first_response_ms])?;
    Ok(())
}

/// Tag a conversation (idempotent); a name the workspace's catalogue lacks joins it (an
/// automation's `tag` step may name one).
pub fn add_tag(
    t: &Transaction,
    workspace_id: &str,
    conversation_id: &str,
    tag: &str,
    at: Millis,
) -> Result<(), StoreError> {
    let id = crate::model::new_id("tag");
    insert_tag(t, workspace_id, &id, tag, None, None, at)?;
    t.prepare_cached(
        "INSERT INTO conversation_tags (workspace_id, conversation_id, tag, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![workspace_id, conversation_id, tag, at])?;
    Ok(())
}

/// A conversation's tags, by name.
pub fn tags_of(c: &Connection, conversation_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT tag FROM conversation_tags WHERE conversation_id = ?1 ORDER BY tag",
    )?
    .query_map([conversation_id], |r| r.get(0))?
    .collect::<Result<_, _>>()?)
}

/// Take a tag off a conversation: whether it had it.
pub fn remove_tag(t: &Transaction, conversation_id: &str, tag: &str) -> Result<bool, StoreError> {
    Ok(
        t.prepare_cached("DELETE FROM conversation_tags WHERE conversation_id = ?1 AND tag = ?2")?
            .execute(params![conversation_id, tag])?
            == 1,
    )
}

/// A tag of the workspace's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub description: Option<String>,
    pub created_at: Millis,
    /// How many conversations carry it.
    pub conversations: i64,
}

const TAG_COLUMNS: &str = "g.id, g.name, g.color, g.description, g.created_at,
    (SELECT CAST(COUNT(*) AS BIGINT) FROM conversation_tags t
        WHERE t.workspace_id = g.workspace_id AND t.tag = g.name)";

fn tag_row(r: &Row<'_>) -> crate::sql::Result<TagRow> {
    Ok(TagRow {
        id: r.get(0)?,
        name: r.get(1)?,
        color: r.get(2)?,
        description: r.get(3)?,
        created_at: r.get(4)?,
        conversations: r.get(5)?,
    })
}

pub fn tags(c: &Connection, workspace_id: &str) -> Result<Vec<TagRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {TAG_COLUMNS} FROM tags g WHERE g.workspace_id = ?1 ORDER BY g.name"
    ))?
    .query_map([workspace_id], tag_row)?
    .collect::<Result<_, _>>()?)
}

/// A tag by its id or its name.
pub fn tag(
    c: &Connection,
    workspace_id: &str,
    id_or_name: &str,
) -> Result<Option<TagRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {TAG_COLUMNS} FROM tags g WHERE g.workspace_id = ?1 AND (g.id = ?2 OR g.name = ?2)"
    ))?
    .query_row(params![workspace_id, id_or_name], tag_row)
    .optional()?)
}

/// Add a tag to the catalogue; `false` when the workspace already has one by that name.
pub fn insert_tag(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    name: &str,
    color: Option<&str>,
    description: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "INSERT INTO tags (id, workspace_id, name, color, description, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (workspace_id, name) DO NOTHING",
    )?
    .execute(params![id, workspace_id, name, color, description, now])?
        == 1)
}

/// Change a tag; a new name follows it onto every conversation that carries it.
pub fn update_tag(
    t: &Transaction,
    workspace_id: &str,
    old_name: &str,
    name: &str,
    color: Option<&str>,
    description: Option<&str>,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE tags SET name = ?3, color = ?4, description = ?5 WHERE workspace_id = ?1 AND name = ?2",
    )?
    .execute(params![workspace_id, old_name, name, color, description])?;
    if old_name != name {
        t.prepare_cached(
            "UPDATE conversation_tags SET tag = ?3 WHERE workspace_id = ?1 AND tag = ?2",
        )?
        .execute(params![workspace_id, old_name, name])?;
    }
    Ok(())
}

/// Remove a tag from the catalogue and from every conversation.
pub fn delete_tag(t: &Transaction, workspace_id: &str, name: &str) -> Result<bool, StoreError> {
    t.prepare_cached("DELETE FROM conversation_tags WHERE workspace_id = ?1 AND tag = ?2")?
        .execute(params![workspace_id, name])?;
    Ok(
        t.prepare_cached("DELETE FROM tags WHERE workspace_id = ?1 AND name = ?2")?
            .execute(params![workspace_id, name])?
            == 1,
    )
}
