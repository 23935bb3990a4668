//! A workspace's own routing policies (`/v1/policies`): stored as written, by name.

use crate::sql::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::now_ms;
use crate::model::policy::Policy;

impl Store {
    /// Insert (`create`) or replace (`!create`); returns false when the precondition fails
    /// (exists on create, missing on replace).
    pub async fn put_policy(
        &self,
        workspace_id: String,
        policy: Policy,
        create: bool,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            let exists = t
                .prepare_cached("SELECT 1 FROM policies WHERE workspace_id = ?1 AND name = ?2")?
                .exists(params![workspace_id, policy.name])?;
            if exists == create {
                return Ok(false);
            }
            let def = serde_json::to_string(&policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let now = now_ms();
            t.prepare_cached(
                "INSERT INTO policies (workspace_id, name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (workspace_id, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
            )?
            .execute(params![workspace_id, policy.name, def, now])?;
            Ok(true)
        })
        .await
    }

    pub async fn get_policy(
        &self,
        workspace_id: String,
        name: String,
    ) -> Result<Option<Policy>, StoreError> {
        self.read(move |c| {
            let def: Option<String> = c
                .prepare_cached(
                    "SELECT definition FROM policies WHERE workspace_id = ?1 AND name = ?2",
                )?
                .query_row(params![workspace_id, name], |r| r.get(0))
                .optional()?;
            def.map(|d| serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(e.to_string())))
                .transpose()
        })
        .await
    }

    pub async fn list_policies(&self, workspace_id: String) -> Result<Vec<Policy>, StoreError> {
        self.read(move |c| {
            let defs: Vec<String> = c
                .prepare_cached(
                    "SELECT definition FROM policies WHERE workspace_id = ?1 ORDER BY name",
                )?
                .query_map([workspace_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            defs.iter()
                .map(|d| serde_json::from_str(d).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect()
        })
        .await
    }

    pub async fn delete_policy(
        &self,
        workspace_id: String,
        name: String,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            Ok(
                t.prepare_cached("DELETE FROM policies WHERE workspace_id = ?1 AND name = ?2")?
                    .execute(params![workspace_id, name])?
                    > 0,
            )
        })
        .await
    }

    /// Whether any running step changed or fell due (a read, so an idle router writes nothing).
    pub async fn routes_pending(&self) -> Result<bool, StoreError> {
        self.read(|c| {
            let now = now_ms();
            Ok(
                c.prepare_cached(
                    "SELECT 1 FROM route_steps WHERE dirty = 1 AND state = 'running'",
                )?
                .exists([])?
                    || c.prepare_cached(
                        "SELECT 1 FROM route_steps WHERE state = 'running' AND deadline_at <= ?1",
                    )?
                    .exists([now])?,
            )
        })
        .await
    }
}
