//! `POST /v1/connections/{id}/resend`: after a reconnect, resend what failed on the
//! connection, through the same checks as a single resend.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::owned;
use crate::auth::SendKey;
use crate::error::{ApiError, ErrorBody, parse_optional_json, read_body};
use switchboard_gateway::Gateway;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkResend {
    /// Which failures to resend (default `["token_expired"]`, the reconnect case).
    #[serde(default)]
    #[schema(value_type = Option<Vec<switchboard_gateway::model::FailureReason>>)]
    pub reasons: Option<Vec<String>>,
    /// At most this many messages per call (default and maximum 1000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResent {
    pub message_id: String,
    pub resent_as: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRefused {
    pub message_id: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResendReport {
    pub resent: Vec<BulkResent>,
    /// Candidates whose failure does not allow a resend (yet): each says why.
    pub refused: Vec<BulkRefused>,
}

/// Resend every message that failed on this connection for one of the given reasons (by
/// default `token_expired`, after a reconnect). Each goes through the same checks as
/// `POST /v1/messages/{id}/resend`; running it twice resends nothing twice.
#[utoipa::path(post, path = "/v1/connections/{id}/resend", operation_id = "resend_connection_failures", tag = "connections", request_body = Option<BulkResend>,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = BulkResendReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn bulk_resend(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BulkResendReport>, ApiError> {
    owned(&gw, &ws, &id)?;
    let body = read_body(body)?;
    let req: BulkResend = parse_optional_json(&body)?;
    let reasons = req.reasons.unwrap_or_else(|| vec!["token_expired".into()]);
    for (i, r) in reasons.iter().enumerate() {
        if switchboard_gateway::model::FailureReason::parse(r).is_none() {
            return Err(ApiError::invalid(
                format!("reasons[{i}]"),
                format!("`{r}` is not a failure reason"),
            ));
        }
    }
    let limit = req.limit.unwrap_or(1000);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let outcomes = gw
        .resend_failed_on_connection(ws, id, reasons, limit)
        .await?;
    let mut report = BulkResendReport {
        resent: Vec::new(),
        refused: Vec::new(),
    };
    for (message_id, outcome) in outcomes {
        match outcome.map_err(ApiError::from) {
            Ok(sent) => report.resent.push(BulkResent {
                message_id,
                resent_as: sent.accepted.id,
            }),
            Err(e) if e.status.is_client_error() => report.refused.push(BulkRefused {
                message_id,
                code: e.code.to_string(),
                message: e.message,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(Json(report))
}
