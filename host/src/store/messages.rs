//! Accepting messages and reading them back with their deliveries, attempts and timeline.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Store, StoreError};
use crate::model::{
    AttemptOutcome, AttemptView, DeliveryView, FailureReason, FailureView, MessagePage,
    MessageSummary, MessageView, Millis, NewMessage, Status, TimelineEntry, now_ms, rfc3339,
};

/// A delivery planned at accept time: which connection, and the plugin's quote.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub connection_id: String,
    pub product: Option<String>,
    pub units: Option<u32>,
    pub encoding: Option<String>,
    pub country: Option<String>,
    /// The contact address this delivery goes to (watermarks and activity find it by this).
    pub address: Option<super::AddressKey>,
}

#[derive(Debug, Clone)]
pub struct InsertMessage {
    pub id: String,
    pub workspace_id: String,
    pub request: NewMessage,
    /// SHA-256 of the canonical request, to tell a retried request from a reused key.
    pub request_hash: String,
    pub idempotency_key: Option<String>,
    pub delivery: NewDelivery,
    /// Set when this message is a resend of an earlier, failed one.
    pub resend_of: Option<String>,
}

/// What an accept did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The idempotency key was seen before: this is the original message.
    Existing {
        id: String,
        status: Status,
        same_request: bool,
    },
}

impl Store {
    /// Commit a new message and its first delivery, due now. With an idempotency key already
    /// used in this workspace, nothing is written and the original is returned.
    pub async fn insert_message(&self, m: InsertMessage) -> Result<Inserted, StoreError> {
        self.write(move |t| {
            if let Some(key) = &m.idempotency_key
                && let Some(found) = find_by_key(t, &m.workspace_id, key)?
            {
                return Ok(Inserted::Existing { same_request: found.2 == m.request_hash, id: found.0, status: found.1 });
            }
            // Writes are serialised, so this check cannot race: two resends of one message
            // (a double click, a client retry) get the same new message.
            if let Some(original) = &m.resend_of {
                let existing = t
                    .prepare_cached("SELECT id, status FROM messages WHERE resend_of = ?1")?
                    .query_row([original], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .optional()?;
                if let Some((id, status)) = existing {
                    return Ok(Inserted::Existing { id, status: parse_status(&status)?, same_request: true });
                }
            }
            let now = now_ms();
            let request = serde_json::to_string(&m.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let d = &m.delivery;
            let contact_id = match &d.address {
                Some(key) => {
                    let platform = m.request.to.push_platform.as_deref().filter(|_| key.kind == "push");
                    Some(super::contacts::resolve(t, key, m.request.to.name.as_deref(), platform, now)?.0)
                }
                None => None,
            };
            t.prepare_cached(
                "INSERT INTO messages (id, workspace_id, channel, status, request, request_hash, idempotency_key, created_at, updated_at,
                    contact_id, resend_of)
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
            )?
            .execute(params![m.id, m.workspace_id, m.request.channel, request, m.request_hash, m.idempotency_key, now, contact_id, m.resend_of])?;
            t.prepare_cached(
                "INSERT INTO deliveries (id, message_id, connection_id, channel, status, product, units, encoding, country,
                    next_attempt_at, created_at, updated_at, address_kind, address)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10, ?11)",
            )?
            .execute(params![d.id, m.id, d.connection_id, m.request.channel, d.product, d.units, d.encoding, d.country, now,
                d.address.as_ref().map(|a| a.kind.clone()), d.address.as_ref().map(|a| a.address.clone())])?;
            insert_event(t, &d.id, Status::Queued, now, "api", None, true)?;
            Ok(Inserted::New)
        })
        .await
    }

    /// Look up an idempotency key without writing: the fast path for a repeated request.
    pub async fn find_idempotent(
        &self,
        workspace_id: &str,
        key: &str,
    ) -> Result<Option<(String, Status, String)>, StoreError> {
        let (ws, key) = (workspace_id.to_string(), key.to_string());
        self.read(move |c| find_by_key(c, &ws, &key)).await
    }

    pub async fn message_view(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<MessageView>, StoreError> {
        let (ws, id) = (workspace_id.to_string(), id.to_string());
        self.read(move |c| load_view(c, &ws, &id)).await
    }

    /// Newest first; `cursor` is the last id of the previous page.
    pub async fn list_messages(
        &self,
        workspace_id: &str,
        status: Option<Status>,
        channel: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<MessagePage, StoreError> {
        let ws = workspace_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, channel, status, request, created_at, updated_at FROM messages
                 WHERE workspace_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR channel = ?3)
                   AND (?4 IS NULL OR id < ?4)
                 ORDER BY id DESC LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![ws, status.map(Status::as_str), channel, cursor, limit as i64 + 1],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?)),
            )?;
            let mut data = Vec::new();
            for row in rows {
                let (id, channel, status, request, created, updated) = row?;
                let req: NewMessage = serde_json::from_str(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                data.push(MessageSummary {
                    status: parse_status(&status)?,
                    id,
                    channel,
                    to: req.to,
                    created_at: rfc3339(created),
                    updated_at: rfc3339(updated),
                });
            }
            let (data, next_cursor) = super::split_page(data, limit, |m| m.id.clone());
            Ok(MessagePage { data, next_cursor })
        })
        .await
    }
}

pub(super) fn parse_status(s: &str) -> Result<Status, StoreError> {
    Status::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
}

pub(super) fn find_by_key(
    c: &Connection,
    ws: &str,
    key: &str,
) -> Result<Option<(String, Status, String)>, StoreError> {
    let row = c
        .prepare_cached("SELECT id, status, request_hash FROM messages WHERE workspace_id = ?1 AND idempotency_key = ?2")?
        .query_row(params![ws, key], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .optional()?;
    row.map(|(id, st, h)| Ok((id, parse_status(&st)?, h)))
        .transpose()
}

pub(super) fn insert_event(
    t: &Transaction,
    delivery_id: &str,
    status: Status,
    at: Millis,
    source: &str,
    detail: Option<&str>,
    applied: bool,
) -> Result<(), StoreError> {
    t.prepare_cached("INSERT INTO events (delivery_id, status, at, source, detail, applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![delivery_id, status.as_str(), at, source, detail, applied])?;
    // The business hears about every applied change, from the same transaction.
    let kind = match status {
        Status::Queued => "message.queued",
        Status::Sent => "message.sent",
        Status::Delivered => "message.delivered",
        Status::Seen => "message.seen",
        Status::Failed => "message.failed",
        _ => return Ok(()),
    };
    if applied {
        crate::events::record_delivery_status(t, delivery_id, kind, at, detail)?;
    }
    Ok(())
}

fn load_view(c: &Connection, ws: &str, id: &str) -> Result<Option<MessageView>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT channel, status, request, idempotency_key, created_at, updated_at, contact_id, resend_of FROM messages WHERE id = ?1 AND workspace_id = ?2",
        )?
        .query_row(params![id, ws], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?, r.get::<_, Option<String>>(7)?))
        })
        .optional()?;
    let Some((channel, status, request, idempotency_key, created, updated, contact, resend_of)) =
        row
    else {
        return Ok(None);
    };
    let req: NewMessage =
        serde_json::from_str(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;

    let mut stmt = c.prepare_cached(
        "SELECT id, channel, connection_id, status, provider_message_id, product, units, encoding, country, next_attempt_at,
                failure_reason, failure_code, failure_detail, failure_retryable, COALESCE(failed_at, updated_at), address_kind, address
         FROM deliveries WHERE message_id = ?1 ORDER BY id",
    )?;
    let mut deliveries = Vec::new();
    let mut rows = stmt.query([id])?;
    while let Some(r) = rows.next()? {
        let delivery_id: String = r.get(0)?;
        let failure = match r.get::<_, Option<String>>(10)? {
            Some(reason) => {
                let reason = FailureReason::parse(&reason).unwrap_or(FailureReason::Unknown);
                let connection_id: String = r.get(2)?;
                let address = match (
                    r.get::<_, Option<String>>(15)?,
                    r.get::<_, Option<String>>(16)?,
                ) {
                    (Some(kind), Some(address)) => Some(super::AddressKey {
                        workspace_id: ws.to_string(),
                        scope: if kind == "psid" {
                            connection_id.clone()
                        } else {
                            String::new()
                        },
                        kind,
                        address,
                    }),
                    _ => None,
                };
                let facts = super::resend_facts(
                    c,
                    id,
                    &connection_id,
                    address.as_ref(),
                    r.get(14)?,
                    &req.urls(),
                )?;
                Some(FailureView {
                    reason,
                    provider_code: r.get(11)?,
                    detail: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                    retryable: r.get::<_, Option<bool>>(13)?.unwrap_or(false),
                    resend: crate::resend::verdict(reason, &facts, now_ms()),
                })
            }
            None => None,
        };
        let cost = crate::billing::delivery_cost(c, &delivery_id)?;
        deliveries.push(DeliveryView {
            attempts: load_attempts(c, &delivery_id)?,
            timeline: load_timeline(c, &delivery_id)?,
            id: delivery_id,
            channel: r.get(1)?,
            connection: r.get(2)?,
            status: parse_status(&r.get::<_, String>(3)?)?,
            provider_message_id: r.get(4)?,
            product: r.get(5)?,
            units: r.get(6)?,
            encoding: r.get(7)?,
            country: r.get(8)?,
            next_attempt_at: r.get::<_, Option<i64>>(9)?.map(rfc3339),
            failure,
            cost,
        });
    }
    Ok(Some(MessageView {
        id: id.to_string(),
        workspace: ws.to_string(),
        channel,
        status: parse_status(&status)?,
        to: req.to,
        content: req.content,
        category: req.category,
        metadata: req.metadata,
        options: req.options,
        idempotency_key,
        contact,
        resend_of,
        route: super::routing::route_view(c, id)?,
        created_at: rfc3339(created),
        updated_at: rfc3339(updated),
        deliveries,
    }))
}

fn load_attempts(c: &Connection, delivery_id: &str) -> Result<Vec<AttemptView>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT number, started_at, finished_at, outcome, reason, provider_code, detail, retry_after_ms
         FROM attempts WHERE delivery_id = ?1 ORDER BY number",
    )?;
    let mut out = Vec::new();
    let mut rows = stmt.query([delivery_id])?;
    while let Some(r) = rows.next()? {
        let (started, finished): (i64, i64) = (r.get(1)?, r.get(2)?);
        let outcome: String = r.get(3)?;
        out.push(AttemptView {
            number: r.get(0)?,
            started_at: rfc3339(started),
            finished_at: rfc3339(finished),
            duration_ms: finished - started,
            outcome: AttemptOutcome::parse(&outcome)
                .ok_or_else(|| StoreError::Corrupt(format!("attempt outcome {outcome:?}")))?,
            reason: r
                .get::<_, Option<String>>(4)?
                .and_then(|s| FailureReason::parse(&s)),
            provider_code: r.get(5)?,
            detail: r.get(6)?,
            retry_after_ms: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        });
    }
    Ok(out)
}

fn load_timeline(c: &Connection, delivery_id: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT status, at, source, detail, applied FROM events WHERE delivery_id = ?1 ORDER BY seq")?;
    let mut out = Vec::new();
    let mut rows = stmt.query([delivery_id])?;
    while let Some(r) = rows.next()? {
        out.push(TimelineEntry {
            status: parse_status(&r.get::<_, String>(0)?)?,
            at: rfc3339(r.get(1)?),
            source: r.get(2)?,
            detail: r.get(3)?,
            applied: r.get(4)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Content, Recipient};

    fn insert(id: &str, key: Option<&str>, text: &str) -> InsertMessage {
        InsertMessage {
            id: id.into(),
            workspace_id: "ws".into(),
            request: NewMessage {
                channel: "sms".into(),
                to: Recipient {
                    phone: Some("+14155550100".into()),
                    ..Default::default()
                },
                content: Content {
                    text: Some(text.into()),
                    ..Default::default()
                },
                category: Default::default(),
                metadata: Default::default(),
                options: Default::default(),
                connection: None,
                policy: None,
            },
            request_hash: format!("hash-{text}"),
            idempotency_key: key.map(str::to_string),
            delivery: NewDelivery {
                id: format!("dlv-{id}"),
                connection_id: "con".into(),
                product: None,
                units: None,
                encoding: None,
                country: None,
                address: None,
            },
            resend_of: None,
        }
    }

    #[tokio::test]
    async fn concurrent_inserts_with_one_idempotency_key_commit_one_message() {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-store-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let store = Arc::new(Store::open(&dir).unwrap());
        store.ensure_workspace("ws", "test").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            // Same key, same body: all in the same group commits, racing.
            tasks.push(tokio::spawn(async move {
                store
                    .insert_message(insert(&format!("m{i}"), Some("k"), "same"))
                    .await
            }));
        }
        let mut new = 0;
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            match t.await.unwrap().unwrap() {
                Inserted::New => new += 1,
                Inserted::Existing {
                    id, same_request, ..
                } => {
                    assert!(same_request);
                    ids.insert(id);
                }
            }
        }
        assert_eq!(new, 1);
        assert_eq!(ids.len(), 1, "every replay names the one committed message");
        // Unrelated writes in the same batches are unaffected.
        assert_eq!(
            store
                .insert_message(insert("other", None, "x"))
                .await
                .unwrap(),
            Inserted::New
        );
        let count = store
            .read(|c| {
                Ok::<_, crate::store::StoreError>(c.query_row(
                    "SELECT COUNT(*) FROM messages",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(count, 2);
        let _ = std::fs::remove_dir_all(dir);
    }
}
