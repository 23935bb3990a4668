//! Webhook endpoints: created, listed, patched, rotated, deleted, resealed.

use std::sync::Arc;

use switchboard_store::sql::{OptionalExtension, Row, params};

use super::{EndpointPatch, EndpointView, EndpointWithSecret, live_endpoint_column, secret_owner};
use crate::model::{Millis, new_id, now_ms, rfc3339};
use crate::store::StoreError;
use crate::vault::{Vault, VaultError};

/// Why an endpoint's secret could not be written: the store, or sealing the secret (which
/// the store has no word for: it holds sealed bytes only).
#[derive(Debug, thiserror::Error)]
pub enum EndpointSecretError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("secrets: {0}")]
    Vault(#[from] VaultError),
}

impl From<switchboard_store::sql::Error> for EndpointSecretError {
    fn from(e: switchboard_store::sql::Error) -> Self {
        EndpointSecretError::Store(e.into())
    }
}

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, status, status_detail, failing_since, created_at, updated_at";

fn endpoint(r: &Row) -> switchboard_store::sql::Result<EndpointView> {
    let types: String = r.get(3)?;
    Ok(EndpointView {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        event_types: serde_json::from_str(&types).unwrap_or_default(),
        status: r.get(4)?,
        status_detail: r.get(5)?,
        failing_since: r.get::<_, Option<Millis>>(6)?.map(rfc3339),
        created_at: rfc3339(r.get(7)?),
        updated_at: rfc3339(r.get(8)?),
    })
}

/// An endpoint as it now stands, by id (after the caller checked the workspace).
fn endpoint_by_id(
    c: &switchboard_store::sql::Connection,
    id: &str,
) -> switchboard_store::sql::Result<EndpointView> {
    c.query_row(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"),
        [id],
        endpoint,
    )
}

impl super::EventLog {
    pub async fn create_endpoint(
        &self,
        workspace_id: String,
        url: String,
        description: String,
        event_types: Vec<String>,
        secret: String,
        vault: Arc<Vault>,
    ) -> Result<EndpointWithSecret, EndpointSecretError> {
        self.store.write(move |t| {
            let id = new_id("whe");
            let now = now_ms();
            t.execute(
                "INSERT INTO webhook_endpoints (id, workspace_id, url, description, event_types, secret, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'enabled', ?7, ?7)",
                params![
                    id,
                    workspace_id,
                    url,
                    description,
                    serde_json::to_string(&event_types).unwrap_or_else(|_| "[]".into()),
                    vault.seal(&secret_owner(&id), secret.as_bytes())?,
                    now
                ],
            )?;
            let view = endpoint_by_id(t, &id)?;
            Ok(EndpointWithSecret { endpoint: view, secret })
        })
        .await
    }

    pub async fn endpoints(&self, workspace_id: String) -> Result<Vec<EndpointView>, StoreError> {
        self.store.read(move |c| {
            Ok(c.prepare(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id"
            ))?
            .query_map([workspace_id], endpoint)?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn endpoint(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<Option<EndpointView>, StoreError> {
        self.store.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL"),
                params![id, workspace_id],
                endpoint,
            )
            .optional()?)
        })
        .await
    }

    pub async fn patch_endpoint(
        &self,
        workspace_id: String,
        id: String,
        patch: EndpointPatch,
    ) -> Result<Option<EndpointView>, StoreError> {
        self.store.write(move |t| {
            if live_endpoint_column::<i64>(t, &workspace_id, &id, "1")?.is_none() {
                return Ok(None);
            }
            let now = now_ms();
            if let Some(url) = patch.url {
                t.execute("UPDATE webhook_endpoints SET url = ?2 WHERE id = ?1", params![id, url])?;
            }
            if let Some(d) = patch.description {
                t.execute("UPDATE webhook_endpoints SET description = ?2 WHERE id = ?1", params![id, d])?;
            }
            if let Some(types) = patch.event_types {
                t.execute(
                    "UPDATE webhook_endpoints SET event_types = ?2 WHERE id = ?1",
                    params![id, serde_json::to_string(&types).unwrap_or_else(|_| "[]".into())],
                )?;
            }
            if let Some(status) = patch.status {
                // Enabling starts a fresh failure count: the business says it is fixed.
                t.execute(
                    "UPDATE webhook_endpoints SET status = ?2, status_detail = NULL, failing_since = NULL WHERE id = ?1",
                    params![id, status],
                )?;
            }
            t.execute("UPDATE webhook_endpoints SET updated_at = ?2 WHERE id = ?1", params![id, now])?;
            Ok(Some(endpoint_by_id(t, &id)?))
        })
        .await
    }

    /// A new secret; the previous one keeps signing (alongside) for `overlap_ms`.
    pub async fn rotate_endpoint_secret(
        &self,
        workspace_id: String,
        id: String,
        secret: String,
        overlap_ms: Millis,
        vault: Arc<Vault>,
    ) -> Result<Option<EndpointWithSecret>, EndpointSecretError> {
        self.store.write(move |t| {
            let current: Option<String> = live_endpoint_column(t, &workspace_id, &id, "secret")?;
            let Some(current) = current else { return Ok(None) };
            let now = now_ms();
            t.execute(
                "UPDATE webhook_endpoints SET secret = ?2, previous_secret = ?3, previous_until = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, vault.seal(&secret_owner(&id), secret.as_bytes())?, current, now + overlap_ms, now],
            )?;
            let view = endpoint_by_id(t, &id)?;
            Ok(Some(EndpointWithSecret { endpoint: view, secret }))
        })
        .await
    }

    /// Delete an endpoint; its pending deliveries end as failed.
    pub async fn delete_endpoint(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<bool, StoreError> {
        self.store.write(move |t| {
            let now = now_ms();
            let n = t.execute(
                "UPDATE webhook_endpoints SET deleted_at = ?3, status = 'disabled', secret = '', previous_secret = NULL, updated_at = ?3
                 WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
                params![id, workspace_id, now],
            )?;
            if n > 0 {
                t.execute(
                    "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, last_error = 'endpoint deleted', updated_at = ?2
                     WHERE endpoint_id = ?1 AND state = 'pending'",
                    params![id, now],
                )?;
            }
            Ok(n > 0)
        })
        .await
    }

    /// Seal endpoint secrets under the current master key (after a rotation).
    pub async fn reseal_endpoint_secrets(
        &self,
        vault: Arc<Vault>,
    ) -> Result<usize, EndpointSecretError> {
        self.store.write(move |t| {
            let rows: Vec<(String, String, Option<String>)> = t
                .prepare("SELECT id, secret, previous_secret FROM webhook_endpoints WHERE deleted_at IS NULL")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let mut changed = 0;
            for (id, secret, previous) in rows {
                let owner = secret_owner(&id);
                let reseal = |s: &str| -> Result<String, EndpointSecretError> {
                    let plain = vault.open(&owner, s).map_err(|e| StoreError::Corrupt(format!("webhook endpoint {id}: {e}")))?;
                    Ok(vault.seal(&owner, &plain)?)
                };
                if vault.needs_reseal(&secret) {
                    t.execute("UPDATE webhook_endpoints SET secret = ?2 WHERE id = ?1", params![id, reseal(&secret)?])?;
                    changed += 1;
                }
                if let Some(p) = previous.filter(|p| vault.needs_reseal(p)) {
                    t.execute("UPDATE webhook_endpoints SET previous_secret = ?2 WHERE id = ?1", params![id, reseal(&p)?])?;
                }
            }
            Ok(changed)
        })
        .await
    }
}
