//! Workspaces and their API keys. Keys arrive here as digests (the tenancy service makes and
//! hashes them): a leaked database file does not leak keys.

use crate::sql::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::{ApiKeyView, KeyHolder, Scopes, WorkspaceView, now_ms, rfc3339};

impl Store {
    pub async fn ensure_workspace(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let (id, name) = (id.to_string(), name.to_string());
        self.write(move |t| {
            t.execute(
                "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![id, name, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn workspaces(&self) -> Result<Vec<WorkspaceView>, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare("SELECT id, name, created_at, no_reply_alert_minutes, ambiguous_sends, hosting_default FROM workspaces ORDER BY created_at, id")?
                    .query_map([], |r| {
                        Ok(WorkspaceView {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_at: rfc3339(r.get(2)?),
                            no_reply_alert_minutes: r.get(3)?,
                            ambiguous_sends: crate::model::AmbiguousSends::parse(&r.get::<_, String>(4)?).unwrap_or_default(),
                        hosting_default: r.get(5)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?,
            )
        })
        .await
    }

    pub async fn workspace(&self, id: String) -> Result<Option<WorkspaceView>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, name, created_at, no_reply_alert_minutes, ambiguous_sends, hosting_default FROM workspaces WHERE id = ?1",
                [id],
                |r| {
                    Ok(WorkspaceView {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: rfc3339(r.get(2)?),
                        no_reply_alert_minutes: r.get(3)?,
                        ambiguous_sends: crate::model::AmbiguousSends::parse(&r.get::<_, String>(4)?).unwrap_or_default(),
                        hosting_default: r.get(5)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Store a key by its digest and the prefix shown of it.
    pub async fn add_api_key(
        &self,
        workspace_id: String,
        hash: String,
        prefix: String,
        name: String,
        scopes: Scopes,
        member: Option<String>,
    ) -> Result<ApiKeyView, StoreError> {
        let id = format!("key_{}", uuid::Uuid::now_v7().simple());
        let now = now_ms();
        let view = ApiKeyView {
            id: id.clone(),
            name: name.clone(),
            scopes: scopes.list(),
            prefix: prefix.clone(),
            created_at: rfc3339(now),
            revoked_at: None,
            member: member.clone(),
        };
        self.write(move |t| {
            t.execute(
                "INSERT INTO api_keys (key_hash, id, workspace_id, name, prefix, scopes, created_at, member_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![hash, id, workspace_id, name, prefix, scopes.stored(), now, member],
            )?;
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(view)
    }

    /// The workspace and scopes of a live (not revoked) key, by its digest.
    pub async fn workspace_for_key_hash(
        &self,
        hash: String,
    ) -> Result<Option<KeyHolder>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT workspace_id, scopes, member_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
            )?
            .query_row([hash], |r| {
                Ok(KeyHolder {
                    workspace_id: r.get(0)?,
                    scopes: Scopes::parse(&r.get::<_, String>(1)?),
                    member_id: r.get(2)?,
                })
            })
            .optional()?)
        })
        .await
    }

    pub async fn api_keys(&self, workspace_id: String) -> Result<Vec<ApiKeyView>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare(
                "SELECT id, name, scopes, prefix, created_at, revoked_at, member_id FROM api_keys
                 WHERE workspace_id = ?1 ORDER BY created_at, id",
            )?
            .query_map([workspace_id], |r| {
                Ok(ApiKeyView {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    scopes: Scopes::parse(&r.get::<_, String>(2)?).list(),
                    prefix: r.get(3)?,
                    created_at: rfc3339(r.get(4)?),
                    revoked_at: r.get::<_, Option<i64>>(5)?.map(rfc3339),
                    member: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Revoke a key of this workspace; returns its digest (to drop it from the auth cache),
    /// or `None` when the workspace has no such live key.
    pub async fn revoke_api_key(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<Option<String>, StoreError> {
        self.write(move |t| {
            let hash: Option<String> = t
                .query_row(
                    "SELECT key_hash FROM api_keys WHERE id = ?1 AND workspace_id = ?2 AND revoked_at IS NULL",
                    params![id, workspace_id],
                    |r| r.get(0),
                )
                .optional()?;
            if hash.is_some() {
                t.execute(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1",
                    params![id, now_ms()],
                )?;
            }
            Ok(hash)
        })
        .await
    }
}
