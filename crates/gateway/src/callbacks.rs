//! Provider callbacks: the way back from the provider to a delivery's status.
//!
//! The request is handed, raw, to the plugin that owns the connection; the plugin verifies
//! the provider's signature through the host's `webhook-auth` imports and normalises the
//! payload. The runtime turns an accepted callback into `unauthorized` when no verification
//! succeeded during the call or its signed time is outside the replay window
//! ([`crate::runtime::webhook_auth`]), so a plugin that forgets to verify cannot let forged
//! events through. Only verified events reach the store, where statuses move forward only
//! (see [`crate::model::Status::can_become`]).
//!
//! A customer's message also feeds the contact's conversation, and so does a message the
//! business wrote outside Switchboard that the provider echoes back
//! ([`crate::conversations::record_provider_messages`]); the echoes of Switchboard's own sends
//! are recognised there and change nothing. On a connection whose two-way chat is switched
//! off, a customer's message opens no conversation and is kept as a contact event instead
//! ([`crate::chat_switch`]); an auto-reply it earns wakes the loop that sends it.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::connections::Connections;
use crate::conversations::{ConversationError, ProviderMessage, record_provider_messages};
use crate::lifecycle::{Deliveries, StatusEvent, Watermark};
use crate::metrics::{CallbackLabels, Metrics};
use crate::model::now_ms;
use crate::model::{AddressKey, Recipient};
use crate::runtime::bindings::wit;
use crate::runtime::{CallError, PluginRuntime, convert};
use crate::store::{Activity, Store, StoreError};

pub struct CallbackRequest {
    pub method: String,
    /// The URL as the provider called it: the public base URL plus path and query.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct CallbackReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("no connection `{0}`")]
    UnknownConnection(String),
    #[error("signature verification failed: {0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Plugin(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
}

/// The callback service: from a provider's request to status changes and contact activity.
pub struct Callbacks {
    connections: Arc<Connections>,
    runtime: Arc<PluginRuntime>,
    deliveries: Deliveries,
    /// Contact activity (inbound messages, reads) is written to the contact tables.
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Woken when a commit decided an auto-reply ([`crate::chat_switch::auto_reply`]).
    auto_replies_due: Arc<Notify>,
}

impl Callbacks {
    pub fn new(
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
        deliveries: Deliveries,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> Callbacks {
        Callbacks {
            connections,
            runtime,
            deliveries,
            store,
            metrics,
            auto_replies_due: Arc::new(Notify::new()),
        }
    }

    /// What the auto-reply loop waits on between passes.
    pub fn auto_replies_due(&self) -> &Notify {
        &self.auto_replies_due
    }

    pub async fn handle(
        &self,
        connection_id: &str,
        req: CallbackRequest,
    ) -> Result<CallbackReply, CallbackError> {
        let result = self.handle_callback_inner(connection_id, req).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(CallbackError::Unauthorized(_)) => "unauthorized",
            Err(CallbackError::UnknownConnection(_)) | Err(CallbackError::BadRequest(_)) => {
                "rejected"
            }
            Err(_) => "error",
        };
        self.metrics
            .callbacks
            .get_or_create(&CallbackLabels {
                connection: connection_id.to_string(),
                outcome: outcome.into(),
            })
            .inc();
        result
    }

    async fn handle_callback_inner(
        &self,
        connection_id: &str,
        req: CallbackRequest,
    ) -> Result<CallbackReply, CallbackError> {
        let conn = self
            .connections
            .get(connection_id)
            .ok_or_else(|| CallbackError::UnknownConnection(connection_id.into()))?;
        let plugin = self
            .runtime
            .plugin(&conn.plugin)
            .ok_or_else(|| CallbackError::UnknownConnection(connection_id.into()))?;
        let wit_req = wit::WebhookRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let outcome = match self
            .runtime
            .handle_webhook(&plugin, conn.ctx.clone(), &wit_req)
            .await?
        {
            Ok(o) => o,
            Err(wit::WebhookError::Unauthorized(why)) => {
                return Err(CallbackError::Unauthorized(why));
            }
            Err(wit::WebhookError::BadRequest(why)) => return Err(CallbackError::BadRequest(why)),
        };

        let now = now_ms();
        let mut statuses = Vec::new();
        let mut watermarks = Vec::new();
        let mut activity: Vec<ProviderMessage> = Vec::new();
        // A contact's address on this connection's channel, e.g. a PSID on this page.
        let address = |contact: String| {
            let to = Recipient {
                phone: Some(contact.clone()),
                email: Some(contact.clone()),
                psid: Some(contact.clone()),
                push_token: Some(contact),
                ..Default::default()
            };
            AddressKey::for_message(&conn.workspace_id, &conn.channel, &conn.id, &to)
        };
        for event in outcome.events {
            match event {
                wit::WebhookEvent::Status(s) => statuses.push(StatusEvent {
                    connection_id: conn.id.clone(),
                    provider_message_id: s.provider_message_id,
                    status: convert::status(s.state),
                    provider_status: s.provider_status,
                    failure: s
                        .failure
                        .map(|f| (convert::reason(f.reason), f.provider_code, f.detail)),
                    at: s.timestamp_ms.map(saturating_ms).unwrap_or(now),
                }),
                // Watermarks say how far delivery or reading got; a "failed" one means nothing.
                wit::WebhookEvent::Watermark(w)
                    if matches!(
                        w.state,
                        wit::DeliveryState::Delivered | wit::DeliveryState::Seen
                    ) =>
                {
                    watermarks.push(Watermark {
                        connection_id: conn.id.clone(),
                        address: w.contact,
                        status: convert::status(w.state),
                        watermark: saturating_ms(w.watermark_ms),
                        at: now,
                    })
                }
                wit::WebhookEvent::Watermark(w) => {
                    tracing::debug!(connection = %conn.id, state = ?w.state, "watermark ignored");
                }
                wit::WebhookEvent::Inbound(m) => {
                    if let Some(key) = address(m.sender) {
                        let text = shown_text(m.text.as_deref(), &m.media);
                        activity.push(ProviderMessage::Customer {
                            activity: Activity {
                                key,
                                connection_id: conn.id.clone(),
                                at: clamp_ms(m.timestamp_ms, now),
                                message: Some((m.provider_message_id, m.text)),
                            },
                            payload: m.payload,
                            text,
                        });
                    }
                }
                wit::WebhookEvent::Activity(a) => {
                    if let Some(key) = address(a.contact) {
                        activity.push(ProviderMessage::Activity(Activity {
                            key,
                            connection_id: conn.id.clone(),
                            at: clamp_ms(a.timestamp_ms, now),
                            message: None,
                        }));
                    }
                }
                wit::WebhookEvent::Echo(e) => {
                    if let Some(key) = address(e.recipient) {
                        activity.push(ProviderMessage::Echo {
                            key,
                            text: shown_text(e.text.as_deref(), &e.media),
                            provider_message_id: e.provider_message_id,
                            host_marker: e.host_marker,
                            at: clamp_ms(e.timestamp_ms, now),
                        });
                    }
                }
            }
        }
        // An inbound message usually comes with an activity event for the same moment:
        // count the message once, keep the activity only when it adds something.
        activity.dedup_by(|b, a| match (&*a, &*b) {
            (
                ProviderMessage::Customer { activity: a, .. } | ProviderMessage::Activity(a),
                ProviderMessage::Activity(b),
            ) => a.key == b.key && a.at == b.at,
            _ => false,
        });
        if !activity.is_empty() {
            let (ws, connection) = (conn.workspace_id.clone(), conn.id.clone());
            let out = self
                .store
                .write(move |t| record_provider_messages(t, &ws, &connection, &activity))
                .await?;
            tracing::debug!(connection = %conn.id, ?out, "conversation messages from the provider");
            if out.auto_replies > 0 {
                self.auto_replies_due.notify_one();
            }
        }
        if !statuses.is_empty() {
            let moved = self.deliveries.apply_status_events(statuses).await?;
            tracing::debug!(connection = %conn.id, ?moved, "callback applied");
        }
        if !watermarks.is_empty() {
            let moved = self.deliveries.apply_watermarks(watermarks).await?;
            tracing::debug!(connection = %conn.id, moved, "watermarks applied");
        }
        Ok(match outcome.reply {
            Some(r) => CallbackReply {
                status: r.status,
                headers: r.headers,
                body: r.body,
            },
            None => CallbackReply {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
            },
        })
    }
}

/// What a conversation shows of a provider's message: its text, else a line per attachment.
fn shown_text(text: Option<&str>, media: &[wit::Media]) -> String {
    match text.filter(|t| !t.trim().is_empty()) {
        Some(t) => t.to_string(),
        None => media
            .iter()
            .map(|m| {
                let kind = match m.kind {
                    wit::MediaKind::Image => "image",
                    wit::MediaKind::Video => "video",
                    wit::MediaKind::Audio => "audio",
                    wit::MediaKind::File => "file",
                };
                format!("[{kind}] {}", m.url)
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// A provider timestamp, trusted unless it is in the future by our clock (a skewed or
/// hostile clock must not keep a messaging window open).
fn clamp_ms(t: u64, now: i64) -> i64 {
    saturating_ms(t).min(now)
}

/// A plugin's `u64` milliseconds as the store's `i64`. A plain `as` cast turned a time past
/// `i64::MAX` (an email event's seconds times 1000 can reach it) into a negative one.
fn saturating_ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_times_past_i64_saturate_instead_of_wrapping() {
        assert_eq!(saturating_ms(1_700_000_000_000), 1_700_000_000_000);
        assert_eq!(saturating_ms(i64::MAX as u64), i64::MAX);
        // u64::MAX / 1000 * 1000: the largest an email event's timestamp can now become.
        assert_eq!(saturating_ms(18_446_744_073_709_551_000), i64::MAX);
        assert_eq!(clamp_ms(u64::MAX, 5), 5);
    }
}
