//! Contact sync: import a connection's existing conversations (a Facebook page's inbox)
//! into contacts and their message history.
//!
//! The plugin pages through the provider's API one page per call (`sync-contacts`); the host
//! drives the loop, commits each page as it arrives (a sync cut short keeps what it got, and
//! running it again imports nothing twice), and stops at the requested number of contacts or
//! at the last page.

use std::sync::Arc;

use crate::connections::Connections;
use crate::model::{AddressKey, Recipient};
use crate::runtime::{CallError, PluginRuntime, convert};
use crate::store::{Store, StoreError, SyncCounts, SyncedConversation};

/// "The first ~100": the default when the caller does not ask for all.
pub const DEFAULT_SYNC_LIMIT: u32 = 100;
/// A runaway provider cursor must not loop forever.
const MAX_PAGES: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no connection `{0}` in this workspace")]
    UnknownConnection(String),
    #[error("the `{0}` channel cannot list its contacts")]
    Unsupported(String),
    #[error("the provider refused: {reason}: {detail}")]
    Provider {
        reason: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Plugin(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema, schemars::JsonSchema)]
pub struct SyncReport {
    pub connection: String,
    pub pages: u32,
    pub contacts_seen: u32,
    pub contacts_created: u32,
    pub messages_imported: u32,
    /// False when the sync stopped at the limit with more conversations left.
    pub complete: bool,
}

/// The contact sync service: drives a connection's plugin through the provider's pages and
/// commits each page into the contact tables. It keeps nothing between syncs; a cut-short
/// sync resumes from what the store already holds.
pub struct ContactSync {
    connections: Arc<Connections>,
    runtime: Arc<PluginRuntime>,
    /// Contacts and their history (`store::contacts`).
    store: Arc<Store>,
}

impl ContactSync {
    pub fn new(
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
        store: Arc<Store>,
    ) -> ContactSync {
        ContactSync {
            connections,
            runtime,
            store,
        }
    }

    /// Import up to `limit` contacts (all of them with `None`).
    pub async fn sync(
        &self,
        workspace: &str,
        connection_id: &str,
        limit: Option<u32>,
    ) -> Result<SyncReport, SyncError> {
        let conn = self
            .connections
            .get(connection_id)
            .filter(|c| c.workspace_id == workspace)
            .ok_or_else(|| SyncError::UnknownConnection(connection_id.into()))?;
        let plugin = self
            .runtime
            .plugin(&conn.plugin)
            .ok_or_else(|| SyncError::UnknownConnection(connection_id.into()))?;
        if !plugin.has(crate::runtime::Capability::ContactSync) {
            return Err(SyncError::Unsupported(conn.channel.clone()));
        }
        let mut report = SyncReport {
            connection: conn.id.clone(),
            ..Default::default()
        };
        let mut cursor = None;
        loop {
            let page = match self
                .runtime
                .sync_contacts(&plugin, conn.ctx.clone(), cursor.take())
                .await?
            {
                Ok(page) => page,
                Err(e) => {
                    return Err(SyncError::Provider {
                        reason: convert::reason(e.reason).as_str(),
                        detail: e.detail,
                    });
                }
            };
            report.pages += 1;
            let room = limit.map_or(usize::MAX, |l| {
                l.saturating_sub(report.contacts_seen) as usize
            });
            let more_here = page.contacts.len() > room;
            let conversations: Vec<SyncedConversation> = page
                .contacts
                .into_iter()
                .take(room)
                .filter_map(|c| {
                    let to = Recipient {
                        phone: Some(c.address.clone()),
                        email: Some(c.address.clone()),
                        psid: Some(c.address.clone()),
                        push_token: Some(c.address.clone()),
                        ..Default::default()
                    };
                    let key = AddressKey::for_message(workspace, &conn.channel, &conn.id, &to)?;
                    Some(SyncedConversation {
                        key,
                        name: c.name,
                        messages: c
                            .messages
                            .into_iter()
                            .map(|m| {
                                (
                                    m.provider_message_id,
                                    m.inbound,
                                    m.text,
                                    iso_ms(m.timestamp_ms),
                                )
                            })
                            .collect(),
                    })
                })
                .collect();
            let counts: SyncCounts = self
                .store
                .import_conversations(conn.id.clone(), conversations)
                .await?;
            report.contacts_seen += counts.contacts_seen;
            report.contacts_created += counts.contacts_created;
            report.messages_imported += counts.messages_imported;
            let at_limit = limit.is_some_and(|l| report.contacts_seen >= l);
            match page.next_cursor {
                Some(next) if !at_limit && report.pages < MAX_PAGES => cursor = Some(next),
                Some(_) => {
                    report.complete = false;
                    break;
                }
                None => {
                    report.complete = !more_here;
                    break;
                }
            }
        }
        tracing::info!(connection = %conn.id, pages = report.pages, contacts = report.contacts_seen, "contact sync done");
        Ok(report)
    }
}

/// Provider milliseconds to the store's, never in the future: a skewed or hostile provider
/// clock must not hold a messaging window open.
fn iso_ms(t: u64) -> i64 {
    (t.min(i64::MAX as u64) as i64).min(crate::model::now_ms())
}
