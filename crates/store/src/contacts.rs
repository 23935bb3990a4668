//! Contacts: one record per person, reachable at several addresses (a PSID per page, an
//! E.164 phone, an email, push tokens with their platform and validity).
//!
//! Contacts are found or created as a side effect of traffic: an outbound message to an
//! address, an inbound message or other activity from one, a conversation imported by
//! contact sync. Activity is what channels with a messaging window (Messenger) decide on, and
//! what "inactive for more than 24 h" is computed from.

use crate::sql::{OptionalExtension, Transaction, params};

use super::{Store, StoreError};
pub use crate::model::AddressKey;
use crate::model::{
    AddressView, ContactHistoryEntry, ContactPage, ContactView, Millis, NewContact, new_id, now_ms,
    rfc3339,
};

/// Which contacts a listing shows; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Only those who have not interacted for more than 24 hours.
    pub inactive_only: bool,
    /// The note name contains this.
    pub name: Option<String>,
    /// The note name or one of the addresses contains this.
    pub q: Option<String>,
    /// Only contacts whose conversation this member received or owns (a data scope of
    /// `own`).
    pub own_member: Option<String>,
}

/// How many of a contact's most recent messages the history shows.
pub const HISTORY_LIMIT: i64 = 200;

/// A contact who has not written for longer than this is flagged `inactive`.
pub const INACTIVE_AFTER_MS: Millis = 24 * 60 * 60 * 1000;

/// What the store knows about one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressState {
    /// Why the address must not be used again, when it is dead.
    pub invalid: Option<String>,
    pub last_inbound_at: Option<Millis>,
}

/// [`Store::recipient_facts`].
#[derive(Debug, Clone, Default)]
pub struct RecipientFacts {
    pub opted_out: bool,
    pub address: AddressState,
    pub blocked: Vec<crate::model::BlockedUrlView>,
}

/// [`Store::address_state`] on the caller's connection.
pub fn address_state(
    c: &crate::sql::Connection,
    key: &AddressKey,
) -> Result<AddressState, StoreError> {
    Ok(c.prepare_cached(
        "SELECT valid, invalid_reason, last_inbound_at FROM contact_addresses
         WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
    )?
    .query_row(
        params![key.workspace_id, key.kind, key.scope, key.address],
        |r| {
            let valid: bool = r.get(0)?;
            let reason: Option<String> = r.get(1)?;
            Ok(AddressState {
                invalid: (!valid).then(|| reason.unwrap_or_else(|| "marked invalid".into())),
                last_inbound_at: r.get(2)?,
            })
        },
    )
    .optional()?
    // An address never seen before has no row: valid, with no inbound message yet.
    .unwrap_or_default())
}

/// Something the contact did, from a verified webhook.
#[derive(Debug, Clone)]
pub struct Activity {
    pub key: AddressKey,
    pub connection_id: String,
    pub at: Millis,
    /// Present for an inbound message: it counts and joins the contact's history.
    pub message: Option<(String, Option<String>)>,
}

/// A conversation found by contact sync.
#[derive(Debug, Clone)]
pub struct SyncedConversation {
    pub key: AddressKey,
    pub name: Option<String>,
    /// `(provider message id, inbound, text, at)`.
    pub messages: Vec<(String, bool, Option<String>, Millis)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub contacts_created: u32,
    pub contacts_seen: u32,
    pub messages_imported: u32,
}

/// Find the contact behind an address, creating both when new. Returns the contact id.
pub fn resolve(
    t: &Transaction,
    key: &AddressKey,
    name: Option<&str>,
    platform: Option<&str>,
    now: Millis,
) -> Result<(String, bool), StoreError> {
    let found: Option<String> = t
        .prepare_cached(
            "SELECT contact_id FROM contact_addresses
             WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
        )?
        .query_row(
            params![key.workspace_id, key.kind, key.scope, key.address],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        if name.is_some() {
            t.prepare_cached(
                "UPDATE contacts SET name = COALESCE(name, ?2), updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, name, now])?;
        }
        return Ok((id, false));
    }
    let id = new_id("ct");
    t.prepare_cached(
        "INSERT INTO contacts (id, workspace_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![id, key.workspace_id, name, now])?;
    t.prepare_cached(
        "INSERT INTO contact_addresses (workspace_id, kind, scope, address, contact_id, platform, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![key.workspace_id, key.kind, key.scope, key.address, id, platform, now])?;
    Ok((id, true))
}

/// Apply one piece of verified activity: `(contact id, whether it was a message not seen
/// before)`, so a redelivered webhook feeds a conversation once.
pub fn record_activity(t: &Transaction, a: &Activity) -> Result<(String, bool), StoreError> {
    let (contact_id, _) = resolve(t, &a.key, None, None, a.at)?;
    // Providers redeliver webhooks: a message id seen before counts once.
    let new_message = match &a.message {
        Some((provider_id, text)) => t
            .prepare_cached(
                "INSERT INTO contact_messages (contact_id, connection_id, provider_message_id, direction, text, at, source)
                 VALUES (?1, ?2, ?3, 'inbound', ?4, ?5, 'webhook') ON CONFLICT DO NOTHING",
            )?
            .execute(params![contact_id, a.connection_id, provider_id, text, a.at])?
            > 0,
        None => false,
    };
    t.prepare_cached(
        "UPDATE contacts SET
            first_active_at = CASE WHEN first_active_at IS NULL OR first_active_at > ?2 THEN ?2 ELSE first_active_at END,
            last_active_at = CASE WHEN last_active_at IS NULL OR last_active_at < ?2 THEN ?2 ELSE last_active_at END,
            inbound_messages = inbound_messages + ?3,
            updated_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![contact_id, a.at, i64::from(new_message)])?;
    t.prepare_cached(
        "UPDATE contact_addresses SET last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < ?5 THEN ?5 ELSE last_inbound_at END
         WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
    )?
    .execute(params![
        a.key.workspace_id,
        a.key.kind,
        a.key.scope,
        a.key.address,
        a.at
    ])?;
    Ok((contact_id, new_message))
}

/// A message the business's own account sent to `key`, seen through the provider (an echo),
/// joins the contact's history: `(contact id, whether it was not seen before)`. It is not
/// the contact's activity, so nothing else of the contact moves.
pub fn record_echo(
    t: &Transaction,
    key: &AddressKey,
    connection_id: &str,
    provider_message_id: &str,
    text: Option<&str>,
    at: Millis,
) -> Result<(String, bool), StoreError> {
    let (contact_id, _) = resolve(t, key, None, None, at)?;
    let new = t
        .prepare_cached(
            "INSERT INTO contact_messages (contact_id, connection_id, provider_message_id, direction, text, at, source)
             VALUES (?1, ?2, ?3, 'outbound', ?4, ?5, 'echo') ON CONFLICT DO NOTHING",
        )?
        .execute(params![contact_id, connection_id, provider_message_id, text, at])?
        > 0;
    Ok((contact_id, new))
}

impl Store {
    /// What the store knows about an address, in one read: whether it is dead (and why)
    /// and when the contact last wrote to it (for the messaging window).
    /// One lookup by primary key, made before a send: on the caller's thread.
    pub fn address_state(&self, key: &AddressKey) -> Result<AddressState, StoreError> {
        self.read_now(|c| address_state(c, key))
    }

    /// What intake must know before accepting a message, in one read: whether the recipient
    /// opted out of the channel, the address's state, and which of the message's URLs the
    /// connection blocked.
    pub fn recipient_facts(
        &self,
        key: Option<AddressKey>,
        channel: String,
        connection_id: String,
        urls: Vec<String>,
    ) -> Result<RecipientFacts, StoreError> {
        // Three lookups by primary key or index, on every accept: on this thread.
        self.read_now(move |c| {
            let (opted_out, address) = match &key {
                Some(key) => (
                    crate::routes::opted_out(c, &key.workspace_id, &channel, &key.address)?,
                    address_state(c, key)?,
                ),
                None => (false, AddressState::default()),
            };
            let blocked = if urls.is_empty() {
                Vec::new()
            } else {
                crate::blocked_urls::blocked_among(c, &connection_id, &urls)?
            };
            Ok(RecipientFacts {
                opted_out,
                address,
                blocked,
            })
        })
    }

    /// Mark an address dead (an unregistered push token, say): never used again.
    pub async fn invalidate_address(
        &self,
        key: AddressKey,
        reason: String,
    ) -> Result<(), StoreError> {
        self.write(move |t| {
            let now = now_ms();
            resolve(t, &key, None, None, now)?;
            t.prepare_cached(
                "UPDATE contact_addresses SET valid = 0, invalid_reason = ?5, invalidated_at = ?6
                 WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4 AND valid = 1",
            )?
            .execute(params![key.workspace_id, key.kind, key.scope, key.address, reason, now])?;
            Ok(())
        })
        .await
    }

    /// Create a contact with its addresses, or add the addresses to the contact that already
    /// owns the first known one. A push token re-registered by an app becomes valid again.
    pub async fn upsert_contact(
        &self,
        workspace_id: String,
        new: NewContact,
    ) -> Result<String, StoreError> {
        self.write(move |t| {
            let now = now_ms();
            let keys: Vec<(AddressKey, Option<String>)> = new.address_keys(&workspace_id);
            let mut owner: Option<String> = None;
            for (key, _) in &keys {
                owner = t
                    .prepare_cached(
                        "SELECT contact_id FROM contact_addresses
                         WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
                    )?
                    .query_row(params![key.workspace_id, key.kind, key.scope, key.address], |r| r.get(0))
                    .optional()?;
                if owner.is_some() {
                    break;
                }
            }
            let id = match owner {
                Some(id) => id,
                None => {
                    let id = new_id("ct");
                    t.prepare_cached(
                        "INSERT INTO contacts (id, workspace_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                    )?
                    .execute(params![id, workspace_id, new.name, now])?;
                    id
                }
            };
            if new.name.is_some() {
                t.prepare_cached("UPDATE contacts SET name = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, new.name, now])?;
            }
            for (key, platform) in keys {
                t.prepare_cached(
                    "INSERT INTO contact_addresses (workspace_id, kind, scope, address, contact_id, platform, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (workspace_id, kind, scope, address) DO UPDATE SET
                        contact_id = excluded.contact_id, platform = COALESCE(excluded.platform, contact_addresses.platform),
                        valid = 1, invalid_reason = NULL, invalidated_at = NULL",
                )?
                .execute(params![key.workspace_id, key.kind, key.scope, key.address, id, platform, now])?;
            }
            Ok(id)
        })
        .await
    }

    /// Import one page of synced conversations in one commit.
    pub async fn import_conversations(
        &self,
        connection_id: String,
        conversations: Vec<SyncedConversation>,
    ) -> Result<SyncCounts, StoreError> {
        self.write(move |t| {
            let mut counts = SyncCounts::default();
            let now = now_ms();
            for conv in &conversations {
                let (contact_id, created) = resolve(t, &conv.key, conv.name.as_deref(), None, now)?;
                counts.contacts_seen += 1;
                counts.contacts_created += u32::from(created);
                for (provider_id, inbound, text, at) in &conv.messages {
                    let added = t
                        .prepare_cached(
                            "INSERT INTO contact_messages (contact_id, connection_id, provider_message_id, direction, text, at, source)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sync') ON CONFLICT DO NOTHING",
                        )?
                        .execute(params![contact_id, connection_id, provider_id, if *inbound { "inbound" } else { "outbound" }, text, at])?;
                    counts.messages_imported += added as u32;
                    if *inbound && added > 0 {
                        record_activity(
                            t,
                            &Activity { key: conv.key.clone(), connection_id: connection_id.clone(), at: *at, message: None },
                        )?;
                        t.prepare_cached("UPDATE contacts SET inbound_messages = inbound_messages + 1 WHERE id = ?1")?
                            .execute([&contact_id])?;
                    }
                }
            }
            Ok(counts)
        })
        .await
    }

    pub async fn contact_view(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<Option<ContactView>, StoreError> {
        self.read(move |c| {
            let now = now_ms();
            let row = c
                .prepare_cached(
                    "SELECT id, name, first_active_at, last_active_at, inbound_messages, created_at
                     FROM contacts WHERE workspace_id = ?1 AND id = ?2",
                )?
                .query_row(params![workspace_id, id], contact_row)
                .optional()?;
            row.map(|r| finish_view(c, r, now)).transpose()
        })
        .await
    }

    /// Contacts by id (creation order), narrowed by `filter`.
    pub async fn list_contacts(
        &self,
        workspace_id: String,
        after: Option<String>,
        limit: u32,
        filter: ContactFilter,
    ) -> Result<ContactPage, StoreError> {
        // Searches are case-insensitive substrings; `%` and `_` typed are literal.
        let pattern = |text: Option<String>| {
            text.map(|n| {
                let escaped = n
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            })
        };
        let (name, anywhere) = (pattern(filter.name), pattern(filter.q));
        let inactive_only = filter.inactive_only;
        let own_member = filter.own_member;
        self.read(move |c| {
            let now = now_ms();
            let rows = c
                .prepare_cached(
                    "SELECT id, name, first_active_at, last_active_at, inbound_messages, created_at
                     FROM contacts WHERE workspace_id = ?1 AND id > ?2
                       AND (?3 = 0 OR last_active_at IS NULL OR last_active_at < ?4)
                       AND (CAST(?6 AS TEXT) IS NULL OR LOWER(name) LIKE ?6 ESCAPE '\\')
                       AND (CAST(?7 AS TEXT) IS NULL OR LOWER(name) LIKE ?7 ESCAPE '\\'
                            OR EXISTS (SELECT 1 FROM contact_addresses a WHERE a.contact_id = contacts.id
                                       AND LOWER(a.address) LIKE ?7 ESCAPE '\\'))
                       AND (CAST(?8 AS TEXT) IS NULL OR id IN (SELECT contact_id FROM conversations
                            WHERE workspace_id = ?1 AND (owner = ?8 OR received_by = ?8)))
                     ORDER BY id LIMIT ?5",
                )?
                .query_map(
                    params![
                        workspace_id,
                        after.unwrap_or_default(),
                        inactive_only,
                        now - INACTIVE_AFTER_MS,
                        limit + 1,
                        name,
                        anywhere,
                        own_member
                    ],
                    contact_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let (rows, next_cursor) = super::split_page(rows, limit, |r| r.0.clone());
            let data = rows
                .into_iter()
                .map(|r| finish_view(c, r, now))
                .collect::<Result<_, _>>()?;
            Ok(ContactPage { data, next_cursor })
        })
        .await
    }

    /// The contact's most recent [`HISTORY_LIMIT`] messages, oldest first (synced and
    /// inbound).
    pub async fn contact_history(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<Option<Vec<ContactHistoryEntry>>, StoreError> {
        self.read(move |c| {
            let exists: Option<String> = c
                .prepare_cached("SELECT id FROM contacts WHERE workspace_id = ?1 AND id = ?2")?
                .query_row(params![workspace_id, id], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let rows = c
                .prepare_cached(
                    "SELECT * FROM (SELECT connection_id, provider_message_id, direction, text, at, source, seq
                     FROM contact_messages WHERE contact_id = ?1 ORDER BY at DESC, seq DESC LIMIT ?2) AS recent
                     ORDER BY at, seq",
                )?
                .query_map(params![id, HISTORY_LIMIT], |r| {
                    Ok(ContactHistoryEntry {
                        connection: r.get(0)?,
                        provider_message_id: r.get(1)?,
                        direction: r.get(2)?,
                        text: r.get(3)?,
                        at: rfc3339(r.get(4)?),
                        source: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(rows))
        })
        .await
    }
}

type ContactRow = (
    String,
    Option<String>,
    Option<Millis>,
    Option<Millis>,
    i64,
    Millis,
);

fn contact_row(r: &crate::sql::Row) -> crate::sql::Result<ContactRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_view(
    c: &crate::sql::Connection,
    (id, name, first, last, inbound, created): ContactRow,
    now: Millis,
) -> Result<ContactView, StoreError> {
    let addresses = c
        .prepare_cached(
            "SELECT kind, scope, address, platform, valid, invalid_reason, last_inbound_at
             FROM contact_addresses WHERE contact_id = ?1 ORDER BY kind, scope, address",
        )?
        .query_map([&id], |r| {
            let scope: String = r.get(1)?;
            Ok(AddressView {
                kind: r.get(0)?,
                connection: (!scope.is_empty()).then_some(scope),
                address: r.get(2)?,
                platform: r.get(3)?,
                valid: r.get(4)?,
                invalid_reason: r.get(5)?,
                last_inbound_at: r.get::<_, Option<Millis>>(6)?.map(rfc3339),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ContactView {
        id,
        name,
        addresses,
        first_active_at: first.map(rfc3339),
        last_active_at: last.map(rfc3339),
        inbound_messages: inbound.max(0) as u64,
        inactive: last.is_none_or(|l| now - l > INACTIVE_AFTER_MS),
        created_at: rfc3339(created),
    })
}
