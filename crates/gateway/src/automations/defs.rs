//! The definitions runs follow. A version never changes once written, so each is parsed
//! once per process and shared; the list of a workspace's active automations is read in the
//! commit that needs it, so an edit applies to the next trigger on every node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::model::automation::NewAutomation;
use crate::store::StoreError;
use crate::store::sql::Connection;

type Versions = Mutex<HashMap<(String, u32), Arc<NewAutomation>>>;

fn versions() -> &'static Versions {
    static V: OnceLock<Versions> = OnceLock::new();
    V.get_or_init(Default::default)
}

/// A version already parsed in this process, without a trip to the store.
pub fn cached(automation_id: &str, version: u32) -> Option<Arc<NewAutomation>> {
    versions()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(automation_id.to_string(), version))
        .cloned()
}

/// One version of an automation (runs finish on the version they started on).
pub fn version(
    c: &Connection,
    automation_id: &str,
    version: u32,
) -> Result<Option<Arc<NewAutomation>>, StoreError> {
    let key = (automation_id.to_string(), version);
    if let Some(d) = versions()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        return Ok(Some(d.clone()));
    }
    let Some(def) = crate::store::automations::automation_version(c, automation_id, version)?
    else {
        return Ok(None);
    };
    let def = Arc::new(def);
    versions()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, def.clone());
    Ok(Some(def))
}

/// The workspace's enabled automations at their current versions: `(id, version, definition)`.
pub fn active(
    c: &Connection,
    workspace_id: &str,
) -> Result<Vec<(String, u32, Arc<NewAutomation>)>, StoreError> {
    Ok(
        crate::store::automations::enabled_automations(c, workspace_id)?
            .into_iter()
            .map(|a| (a.id, a.version, Arc::new(a.definition)))
            .collect(),
    )
}
