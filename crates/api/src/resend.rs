//! `POST /v1/messages/{id}/resend`: send a failed message again, if its failure allows it
//! (the rules are in [`switchboard_gateway::resend`]); `POST /v1/messages/redrive`: resend
//! dead letters (failed because their attempts ran out) in bulk.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;

use super::auth::SendKey;
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use super::messages::Committed;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{
    Accepted, RedriveRefusal, RedriveReport, RedriveRequest, Redriven,
};
use switchboard_gateway::store::dead_letters::DeadLetterFilter;

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
    Ok(Committed(gw.resend_message(ws, id).await?))
}

/// Resend dead letters in bulk: failed messages whose attempts ran out (`exhausted: true`),
/// oldest first, narrowed by creation time, channel, connection and last reason. Each goes
/// through the same rules as `POST /v1/messages/{id}/resend` and is resent at most once, so
/// repeating a redrive resends nothing twice.
#[utoipa::path(post, path = "/v1/messages/redrive", operation_id = "redrive_messages", tag = "messages",
    request_body = RedriveRequest,
    responses(
        (status = 200, description = "What was resent, and what was not and why", body = RedriveReport),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn redrive(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<RedriveReport>, ApiError> {
    let r: RedriveRequest = parse_json(&read_body(b)?)?;
    let limit = match r.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(_) => {
            return Err(ApiError::invalid(
                "limit",
                "limit must be between 1 and 1000",
            ));
        }
    };
    let filter = DeadLetterFilter {
        created_from: r
            .created_from
            .map(|t| crate::billing::parse_time("created_from", &t))
            .transpose()?,
        created_to: r
            .created_to
            .map(|t| crate::billing::parse_time("created_to", &t))
            .transpose()?,
        channel: r.channel,
        connection: r.connection,
        reason: r.reason.map(|x| x.as_str().to_string()),
    };
    let done = gw.redrive(ws, filter, limit).await?;
    let resent: Vec<Redriven> = done
        .resent
        .into_iter()
        .map(|(id, resent_as)| Redriven { id, resent_as })
        .collect();
    let refused: Vec<RedriveRefusal> = done
        .refused
        .into_iter()
        .map(|(id, e)| {
            let e = ApiError::from(e);
            RedriveRefusal {
                id,
                code: e.code.to_string(),
                message: e.message,
            }
        })
        .collect();
    Ok(Json(RedriveReport {
        matched: (resent.len() + refused.len()) as u32,
        redriven: resent.len() as u32,
        resent,
        refused,
    }))
}
