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
use crate::model::{AddressKey, FailureReason};
use crate::store::{Failure, Job};

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
    pub(super) async fn preflight(&self, job: &Job, conn: &Connection) -> Preflight {
        if conn.status == NEEDS_RECONNECT {
            return refuse(
                FailureReason::TokenExpired,
                format!(
                    "connection {} needs to be reconnected: the provider rejected its credentials",
                    conn.id
                ),
            );
        }
        let Some(key) = address_of(job) else {
            return Preflight::Go {
                last_inbound_ms: None,
            };
        };
        match self.store.invalid_address(key.clone()).await {
            Ok(Some(why)) => {
                return refuse(
                    FailureReason::RecipientInvalid,
                    format!(
                        "{} {} is marked invalid ({why}); it is not used again",
                        key.field(),
                        key.address
                    ),
                );
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading address validity failed; sending anyway"),
        }
        let last_inbound_ms = match self.store.last_inbound(key).await {
            Ok(t) => t.map(|t| t.max(0) as u64),
            Err(e) => {
                tracing::warn!(error = %e, "reading the contact's last activity failed");
                None
            }
        };
        Preflight::Go { last_inbound_ms }
    }

    pub(super) async fn learn(&self, job: &Job, failure: &Failure) {
        let result = match failure.reason {
            FailureReason::TokenExpired => {
                let marked = self
                    .store
                    .mark_needs_reconnect(job.connection_id.clone(), failure.detail.clone())
                    .await;
                if matches!(marked, Ok(true)) {
                    self.connections
                        .set_status(&job.connection_id, NEEDS_RECONNECT);
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
            FailureReason::UrlBlocked => {
                let urls = job.request.urls();
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
