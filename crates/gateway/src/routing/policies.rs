//! Where policies come from, in the order a name is looked up:
//! 1. the workspace's own (`/v1/policies`, stored in SQLite by `store::policies`);
//! 2. the config file given with `serve --policies FILE` (a JSON array; read-only at run time);
//! 3. the built-in `follow-up`.
//!
//! Names of config-file and built-in policies are reserved: a workspace cannot shadow them,
//! so `follow-up` means the same thing everywhere.

use std::sync::Arc;

use super::policy::{FOLLOW_UP, Policy, follow_up};
use crate::model::Violation;
use crate::runtime::PluginRuntime;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("{path}: {detail}")]
    Parse { path: String, detail: String },
    #[error("{path}: policy `{name}`: {violations}")]
    Invalid {
        path: String,
        name: String,
        violations: String,
    },
}

/// Read and validate a policy file against the loaded channels.
pub fn load_file(
    path: &std::path::Path,
    channels: &[String],
) -> Result<Vec<Policy>, PolicyFileError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PolicyFileError::Read {
        path: p.clone(),
        detail: e.to_string(),
    })?;
    let policies: Vec<Policy> =
        serde_json::from_str(&text).map_err(|e| PolicyFileError::Parse {
            path: p.clone(),
            detail: e.to_string(),
        })?;
    for policy in &policies {
        let mut v = policy.validate(channels);
        if policy.name == FOLLOW_UP {
            v.push(Violation {
                code: "reserved".into(),
                field: "name".into(),
                message: "`follow-up` is built in".into(),
            });
        }
        if !v.is_empty() {
            let violations: Vec<String> = v
                .iter()
                .map(|v| format!("{}: {}", v.field, v.message))
                .collect();
            return Err(PolicyFileError::Invalid {
                path: p,
                name: policy.name.clone(),
                violations: violations.join("; "),
            });
        }
    }
    Ok(policies)
}

/// Every channel a loaded plugin serves: what a policy may name.
pub fn channels(runtime: &PluginRuntime) -> Vec<String> {
    let mut c: Vec<String> = runtime
        .plugins()
        .iter()
        .map(|p| p.channel().to_string())
        .collect();
    c.sort();
    c.dedup();
    c
}

/// The policies service: the one lookup order for a policy name (workspace, config file,
/// built-in) and the names a workspace may not take. It owns the config file's policies,
/// which are read once at start and never change.
pub struct Policies {
    /// The workspaces' own policies.
    store: Arc<Store>,
    /// The loaded plugins, whose channels a policy may name.
    runtime: Arc<PluginRuntime>,
    config: Vec<Policy>,
}

impl Policies {
    pub fn new(store: Arc<Store>, runtime: Arc<PluginRuntime>, config: Vec<Policy>) -> Arc<Self> {
        Arc::new(Policies {
            store,
            runtime,
            config,
        })
    }

    /// Resolve a policy name for a workspace.
    pub async fn resolve(&self, workspace: &str, name: &str) -> Result<Option<Policy>, StoreError> {
        if let Some(p) = self.store.get_policy(workspace.into(), name.into()).await? {
            return Ok(Some(p));
        }
        if let Some(p) = self.config.iter().find(|p| p.name == name) {
            return Ok(Some(p.clone()));
        }
        Ok((name == FOLLOW_UP).then(follow_up))
    }

    /// Built-in and config-file names, which workspaces cannot take.
    pub fn is_reserved(&self, name: &str) -> bool {
        name == FOLLOW_UP || self.config.iter().any(|p| p.name == name)
    }

    /// The built-in and config-file policies.
    pub fn shared(&self) -> Vec<Policy> {
        let mut all = vec![follow_up()];
        all.extend(self.config.iter().cloned());
        all
    }

    /// The channels a policy may name now.
    pub fn channels(&self) -> Vec<String> {
        channels(&self.runtime)
    }
}
