//! Rows a contact edit touches (the note name, and the one phone or email a person is known
//! by): tables only. What an edit may change, how a phone or email must look, and what to do
//! when the address belongs to someone else are the gateway's (`contact_edits.rs`).

use crate::StoreError;
use crate::model::{AddressKey, Millis};
use crate::sql::{OptionalExtension, Transaction, params};

pub fn contact_exists(t: &Transaction, workspace_id: &str, id: &str) -> Result<bool, StoreError> {
    Ok(
        t.prepare_cached("SELECT 1 FROM contacts WHERE workspace_id = ?1 AND id = ?2")?
            .query_row(params![workspace_id, id], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// The contact an address belongs to.
pub fn address_owner(t: &Transaction, key: &AddressKey) -> Result<Option<String>, StoreError> {
    Ok(t.prepare_cached(
        "SELECT contact_id FROM contact_addresses
             WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
    )?
    .query_row(
        params![key.workspace_id, key.kind, key.scope, key.address],
        |r| r.get(0),
    )
    .optional()?)
}

pub fn set_contact_name(
    t: &Transaction,
    id: &str,
    name: Option<&str>,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached("UPDATE contacts SET name = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, name, now])?;
    Ok(())
}

/// The contact's addresses of `kind` (a global kind: phone or email) become `address`, or
/// none. An address it already has keeps its row (validity, last inbound time).
pub fn replace_address(
    t: &Transaction,
    workspace_id: &str,
    contact_id: &str,
    kind: &str,
    address: Option<&str>,
    now: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "DELETE FROM contact_addresses WHERE workspace_id = ?1 AND contact_id = ?2 AND kind = ?3
           AND (CAST(?4 AS TEXT) IS NULL OR address <> ?4)",
    )?
    .execute(params![workspace_id, contact_id, kind, address])?;
    if let Some(address) = address {
        t.prepare_cached(
            "INSERT INTO contact_addresses (workspace_id, kind, scope, address, contact_id, created_at)
             VALUES (?1, ?2, '', ?3, ?4, ?5) ON CONFLICT (workspace_id, kind, scope, address) DO NOTHING",
        )?
        .execute(params![workspace_id, kind, address, contact_id, now])?;
    }
    t.prepare_cached("UPDATE contacts SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![contact_id, now])?;
    Ok(())
}
