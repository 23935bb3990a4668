//! Provider callbacks: the way back from the provider to a delivery's status.
//!
//! The request is handed, raw, to the plugin that owns the connection; the plugin verifies
//! the provider's signature and normalises the payload. Only verified events reach the store,
//! where statuses move forward only (see [`crate::model::Status::can_become`]).

use crate::Gateway;
use crate::metrics::CallbackLabels;
use crate::model::now_ms;
use crate::runtime::bindings::wit;
use crate::runtime::{CallError, convert};
use crate::store::{StatusEvent, StoreError};

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
}

impl Gateway {
    pub async fn handle_callback(
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
                    at: s.timestamp_ms.map(|t| t as i64).unwrap_or(now),
                }),
                // Watermarks, inbound messages and contact activity need contacts, which the
                // channel issue adds; until then they are acknowledged and logged.
                other => {
                    tracing::debug!(connection = %conn.id, event = ?event_kind(&other), "callback event not yet stored")
                }
            }
        }
        if !statuses.is_empty() {
            let moved = self.store.apply_status_events(statuses).await?;
            tracing::debug!(connection = %conn.id, ?moved, "callback applied");
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

fn event_kind(e: &wit::WebhookEvent) -> &'static str {
    match e {
        wit::WebhookEvent::Status(_) => "status",
        wit::WebhookEvent::Watermark(_) => "watermark",
        wit::WebhookEvent::Inbound(_) => "inbound",
        wit::WebhookEvent::Activity(_) => "activity",
    }
}
