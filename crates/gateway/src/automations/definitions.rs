//! Automation definitions: create, replace (a new version), delete, read. Every write
//! checks the body as written first ([`super::validate`]) and then what it names in the
//! workspace (an `assign` step's member, a `notify` step's targets, as notification rules
//! check theirs), and reports every violation found at once.
//!
//! Versions are never changed: `PUT` writes version n+1 and makes it current in one store
//! write, so a run keeps the definition it started on ([`crate::store::automations`]).

use std::collections::HashSet;

use serde_json::Value;

use super::validate;
use crate::Gateway;
use crate::model::automation::{AutomationPage, AutomationView, NewAutomation};
use crate::model::{Violation, new_id, now_ms, rfc3339};
use crate::store::StoreError;
use crate::store::automations::{self as rows, AutomationRow};

#[derive(Debug, thiserror::Error)]
pub enum AutomationsError {
    #[error("automation not found")]
    NotFound,
    /// Every mistake found, each with its path.
    #[error("the automation is not valid: {}", summary(.0))]
    Invalid(Vec<Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `field: message; …`, for the error's message.
pub fn summary(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn view(r: AutomationRow) -> Result<AutomationView, StoreError> {
    Ok(AutomationView {
        definition: rows::parse_definition(&r.definition)?,
        id: r.id,
        version: r.version,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// A checked definition as stored: serde's own output, defaults filled in, so what is read
/// back is what the engine will follow.
fn encode(a: &NewAutomation) -> Result<String, StoreError> {
    serde_json::to_string(a).map_err(|e| StoreError::Corrupt(format!("automation: {e}")))
}

impl Gateway {
    /// The definition in `body`, or every violation in it and in what it names.
    async fn check_automation(
        &self,
        ws: &str,
        body: Value,
    ) -> Result<NewAutomation, AutomationsError> {
        let checked = validate::check(&body);
        let mut violations = checked.violations;
        // A target named by many steps is looked up once.
        let mut found = HashSet::new();
        for r in &checked.references {
            let key = serde_json::to_string(&r.target).unwrap_or_default();
            if found.contains(&key) {
                continue;
            }
            match self.target_problem(ws, &r.target, &r.at).await? {
                Some(p) => violations.push(Violation {
                    code: if p.missing {
                        "not_found"
                    } else {
                        "invalid_value"
                    }
                    .into(),
                    field: p.field,
                    message: p.message,
                }),
                None => {
                    found.insert(key);
                }
            }
        }
        if !violations.is_empty() {
            return Err(AutomationsError::Invalid(violations));
        }
        validate::parse(body).map_err(AutomationsError::Invalid)
    }

    /// Create an automation from a body as written: version 1.
    pub async fn create_automation(
        &self,
        ws: String,
        body: Value,
    ) -> Result<AutomationView, AutomationsError> {
        let a = self.check_automation(&ws, body).await?;
        let now = now_ms();
        let row = AutomationRow {
            id: new_id("aut"),
            workspace_id: ws,
            version: 1,
            definition: encode(&a)?,
            created_at: now,
            updated_at: now,
        };
        let (saved, name, enabled) = (row.clone(), a.name.clone(), a.enabled);
        self.store
            .write(move |t| rows::insert_automation(t, &saved, &name, enabled))
            .await?;
        Ok(view(row)?)
    }

    /// Replace an automation's definition: the next version becomes current; runs going on
    /// an older one finish on it.
    pub async fn replace_automation(
        &self,
        ws: String,
        id: String,
        body: Value,
    ) -> Result<AutomationView, AutomationsError> {
        // An unknown id is a 404 whatever the body holds, as for every other resource.
        if self.automation(ws.clone(), id.clone()).await?.is_none() {
            return Err(AutomationsError::NotFound);
        }
        let a = self.check_automation(&ws, body).await?;
        let definition = encode(&a)?;
        let (w, i, now) = (ws.clone(), id.clone(), now_ms());
        let version = self
            .store
            .write(move |t| rows::add_version(t, &w, &i, &a.name, a.enabled, &definition, now))
            .await?;
        if version.is_none() {
            // Deleted meanwhile.
            return Err(AutomationsError::NotFound);
        }
        self.automation(ws, id)
            .await?
            .ok_or(AutomationsError::NotFound)
    }

    /// Mark an automation deleted; `false` when there is no live one. Runs going finish.
    pub async fn delete_automation(&self, ws: String, id: String) -> Result<bool, StoreError> {
        self.store
            .write(move |t| rows::delete_automation(t, &ws, &id, now_ms()))
            .await
    }

    /// A page of live automations in creation order, after `cursor` (the last id of the
    /// page before).
    pub async fn automations(
        &self,
        ws: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<AutomationPage, StoreError> {
        let found = self
            .store
            .read(move |c| rows::automations_after(c, &ws, &cursor.unwrap_or_default(), limit + 1))
            .await?;
        let (found, next_cursor) = crate::store::split_page(found, limit, |r| r.id.clone());
        Ok(AutomationPage {
            data: found.into_iter().map(view).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    /// A live automation, with its current version.
    pub async fn automation(
        &self,
        ws: String,
        id: String,
    ) -> Result<Option<AutomationView>, StoreError> {
        self.store
            .read(move |c| rows::automation(c, &ws, &id))
            .await?
            .map(view)
            .transpose()
    }

    /// One version of a live automation; `updated_at` is when that version was written.
    pub async fn automation_version(
        &self,
        ws: String,
        id: String,
        version: u32,
    ) -> Result<Option<AutomationView>, StoreError> {
        let found = self
            .store
            .read(move |c| {
                let Some(current) = rows::automation(c, &ws, &id)? else {
                    return Ok::<_, StoreError>(None);
                };
                Ok(rows::version_row(c, &id, version)?.map(|v| (current, v)))
            })
            .await?;
        found
            .map(|(current, (definition, written_at))| {
                view(AutomationRow {
                    version,
                    definition,
                    updated_at: written_at,
                    ..current
                })
            })
            .transpose()
    }
}
