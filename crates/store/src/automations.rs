//! Automations and their versions: rows only. What a definition may say is the gateway's
//! (`automations/validate.rs`); here it is the JSON the gateway checked, one row per version.
//!
//! A `PUT` never changes a version: it writes the next one and moves `automations.version`
//! to it, so a run keeps reading the definition it started on. A delete only marks the
//! automation (`deleted_at`): its versions stay for the runs still going.

use crate::StoreError;
use crate::model::Millis;
use crate::model::automation::NewAutomation;
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

/// An automation with its current version's definition (as stored JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationRow {
    pub id: String,
    pub workspace_id: String,
    pub version: u32,
    pub definition: String,
    pub created_at: Millis,
    /// When the current version was written.
    pub updated_at: Millis,
}

/// An enabled automation's current definition, read for trigger matching.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentAutomation {
    pub id: String,
    pub version: u32,
    pub definition: NewAutomation,
}

const COLUMNS: &str = "a.id, a.workspace_id, a.version, v.definition, a.created_at, a.updated_at";

/// The automation joined to its current version.
const FROM: &str = "automations a JOIN automation_versions v
     ON v.automation_id = a.id AND v.version = a.version";

fn row(r: &Row<'_>) -> crate::sql::Result<AutomationRow> {
    Ok(AutomationRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        version: r.get(2)?,
        definition: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

/// A stored definition, read back.
pub fn parse_definition(definition: &str) -> Result<NewAutomation, StoreError> {
    serde_json::from_str(definition).map_err(|e| StoreError::Corrupt(format!("automation: {e}")))
}

/// Insert an automation and its version 1. `name` and `enabled` are copies of the
/// definition's, so listings and trigger matching filter without parsing it.
pub fn insert_automation(
    t: &Transaction,
    r: &AutomationRow,
    name: &str,
    enabled: bool,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO automations (id, workspace_id, name, enabled, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
    )?
    .execute(params![r.id, r.workspace_id, name, enabled, r.created_at])?;
    insert_version(t, &r.id, 1, &r.definition, r.created_at)
}

fn insert_version(
    t: &Transaction,
    id: &str,
    version: u32,
    definition: &str,
    at: Millis,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO automation_versions (automation_id, version, definition, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, version, definition, at])?;
    Ok(())
}

/// Write the next version of a live automation and make it current, in the caller's one
/// write; its number, or `None` when the workspace has no such automation (or it was
/// deleted).
pub fn add_version(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    name: &str,
    enabled: bool,
    definition: &str,
    at: Millis,
) -> Result<Option<u32>, StoreError> {
    let version: Option<u32> = t
        .prepare_cached(
            "UPDATE automations SET version = version + 1, name = ?3, enabled = ?4, updated_at = ?5
             WHERE workspace_id = ?1 AND id = ?2 AND deleted_at IS NULL RETURNING version",
        )?
        .query_row(params![workspace_id, id, name, enabled, at], |r| r.get(0))
        .optional()?;
    if let Some(v) = version {
        insert_version(t, id, v, definition, at)?;
    }
    Ok(version)
}

/// Mark an automation deleted; `false` when there is no live one. Its versions stay.
pub fn delete_automation(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    at: Millis,
) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(
        "UPDATE automations SET deleted_at = ?3
         WHERE workspace_id = ?1 AND id = ?2 AND deleted_at IS NULL",
    )?
    .execute(params![workspace_id, id, at])?
        == 1)
}

/// A live automation of the workspace, with its current definition.
pub fn automation(
    c: &Connection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<AutomationRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE a.workspace_id = ?1 AND a.id = ?2 AND a.deleted_at IS NULL"
    ))?
    .query_row(params![workspace_id, id], row)
    .optional()?)
}

/// Live automations after `after` (an id; ids grow with time), in id order: `limit` rows, or
/// `limit + 1` to tell that a next page exists.
pub fn automations_after(
    c: &Connection,
    workspace_id: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<AutomationRow>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM}
             WHERE a.workspace_id = ?1 AND a.id > ?2 AND a.deleted_at IS NULL
             ORDER BY a.id LIMIT ?3"
    ))?
    .query_map(params![workspace_id, after, limit], row)?
    .collect::<Result<_, _>>()?)
}

/// One version of an automation, deleted or not: what a run started on `version` follows.
pub fn automation_version(
    c: &Connection,
    automation_id: &str,
    version: u32,
) -> Result<Option<NewAutomation>, StoreError> {
    version_row(c, automation_id, version)?
        .map(|(definition, _)| parse_definition(&definition))
        .transpose()
}

/// One version's stored definition and when it was written.
pub fn version_row(
    c: &Connection,
    automation_id: &str,
    version: u32,
) -> Result<Option<(String, Millis)>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT definition, created_at FROM automation_versions
         WHERE automation_id = ?1 AND version = ?2",
    )?
    .query_row(params![automation_id, version], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?)
}

/// The workspace's enabled, live automations with their current definitions, oldest first:
/// the ones a trigger may start.
pub fn enabled_automations(
    c: &Connection,
    workspace_id: &str,
) -> Result<Vec<CurrentAutomation>, StoreError> {
    let rows: Vec<AutomationRow> = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE a.workspace_id = ?1 AND a.enabled = 1 AND a.deleted_at IS NULL
             ORDER BY a.id"
        ))?
        .query_map([workspace_id], row)?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|r| {
            Ok(CurrentAutomation {
                definition: parse_definition(&r.definition)?,
                id: r.id,
                version: r.version,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreError};

    fn definition(name: &str) -> String {
        serde_json::json!({"name": name, "enabled": true, "trigger": {"type": "conversation.started"},
            "steps": [{"id": "s1", "end": {}}]})
        .to_string()
    }

    /// A new version moves the current one in the same write; the old one stays readable,
    /// after a delete too, while the automation itself is gone from listings and reads.
    #[test]
    fn versions_are_kept_and_a_delete_only_marks() {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-store-automations-{}-{}",
            std::process::id(),
            crate::statements_run()
        ));
        let store = Store::open(&dir).expect("the store opens");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let row = AutomationRow {
            id: "aut_1".into(),
            workspace_id: "ws_a".into(),
            version: 1,
            definition: definition("one"),
            created_at: 10,
            updated_at: 10,
        };
        let saved = row.clone();
        rt.block_on(store.write(move |t| insert_automation(t, &saved, "one", true)))
            .expect("inserted");
        let two = definition("two");
        let v = rt
            .block_on(store.write(move |t| add_version(t, "ws_a", "aut_1", "two", false, &two, 20)))
            .expect("written");
        assert_eq!(v, Some(2));
        let other = rt
            .block_on(store.write(|t| add_version(t, "ws_b", "aut_1", "x", true, "{}", 30)))
            .expect("written");
        assert_eq!(other, None, "another workspace's id");
        let (current, enabled, v1) = rt
            .block_on(store.read(|c| {
                Ok::<_, StoreError>((
                    automation(c, "ws_a", "aut_1")?,
                    enabled_automations(c, "ws_a")?,
                    automation_version(c, "aut_1", 1)?,
                ))
            }))
            .expect("read");
        let current = current.expect("live");
        assert_eq!((current.version, current.updated_at), (2, 20));
        assert!(enabled.is_empty(), "version 2 is disabled");
        assert_eq!(v1.expect("version 1").name, "one");
        let deleted = rt
            .block_on(store.write(|t| delete_automation(t, "ws_a", "aut_1", 40)))
            .expect("deleted");
        assert!(deleted);
        let (current, page, v2) = rt
            .block_on(store.read(|c| {
                Ok::<_, StoreError>((
                    automation(c, "ws_a", "aut_1")?,
                    automations_after(c, "ws_a", "", 10)?,
                    automation_version(c, "aut_1", 2)?,
                ))
            }))
            .expect("read");
        assert!(current.is_none() && page.is_empty());
        assert_eq!(v2.expect("kept for runs going").name, "two");
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
