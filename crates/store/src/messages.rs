//! Accepting messages and reading them back with their deliveries, attempts and timeline.

use crate::sql::{Connection, OptionalExtension, Transaction, params};

use super::{Store, StoreError, parse_status};
use crate::model::{
    AttemptOutcome, AttemptView, DeliveryView, FailureReason, MessagePage, MessageSummary,
    MessageView, Millis, NewMessage, ResendFacts, Status, TimelineEntry, rfc3339,
};

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

/// A delivery row as it is first written.
#[derive(Debug, Clone)]
pub struct DeliveryRow<'a> {
    pub id: &'a str,
    pub message_id: &'a str,
    pub connection_id: &'a str,
    pub channel: &'a str,
    pub product: Option<&'a str>,
    pub units: Option<u32>,
    pub encoding: Option<&'a str>,
    pub country: Option<&'a str>,
    pub address_kind: Option<&'a str>,
    pub address: Option<&'a str>,
    /// The route step, for a routed message's delivery.
    pub step: Option<usize>,
}

fn to_json(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A message with a channel of its own, `queued`.
#[allow(clippy::too_many_arguments)]
pub fn insert_message_row(
    t: &Transaction,
    id: &str,
    workspace_id: &str,
    request: &NewMessage,
    request_hash: &str,
    idempotency_key: Option<&str>,
    contact_id: Option<&str>,
    resend_of: Option<&str>,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO messages (id, workspace_id, channel, status, request, request_hash, idempotency_key, created_at, updated_at,
            contact_id, resend_of)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
    )?
    .execute(params![id, workspace_id, request.channel, to_json(request)?, request_hash, idempotency_key, now, contact_id, resend_of])?;
    Ok(())
}

/// A routed message: no channel of its own, its policy, its route `running`.
#[allow(clippy::too_many_arguments)]
pub fn insert_routed_message(
    t: &Transaction,
    id: &str,
    workspace_id: &str,
    request: &NewMessage,
    request_hash: &str,
    idempotency_key: Option<&str>,
    contact_id: Option<&str>,
    policy: &crate::model::policy::Policy,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO messages (id, workspace_id, channel, status, request, request_hash, idempotency_key, created_at, updated_at,
            contact_id, route_policy, route_outcome)
         VALUES (?1, ?2, '', 'queued', ?3, ?4, ?5, ?6, ?6, ?7, ?8, 'running')",
    )?
    .execute(params![id, workspace_id, to_json(request)?, request_hash, idempotency_key, now, contact_id, to_json(policy)?])?;
    Ok(())
}

/// A delivery, `queued` and due now.
pub fn insert_delivery(
    t: &Transaction,
    d: &DeliveryRow<'_>,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO deliveries (id, message_id, connection_id, channel, status, product, units, encoding, country,
            next_attempt_at, created_at, updated_at, address_kind, address, step)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![d.id, d.message_id, d.connection_id, d.channel, d.product, d.units, d.encoding, d.country, now,
        d.address_kind, d.address, d.step])?;
    Ok(())
}

/// The message already made as a resend of `original`: `(id, status)`.
pub fn find_resend_of(
    t: &Transaction,
    original: &str,
) -> Result<Option<(String, Status)>, StoreError> {
    let existing = t
        .prepare_cached("SELECT id, status FROM messages WHERE resend_of = ?1")?
        .query_row([original], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    existing
        .map(|(id, status)| Ok((id, parse_status(&status)?)))
        .transpose()
}

/// Which messages a listing shows; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<Status>,
    pub channel: Option<String>,
    /// An address a delivery went to, as its channel normalised it (E.164 phone, email,
    /// page-scoped id, device token).
    pub recipient: Option<String>,
    /// Created at or after (ms).
    pub created_from: Option<i64>,
    /// Created before (ms).
    pub created_to: Option<i64>,
    /// Only messages with (`true`) or without (`false`) a delivery whose attempts ran out.
    pub exhausted: Option<bool>,
    /// Only messages to contacts whose conversation this member received or owns (a data
    /// scope of `own`).
    pub own_member: Option<String>,
}

impl Store {
    /// Look up an idempotency key without writing: the fast path for a repeated request.
    pub async fn find_idempotent(
        &self,
        workspace_id: &str,
        key: &str,
    ) -> Result<Option<(String, Status, String)>, StoreError> {
        let (ws, key) = (workspace_id.to_string(), key.to_string());
        self.read(move |c| find_by_key(c, &ws, &key)).await
    }

    /// Newest first; `cursor` is the last id of the previous page.
    pub async fn list_messages(
        &self,
        workspace_id: &str,
        filter: MessageFilter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<MessagePage, StoreError> {
        let ws = workspace_id.to_string();
        let MessageFilter {
            status,
            channel,
            recipient,
            created_from,
            created_to,
            exhausted,
            own_member,
        } = filter;
        self.read(move |c| {
            // A recipient is found through its deliveries (`deliveries_address_only`): the
            // address as the channel normalised it, the same on every channel. With one, the
            // statement starts from those few deliveries (the planner cannot tell from a
            // `?6 IS NULL OR …` that it may), without one from the newest messages.
            let rows_from = if recipient.is_some() {
                "messages WHERE id IN (SELECT message_id FROM deliveries WHERE address = ?6) AND"
            } else {
                "messages WHERE CAST(?6 AS TEXT) IS NULL AND"
            };
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, channel, status, request, created_at, updated_at,
                        CASE WHEN status = 'failed' AND EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id AND d.exhausted = 1) THEN 1 ELSE 0 END
                 FROM {rows_from}
                   workspace_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) AND (CAST(?3 AS TEXT) IS NULL OR channel = ?3)
                   AND (CAST(?4 AS TEXT) IS NULL OR id < ?4)
                   AND (CAST(?7 AS BIGINT) IS NULL OR created_at >= ?7)
                   AND (CAST(?8 AS BIGINT) IS NULL OR created_at < ?8)
                   AND (CAST(?9 AS BIGINT) IS NULL OR ?9 = CASE WHEN status = 'failed' AND EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id AND d.exhausted = 1) THEN 1 ELSE 0 END)
                   AND (CAST(?10 AS TEXT) IS NULL OR contact_id IN
                        (SELECT contact_id FROM conversations WHERE workspace_id = ?1 AND (owner = ?10 OR received_by = ?10)))
                 ORDER BY id DESC LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![ws, status.map(Status::as_str), channel, cursor, limit as i64 + 1, recipient, created_from, created_to, exhausted.map(i64::from), own_member],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?, r.get::<_, i64>(6)?)),
            )?;
            let mut data = Vec::new();
            for row in rows {
                let (id, channel, status, request, created, updated, exhausted) = row?;
                let req: NewMessage = serde_json::from_str(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                data.push(MessageSummary {
                    status: parse_status(&status)?,
                    exhausted: exhausted == 1,
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

pub fn find_by_key(
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

/// A delivery's failure as stored, with the facts a resend decision is made on.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    pub reason: FailureReason,
    pub provider_code: Option<String>,
    pub detail: String,
    pub retryable: bool,
    /// It failed because its attempts ran out (a dead letter).
    pub exhausted: bool,
    pub facts: ResendFacts,
}

/// A message as stored: its view without what rules decide (each delivery's `failure` and
/// `cost` are left empty), and each delivery's failure, in the same order.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub view: MessageView,
    pub failures: Vec<Option<FailureRecord>>,
}

pub fn load_message(
    c: &Connection,
    ws: &str,
    id: &str,
) -> Result<Option<MessageRecord>, StoreError> {
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
                failure_reason, failure_code, failure_detail, failure_retryable, COALESCE(failed_at, updated_at), address_kind, address, exhausted
         FROM deliveries WHERE message_id = ?1 ORDER BY id",
    )?;
    let mut deliveries = Vec::new();
    let mut failures = Vec::new();
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
                let facts = super::resend_facts::resend_facts(
                    c,
                    id,
                    &connection_id,
                    address.as_ref(),
                    r.get(14)?,
                    &req.urls(),
                )?;
                Some(FailureRecord {
                    reason,
                    provider_code: r.get(11)?,
                    detail: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                    retryable: r.get::<_, Option<bool>>(13)?.unwrap_or(false),
                    exhausted: r.get::<_, bool>(17)?,
                    facts,
                })
            }
            None => None,
        };
        failures.push(failure);
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
            failure: None,
            cost: None,
        });
    }
    let view = MessageView {
        id: id.to_string(),
        workspace: ws.to_string(),
        channel,
        status: parse_status(&status)?,
        // What the rules make of the failures (the services set it).
        exhausted: false,
        to: req.to,
        content: req.content,
        category: req.category,
        metadata: req.metadata,
        options: req.options,
        from: req.from,
        idempotency_key,
        contact,
        resend_of,
        route: super::routes::route_view(c, id)?,
        created_at: rfc3339(created),
        updated_at: rfc3339(updated),
        deliveries,
    };
    Ok(Some(MessageRecord { view, failures }))
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
