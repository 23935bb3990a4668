//! `POST /v1/messages/{id}/resend`: send a failed message again, if its failure allows it
//! (the rules are in [`switchboard_gateway::resend`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::auth::SendKey;
use super::error::{ApiError, ErrorBody};
use super::messages::{Committed, accept};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{Accepted, NewMessage, Status};

/// Resend a failed message as a new message (`resend_of` points back to this one). Refused
/// with 409 and the reason while the failure's condition holds; `invalid_format` and the
/// other permanent reasons are refused forever.
#[utoipa::path(post, path = "/v1/messages/{id}/resend", operation_id = "resend_message", tag = "messages",
    params(("id" = String, Path, description = "The failed message")),
    responses(
        (status = 202, description = "The resend is committed", body = Accepted),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not resendable (now or ever): the error says why", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn resend(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    resend_message(&gw, ws, id)
        .await
        .map(Committed::into_response)
}

/// Resend one failed message of `ws`, or say why not.
pub(super) async fn resend_message(
    gw: &Gateway,
    ws: String,
    id: String,
) -> Result<Committed, ApiError> {
    let view = gw
        .deliveries
        .view(&ws, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if view.status != Status::Failed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            format!(
                "message {id} is {}; only failed messages can be resent",
                view.status.as_str()
            ),
        ));
    }
    if let Some(route) = &view.route {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "routed",
            format!(
                "message {id} went through policy `{}`, whose steps already fell back; send a new message through the policy",
                route.policy
            ),
        ));
    }
    let Some(failure) = view.deliveries.iter().rev().find_map(|d| d.failure.clone()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            "the message has no failed delivery",
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
        return Err(
            ApiError::new(StatusCode::CONFLICT, "resend_refused", message)
                .reason(failure.reason.as_str()),
        );
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
    };
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&request).unwrap_or_default(),
    ));
    accept(gw, ws, request, hash, None, Some(id)).await
}
