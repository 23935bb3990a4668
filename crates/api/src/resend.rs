//! `POST /v1/messages/{id}/resend`: send a failed message again, if its failure allows it
//! (the rules are in [`switchboard_gateway::resend`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::auth::SendKey;
use super::error::{ApiError, ErrorBody};
use super::messages::Committed;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::Accepted;

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
