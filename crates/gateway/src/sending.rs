//! Committing a message: intake, the commit behind the 202, waking the dispatcher. The API's
//! `POST /v1/messages`, a resend and the console's resend of held messages all come here, so
//! a message enters the system one way.

use sha2::{Digest, Sha256};

use crate::Gateway;
use crate::intake::IntakeError;
use crate::lifecycle::InsertMessage;
use crate::metrics::ChannelLabels;
use crate::model::{Accepted, FailureReason, NewMessage, Status, new_id};
use crate::routing::InsertRouted;
use crate::store::{Inserted, StoreError};

/// A message committed (or found committed under the same idempotency key).
#[derive(Debug)]
pub struct Sent {
    pub accepted: Accepted,
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The idempotency key was used for a different request.
    #[error("this Idempotency-Key was used for a different request (message {0})")]
    KeyReused(String),
}

/// Why a failed message is not resent.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("message not found")]
    NotFound,
    #[error("{0}")]
    NotFailed(String),
    /// It went through a policy, whose steps already fell back.
    #[error("{0}")]
    Routed(String),
    /// Its failure does not allow a resend (now or ever).
    #[error("{message}")]
    Refused {
        reason: FailureReason,
        message: String,
    },
    #[error(transparent)]
    Send(#[from] SendError),
}

/// The digest an idempotency key's request is compared by.
pub fn request_hash(request: &NewMessage) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(request).unwrap_or_default(),
    ))
}

fn replay(id: String, status: Status, same_request: bool) -> Result<Sent, SendError> {
    if !same_request {
        return Err(SendError::KeyReused(id));
    }
    Ok(Sent {
        accepted: Accepted { id, status },
        replayed: true,
    })
}

fn committed(id: String) -> Sent {
    Sent {
        accepted: Accepted {
            id,
            status: Status::Queued,
        },
        replayed: false,
    }
}

impl Gateway {
    /// Commit a new message (or a resend, with `resend_of`): planned through its policy or
    /// prepared for its channel, then committed and handed to the dispatcher.
    pub async fn accept_message(
        &self,
        ws: String,
        request: NewMessage,
        request_hash: String,
        key: Option<String>,
        resend_of: Option<String>,
    ) -> Result<Sent, SendError> {
        if request.policy.is_some() {
            return self.accept_routed(ws, request, request_hash, key).await;
        }
        let prepared = self.intake.prepare(&ws, request).await?;
        let id = new_id("msg");
        let channel = prepared.request.channel.clone();
        let insert = InsertMessage {
            id: id.clone(),
            workspace_id: ws,
            request: prepared.request,
            request_hash,
            idempotency_key: key,
            delivery: prepared.delivery,
            resend_of,
        };
        match self.deliveries.accept(insert).await? {
            Inserted::New => {
                self.dispatcher.wake();
                self.metrics
                    .accepted
                    .get_or_create(&ChannelLabels { channel })
                    .inc();
                Ok(committed(id))
            }
            // A concurrent request with the same key committed first.
            Inserted::Existing {
                id,
                status,
                same_request,
            } => replay(id, status, same_request),
        }
    }

    /// A message through a policy: planned channel by channel, committed with its first step.
    async fn accept_routed(
        &self,
        ws: String,
        request: NewMessage,
        request_hash: String,
        key: Option<String>,
    ) -> Result<Sent, SendError> {
        let prepared = self.planner.prepare_routed(&ws, request).await?;
        let id = new_id("msg");
        let insert = InsertRouted {
            id: id.clone(),
            workspace_id: ws,
            request: prepared.request,
            request_hash,
            idempotency_key: key,
            policy: prepared.policy,
            entries: prepared.entries,
        };
        match self.router.accept(insert).await? {
            Inserted::New => {
                self.dispatcher.wake();
                self.metrics
                    .accepted
                    .get_or_create(&ChannelLabels {
                        channel: "routed".into(),
                    })
                    .inc();
                Ok(committed(id))
            }
            Inserted::Existing {
                id,
                status,
                same_request,
            } => replay(id, status, same_request),
        }
    }

    /// Resend one failed message of `ws` as a new message (`resend_of` points back), or say
    /// why not (the rules per failure reason are in [`crate::resend`]).
    pub async fn resend_message(&self, ws: String, id: String) -> Result<Sent, ResendError> {
        let view = self
            .deliveries
            .view(&ws, &id)
            .await
            .map_err(SendError::from)?
            .ok_or(ResendError::NotFound)?;
        if view.status != Status::Failed {
            return Err(ResendError::NotFailed(format!(
                "message {id} is {}; only failed messages can be resent",
                view.status.as_str()
            )));
        }
        if let Some(route) = &view.route {
            return Err(ResendError::Routed(format!(
                "message {id} went through policy `{}`, whose steps already fell back; send a new message through the policy",
                route.policy
            )));
        }
        let Some(failure) = view.deliveries.iter().rev().find_map(|d| d.failure.clone()) else {
            return Err(ResendError::NotFailed(
                "the message has no failed delivery".into(),
            ));
        };
        if !failure.resend.allowed {
            let when = serde_json::to_value(failure.resend.when)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let mut message = format!(
                "failed with {}: resend {when}: {}",
                failure.reason.as_str(),
                failure.resend.detail
            );
            if let Some(t) = &failure.resend.not_before {
                message.push_str(&format!(" (not before {t})"));
            }
            return Err(ResendError::Refused {
                reason: failure.reason,
                message,
            });
        }
        let request = NewMessage {
            channel: view.channel.clone(),
            to: view.to.clone(),
            content: view.content.clone(),
            category: view.category,
            metadata: view.metadata.clone(),
            options: view.options.clone(),
            connection: view.deliveries.last().map(|d| d.connection.clone()),
            policy: None,
            // Checked again at intake: a domain that failed since refuses the resend.
            from: view.from.clone(),
        };
        let hash = request_hash(&request);
        Ok(self
            .accept_message(ws, request, hash, None, Some(id))
            .await?)
    }

    /// Resend what failed on a connection for one of `reasons` (after a reconnect,
    /// `token_expired`), each through [`Gateway::resend_message`]: each candidate with its
    /// outcome. Running it twice resends nothing twice.
    pub async fn resend_failed_on_connection(
        &self,
        ws: String,
        connection: String,
        reasons: Vec<String>,
        limit: u32,
    ) -> Result<Vec<(String, Result<Sent, ResendError>)>, StoreError> {
        let candidates = self
            .store
            .failed_on_connection(ws.clone(), connection, reasons, limit)
            .await?;
        let mut outcomes = Vec::with_capacity(candidates.len());
        for id in candidates {
            let outcome = self.resend_message(ws.clone(), id.clone()).await;
            outcomes.push((id, outcome));
        }
        Ok(outcomes)
    }
}

/// What a redrive did with each dead letter it took.
#[derive(Debug, Default)]
pub struct Redriven {
    /// `(dead letter, its resend)`.
    pub resent: Vec<(String, String)>,
    /// `(dead letter, why it was not resent)`, e.g. a policy's message or a resend that a
    /// concurrent redrive committed first.
    pub refused: Vec<(String, ResendError)>,
}

impl Gateway {
    /// Resend up to `limit` dead letters of `ws` (failed because their attempts ran out),
    /// oldest first, each through [`Gateway::resend_message`]. A message is resent at most
    /// once, so a second redrive of the same range resends nothing.
    pub async fn redrive(
        &self,
        ws: String,
        filter: crate::store::dead_letters::DeadLetterFilter,
        limit: u32,
    ) -> Result<Redriven, StoreError> {
        let candidates = self.store.dead_letters(ws.clone(), filter, limit).await?;
        let mut done = Redriven::default();
        for id in candidates {
            match self.resend_message(ws.clone(), id.clone()).await {
                Ok(sent) if !sent.replayed => done.resent.push((id, sent.accepted.id)),
                Ok(sent) => done.refused.push((
                    id,
                    ResendError::NotFailed(format!("already resent as {}", sent.accepted.id)),
                )),
                Err(e) => done.refused.push((id, e)),
            }
        }
        Ok(done)
    }
}
