//! Sender domains' rows: a domain an email connection's provider checks, its records with
//! the last check's result, its status, and which one is the workspace's follow-up sender.
//! The rules (what a check's result makes of the status, who may send from what) are the
//! gateway's `sender_domains` service; these functions read and write rows of the caller's
//! transaction.
//!
//! A domain whose connection was deleted is not read back: the rows stay, unreachable, as the
//! connection's own do.

use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

use super::StoreError;
use crate::model::{
    DnsRecordView, FollowUpSender, Millis, SenderDomainStatus, SenderDomainView, rfc3339,
};

/// One sender domain as stored.
#[derive(Debug, Clone)]
pub struct SenderDomainRow {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub domain: String,
    pub provider_id: String,
    pub status: SenderDomainStatus,
    pub records: Vec<DnsRecordView>,
    pub follow_up: Option<FollowUpSender>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub validated_at: Option<Millis>,
}

impl SenderDomainRow {
    pub fn view(&self) -> SenderDomainView {
        SenderDomainView {
            id: self.id.clone(),
            connection: self.connection_id.clone(),
            domain: self.domain.clone(),
            status: self.status,
            records: self.records.clone(),
            follow_up: self.follow_up.clone(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            validated_at: self.validated_at.map(rfc3339),
        }
    }
}

const COLUMNS: &str = "s.id, s.workspace_id, s.connection_id, s.domain, s.provider_id, s.status,
    s.records, s.follow_up_local_part, s.follow_up_name, s.created_at, s.updated_at, s.validated_at";

/// Only rows of connections that are not deleted.
const LIVE: &str =
    "sender_domains s JOIN connections c ON c.id = s.connection_id AND c.deleted_at IS NULL";

fn row(r: &Row) -> crate::sql::Result<SenderDomainRow> {
    let status: String = r.get(5)?;
    let records: String = r.get(6)?;
    let local_part: Option<String> = r.get(7)?;
    let name: Option<String> = r.get(8)?;
    Ok(SenderDomainRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        connection_id: r.get(2)?,
        domain: r.get(3)?,
        provider_id: r.get(4)?,
        status: SenderDomainStatus::parse(&status).ok_or_else(|| {
            crate::sql::Error::conversion(5, format!("unknown sender domain status {status:?}"))
        })?,
        records: serde_json::from_str(&records).map_err(|e| crate::sql::Error::conversion(6, e))?,
        follow_up: local_part.map(|local_part| FollowUpSender { local_part, name }),
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        validated_at: r.get(11)?,
    })
}

fn records_json(records: &[DnsRecordView]) -> Result<String, StoreError> {
    serde_json::to_string(records).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn insert(t: &Transaction, d: &SenderDomainRow) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO sender_domains (id, workspace_id, connection_id, domain, provider_id, status, records,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        d.id,
        d.workspace_id,
        d.connection_id,
        d.domain,
        d.provider_id,
        d.status.as_str(),
        records_json(&d.records)?,
        d.created_at
    ])?;
    Ok(())
}

/// A workspace's sender domain by id.
pub fn get(
    c: &Connection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<SenderDomainRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {LIVE} WHERE s.id = ?1 AND s.workspace_id = ?2"
    ))?
    .query_row(params![id, workspace_id], row)
    .optional()?)
}

/// A workspace's sender domains, by id, of one connection when named.
pub fn list(
    c: &Connection,
    workspace_id: &str,
    connection_id: Option<&str>,
) -> Result<Vec<SenderDomainRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {LIVE} WHERE s.workspace_id = ?1
           AND (CAST(?2 AS TEXT) IS NULL OR s.connection_id = ?2)
         ORDER BY s.id"
    ))?
    .query_map(params![workspace_id, connection_id], row)?
    .collect::<Result<Vec<_>, _>>()?)
}

/// The connection's row for `domain` (lower case), whatever its status.
pub fn for_domain(
    c: &Connection,
    connection_id: &str,
    domain: &str,
) -> Result<Option<SenderDomainRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {LIVE} WHERE s.connection_id = ?1 AND s.domain = ?2"
    ))?
    .query_row(params![connection_id, domain], row)
    .optional()?)
}

/// Record a check's outcome.
pub fn set_checked(
    t: &Transaction,
    id: &str,
    status: SenderDomainStatus,
    records: &[DnsRecordView],
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "UPDATE sender_domains SET status = ?2, records = ?3, validated_at = ?4, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, status.as_str(), records_json(records)?, now])?;
    Ok(())
}

pub fn delete(t: &Transaction, id: &str) -> Result<bool, StoreError> {
    Ok(
        t.prepare_cached("DELETE FROM sender_domains WHERE id = ?1")?
            .execute([id])?
            > 0,
    )
}

/// Make `id` the workspace's follow-up sender (taking it from any other), or clear it.
pub fn set_follow_up(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    follow_up: Option<&FollowUpSender>,
    now: Millis,
) -> Result<(), StoreError> {
    if follow_up.is_some() {
        t.prepare_cached(
            "UPDATE sender_domains SET follow_up_local_part = NULL, follow_up_name = NULL, updated_at = ?3
             WHERE workspace_id = ?1 AND id <> ?2 AND follow_up_local_part IS NOT NULL",
        )?
        .execute(params![workspace_id, id, now])?;
    }
    t.prepare_cached(
        "UPDATE sender_domains SET follow_up_local_part = ?2, follow_up_name = ?3, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![
        id,
        follow_up.map(|f| f.local_part.as_str()),
        follow_up.and_then(|f| f.name.as_deref()),
        now
    ])?;
    Ok(())
}

/// The workspace's follow-up sender domain, if one is set.
pub fn follow_up(
    c: &Connection,
    workspace_id: &str,
) -> Result<Option<SenderDomainRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {LIVE} WHERE s.workspace_id = ?1 AND s.follow_up_local_part IS NOT NULL"
    ))?
    .query_row([workspace_id], row)
    .optional()?)
}
