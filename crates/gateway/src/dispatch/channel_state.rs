//! What the gateway learns from a send and applies before the next one: the channel state
//! that lives outside any single delivery.
//!
//! Before a send ([`Dispatcher::preflight`]): a connection whose credentials were revoked is
//! not called (`token_expired`), a dead address is not used again (`recipient_invalid`), and
//! the contact's last inbound time goes to the plugin for its messaging window.
//!
//! After a failure ([`Dispatcher::learn`]): `token_expired` marks the connection
//! `needs_reconnect`; `recipient_invalid` on a push token marks it dead (the device token is
//! never used again; phone numbers are not, since carriers recycle them); `url_blocked` puts
//! the message's URLs on the connection's block list.

use super::Dispatcher;
use crate::connections::Connection;
use crate::lifecycle::{Failure, Job};
use crate::model::{AddressKey, FailureReason};
use crate::store::AddressState;

/// The connection status that stops sends until the business reconnects.
pub const NEEDS_RECONNECT: &str = "needs_reconnect";

pub enum Preflight {
    /// Send, telling the plugin when the contact last wrote.
    Go { last_inbound_ms: Option<u64> },
    /// Fail without calling the provider.
    Refuse(Failure),
}

fn refuse(reason: FailureReason, detail: String) -> Preflight {
    Preflight::Refuse(Failure {
        reason,
        provider_code: None,
        detail,
        retryable: false,
        retry_after_ms: None,
    })
}

pub fn address_of(job: &Job) -> Option<AddressKey> {
    AddressKey::for_message(
        &job.workspace_id,
        &job.request.channel,
        &job.connection_id,
        &job.request.to,
    )
}

impl Dispatcher {
    /// `needs_window`: the plugin decides on the contact's last inbound time (capability
    /// `messaging-window`); other channels skip that read.
    pub(super) async fn preflight(
        &self,
        job: &Job,
        conn: &Connection,
        needs_window: bool,
    ) -> Preflight {
        if conn.status == NEEDS_RECONNECT {
            return refuse(
                FailureReason::TokenExpired,
                format!(
                    "connection {} needs to be reconnected: the provider rejected its credentials",
                    conn.id
                ),
            );
        }
        let Some(key) = address_of(job).filter(|k| needs_window || k.kind == "push") else {
            return Preflight::Go {
                last_inbound_ms: None,
            };
        };
        let state = match self.store.address_state(&key) {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(error = %e, "reading the contact address failed; sending without it");
                AddressState::default()
            }
        };
        if let Some(why) = state.invalid {
            return refuse(
                FailureReason::RecipientInvalid,
                format!(
                    "{} {} is marked invalid ({why}); it is not used again",
                    key.field(),
                    key.address
                ),
            );
        }
        Preflight::Go {
            last_inbound_ms: state
                .last_inbound_at
                .filter(|_| needs_window)
                .map(|t| t.max(0) as u64),
        }
    }

    /// `started_at`: when the failed attempt began. A reconnect after that moment wins: the
    /// failure came from the old credentials.
    pub(super) async fn learn(&self, job: &Job, failure: &Failure, started_at: i64) {
        let result = match failure.reason {
            FailureReason::TokenExpired => {
                let marked = crate::connections::mark_needs_reconnect(
                    &self.store,
                    job.connection_id.clone(),
                    failure.detail.clone(),
                    started_at,
                )
                .await;
                if matches!(marked, Ok(true)) {
                    self.connections.set_status(
                        &job.connection_id,
                        NEEDS_RECONNECT,
                        Some(failure.detail.clone()),
                    );
                    tracing::warn!(connection = %job.connection_id, "provider rejected the credentials; connection needs reconnect");
                }
                marked.map(|_| ())
            }
            FailureReason::RecipientInvalid => match address_of(job) {
                Some(key) if key.kind == "push" => {
                    let why = match &failure.provider_code {
                        Some(code) => format!("{} ({code})", failure.detail),
                        None => failure.detail.clone(),
                    };
                    self.store.invalidate_address(key, why).await
                }
                _ => Ok(()),
            },
            FailureReason::OptedOut => match address_of(job) {
                Some(key) => {
                    self.store
                        .record_opt_out(
                            job.workspace_id.clone(),
                            job.request.channel.clone(),
                            key.address,
                            failure.detail.clone(),
                        )
                        .await
                }
                None => Ok(()),
            },
            FailureReason::UrlBlocked => {
                // Providers rarely say which URL offended (Messenger's 368 does not). Links are
                // the usual suspects; blocking a logo every message carries would block them all.
                let links = job.request.link_urls();
                let urls = if links.is_empty() {
                    job.request.urls()
                } else {
                    links
                };
                if urls.is_empty() {
                    Ok(())
                } else {
                    self.store
                        .block_urls(
                            job.connection_id.clone(),
                            urls,
                            failure.detail.clone(),
                            Some(job.message_id.clone()),
                        )
                        .await
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(delivery = %job.delivery_id, error = %e, "recording what the failure implies failed");
        }
    }
}
