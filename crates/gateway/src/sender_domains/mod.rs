//! Sender domains (`/v1/sender-domains`): a domain an email connection's provider checks
//! through the plugin's `domain-*` exports (plugin API 0.4), so that a message may name a
//! sender on it, and which one is the workspace's follow-up sender.
//!
//! The states: `pending` until a check passes, `verified` from then, `failed` when a later
//! check finds a record missing or wrong (and `verified` again when one passes). Each record
//! keeps the last check's result and the provider's reason. A domain that becomes verified
//! or failed announces it (`sender_domain.verified`, `sender_domain.failed`) in the commit of
//! the change.
//!
//! Who may send from what is decided at intake ([`check_sender`]), never at dispatch: a
//! message is accepted from the sender it names or refused `sender_domain_unverified`, and
//! an accepted one goes out from that sender. When the provider itself refuses it by then
//! (SendGrid: 403, not a verified Sender Identity, after its domain failed a check), the
//! delivery fails with the provider's words on its timeline, as any refusal does.

mod check;

use std::sync::Arc;

use serde_json::json;

use check::valid_local_part;
pub use check::{check_sender, normalize_domain, valid_display_name};

use crate::connections::{Connection, Connections};
use crate::model::{
    DnsRecordView, FollowUpSender, Millis, NewSenderDomain, Sender, SenderDomainStatus,
    SenderDomainView, new_id, now_ms,
};
use crate::runtime::{CallError, Capability, LoadedPlugin, PluginRuntime, wit};
use crate::store::sender_domains::{self as rows, SenderDomainRow};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SenderDomainError {
    // The id is the caller's own input, yet not repeated: an answer about another
    // workspace's id must read exactly like one about an id that never existed.
    #[error("no such connection in this workspace")]
    UnknownConnection,
    #[error("sender domain not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("connection {connection} sends through plugin `{plugin}`, which has no sender domains")]
    Unsupported { connection: String, plugin: String },
    #[error("{domain} is already a sender domain of this connection: {id}")]
    Exists { domain: String, id: String },
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the provider no longer knows this domain ({0}); delete it here and create it again")]
    GoneAtProvider(String),
    #[error("the provider could not answer: {detail}")]
    Provider {
        detail: String,
        retryable: bool,
        retry_after_ms: Option<u64>,
    },
    #[error(transparent)]
    Plugin(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, SenderDomainError>;

impl From<wit::DomainError> for SenderDomainError {
    fn from(e: wit::DomainError) -> Self {
        match e {
            // Answered only when the capability was declared: the plugin took it back.
            wit::DomainError::Unsupported => SenderDomainError::Provider {
                detail: "the plugin says it has no sender domains".into(),
                retryable: false,
                retry_after_ms: None,
            },
            wit::DomainError::Refused(why) => SenderDomainError::Refused(why),
            wit::DomainError::NotFound(why) => SenderDomainError::GoneAtProvider(why),
            wit::DomainError::Failed(f) => SenderDomainError::Provider {
                detail: f.detail,
                retryable: f.retryable,
                retry_after_ms: f.retry_after_ms,
            },
        }
    }
}

/// The sender domains service: the store's rows, the connection registry (which plugin and
/// credentials a domain's calls go through) and the plugins.
pub struct SenderDomains {
    store: Arc<Store>,
    connections: Arc<Connections>,
    runtime: Arc<PluginRuntime>,
}

impl SenderDomains {
    pub fn new(
        store: Arc<Store>,
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
    ) -> Arc<SenderDomains> {
        Arc::new(SenderDomains {
            store,
            connections,
            runtime,
        })
    }

    /// The workspace's connection and its plugin, which must have sender domains.
    fn connection(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<(Arc<Connection>, Arc<LoadedPlugin>)> {
        let conn = self
            .connections
            .get(id)
            .filter(|c| c.workspace_id == workspace)
            .ok_or(SenderDomainError::UnknownConnection)?;
        match self.runtime.plugin(&conn.plugin) {
            Some(p) if p.has(Capability::SenderDomains) => Ok((conn, p)),
            _ => Err(SenderDomainError::Unsupported {
                connection: conn.id.clone(),
                plugin: conn.plugin.clone(),
            }),
        }
    }

    async fn row(&self, workspace: &str, id: &str) -> Result<SenderDomainRow> {
        let (ws, id) = (workspace.to_string(), id.to_string());
        self.store
            .read(move |c| rows::get(c, &ws, &id))
            .await?
            .ok_or(SenderDomainError::NotFound)
    }

    /// Ask the connection's provider to set the domain up; the answer lists the records to
    /// publish.
    pub async fn create(&self, workspace: &str, req: NewSenderDomain) -> Result<SenderDomainView> {
        let domain = normalize_domain(&req.domain).ok_or_else(|| SenderDomainError::Invalid {
            field: "domain",
            message: format!(
                "{:?} is not a domain name (e.g. example.com: letters, digits and `-` in dot-separated labels)",
                req.domain
            ),
        })?;
        let (conn, plugin) = self.connection(workspace, &req.connection)?;
        let (c, d) = (conn.id.clone(), domain.clone());
        if let Some(existing) = self
            .store
            .read(move |r| rows::for_domain(r, &c, &d))
            .await?
        {
            return Err(SenderDomainError::Exists {
                domain,
                id: existing.id,
            });
        }
        let created = self
            .runtime
            .domain_create(&plugin, conn.ctx.clone(), &domain)
            .await??;
        let now = now_ms();
        let row = SenderDomainRow {
            id: new_id("sdm"),
            workspace_id: workspace.to_string(),
            connection_id: conn.id.clone(),
            domain,
            provider_id: created.provider_id,
            status: if created.valid {
                SenderDomainStatus::Verified
            } else {
                SenderDomainStatus::Pending
            },
            records: created
                .records
                .into_iter()
                .map(|r| DnsRecordView {
                    key: r.key,
                    kind: r.kind,
                    host: r.host,
                    value: r.value,
                    valid: r.valid,
                    reason: None,
                })
                .collect(),
            follow_up: None,
            created_at: now,
            updated_at: now,
            validated_at: None,
        };
        let stored = row.clone();
        let inserted = self
            .store
            .write(move |t| {
                // A concurrent create of the same domain committed first: keep its row.
                if let Some(existing) = rows::for_domain(t, &stored.connection_id, &stored.domain)?
                {
                    return Ok::<_, StoreError>(Err(existing.id));
                }
                rows::insert(t, &stored)?;
                if stored.status == SenderDomainStatus::Verified {
                    announce(t, &stored, "sender_domain.verified", now)?;
                }
                Ok(Ok(()))
            })
            .await?;
        if let Err(id) = inserted {
            // The provider now holds a second copy nobody will use.
            let _ = self
                .runtime
                .domain_delete(&plugin, conn.ctx.clone(), &row.provider_id)
                .await;
            return Err(SenderDomainError::Exists {
                domain: row.domain,
                id,
            });
        }
        Ok(row.view())
    }

    pub async fn list(
        &self,
        workspace: &str,
        connection: Option<String>,
    ) -> Result<Vec<SenderDomainView>> {
        let ws = workspace.to_string();
        let found = self
            .store
            .read(move |c| rows::list(c, &ws, connection.as_deref()))
            .await?;
        Ok(found.iter().map(SenderDomainRow::view).collect())
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<SenderDomainView> {
        Ok(self.row(workspace, id).await?.view())
    }

    /// Ask the provider to check the domain's records now: each record's result, and the
    /// domain's state from them.
    pub async fn validate(&self, workspace: &str, id: &str) -> Result<SenderDomainView> {
        let row = self.row(workspace, id).await?;
        let (conn, plugin) = self.connection(workspace, &row.connection_id)?;
        let check = self
            .runtime
            .domain_validate(&plugin, conn.ctx.clone(), &row.provider_id)
            .await??;
        let mut records = row.records.clone();
        for r in &mut records {
            match check.records.iter().find(|c| c.key == r.key) {
                Some(c) => {
                    r.valid = c.valid;
                    r.reason = if c.valid { None } else { c.reason.clone() };
                }
                None => {
                    r.valid = false;
                    r.reason = Some("the provider did not report this record".into());
                }
            }
        }
        let valid = check.valid && records.iter().all(|r| r.valid);
        let status = match (valid, row.status) {
            (true, _) => SenderDomainStatus::Verified,
            (false, SenderDomainStatus::Pending) => SenderDomainStatus::Pending,
            (false, _) => SenderDomainStatus::Failed,
        };
        let now = now_ms();
        let mut updated = row.clone();
        updated.status = status;
        updated.records = records;
        updated.updated_at = now;
        updated.validated_at = Some(now);
        let written = updated.clone();
        let before = row.status;
        self.store
            .write(move |t| {
                rows::set_checked(t, &written.id, written.status, &written.records, now)?;
                let event = match (before, written.status) {
                    (b, SenderDomainStatus::Verified) if b != SenderDomainStatus::Verified => {
                        Some("sender_domain.verified")
                    }
                    (SenderDomainStatus::Verified, SenderDomainStatus::Failed) => {
                        Some("sender_domain.failed")
                    }
                    _ => None,
                };
                if let Some(kind) = event {
                    announce(t, &written, kind, now)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(updated.view())
    }

    /// Delete the domain at the provider, then here. One the provider no longer knows, or
    /// whose plugin no longer has sender domains, is deleted here all the same; a provider
    /// that refuses or fails keeps it, so the delete can be asked again.
    pub async fn delete(&self, workspace: &str, id: &str) -> Result<()> {
        let row = self.row(workspace, id).await?;
        match self.connection(workspace, &row.connection_id) {
            Ok((conn, plugin)) => {
                match self
                    .runtime
                    .domain_delete(&plugin, conn.ctx.clone(), &row.provider_id)
                    .await?
                {
                    Ok(()) | Err(wit::DomainError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(SenderDomainError::Unsupported { .. }) => {}
            Err(e) => return Err(e),
        }
        let id = row.id.clone();
        self.store.write(move |t| rows::delete(t, &id)).await?;
        Ok(())
    }

    /// Make the domain the workspace's follow-up sender (`local_part@domain`), or stop it
    /// being one.
    pub async fn set_follow_up(
        &self,
        workspace: &str,
        id: &str,
        follow_up: Option<FollowUpSender>,
    ) -> Result<SenderDomainView> {
        if let Some(f) = &follow_up {
            if !valid_local_part(&f.local_part) {
                return Err(SenderDomainError::Invalid {
                    field: "follow_up.local_part",
                    message: format!(
                        "{:?} is not the part of an address before `@` (1 to 64 of letters, digits and .!#$%&'*+/=?^_`{{|}}~-)",
                        f.local_part
                    ),
                });
            }
            if f.name.as_deref().is_some_and(|n| !valid_display_name(n)) {
                return Err(SenderDomainError::Invalid {
                    field: "follow_up.name",
                    message: "a display name is at most 100 characters, on one line".into(),
                });
            }
        }
        let row = self.row(workspace, id).await?;
        let now = now_ms();
        let (ws, rid, f) = (workspace.to_string(), row.id.clone(), follow_up.clone());
        self.store
            .write(move |t| rows::set_follow_up(t, &ws, &rid, f.as_ref(), now))
            .await?;
        let mut updated = row;
        updated.follow_up = follow_up;
        updated.updated_at = now;
        Ok(updated.view())
    }

    /// The sender follow-up emails go out from, with the connection it is verified for:
    /// none when no domain is the workspace's follow-up sender or it is not verified now (the
    /// follow-up then goes out from the connection's own sender).
    pub async fn follow_up_sender(
        &self,
        workspace: &str,
    ) -> std::result::Result<Option<(String, Sender)>, StoreError> {
        let ws = workspace.to_string();
        let row = self.store.read(move |c| rows::follow_up(c, &ws)).await?;
        Ok(row
            .filter(|r| r.status == SenderDomainStatus::Verified)
            .and_then(|r| {
                let f = r.follow_up?;
                Some((
                    r.connection_id,
                    Sender {
                        email: format!("{}@{}", f.local_part, r.domain),
                        name: f.name,
                    },
                ))
            }))
    }
}

fn announce(
    t: &crate::store::sql::Transaction,
    d: &SenderDomainRow,
    kind: &'static str,
    at: Millis,
) -> std::result::Result<(), StoreError> {
    crate::events::record(
        t,
        &d.workspace_id,
        kind,
        at,
        json!({
            "sender_domain_id": d.id,
            "connection_id": d.connection_id,
            "domain": d.domain,
            "status": d.status.as_str(),
        }),
    )?;
    Ok(())
}
