//! Status callbacks from the receiver, signed like our requests (Standard Webhooks).
//!
//! Body: `{"id": "<the id we sent>", "status": "delivered" | "seen" | "failed",
//! "reason": "<failure reason>", "detail": "..."}`; `reason` and `detail` only for
//! `failed`, `reason` one of the gateway's failure reason names (default `provider_error`).
//! The signature is checked by the host (`webhook_auth`), and the signed timestamp is
//! declared so that a captured callback cannot be replayed outside the replay window.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::webhook_auth::HmacAlgorithm;

#[derive(Deserialize)]
struct Callback {
    id: String,
    status: String,
    reason: Option<String>,
    detail: Option<String>,
}

pub fn handle(req: &WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
    let refuse = |why: &str| WebhookError::Unauthorized(why.into());
    let header = |name| req.header(name).ok_or_else(|| refuse(name));
    let (id, timestamp) = (header("webhook-id")?, header("webhook-timestamp")?);
    let content = crate::signed_content(id, timestamp, &req.body);
    // Several signatures come while the receiver rotates its secret: one good is enough.
    let verified = header("webhook-signature")?
        .split(' ')
        .filter_map(|s| STANDARD.decode(s.strip_prefix("v1,")?).ok())
        .any(|mac| {
            webhook_auth::verify_hmac(HmacAlgorithm::Sha256, crate::SIGNING_SECRET, &content, &mac)
        });
    if !verified {
        return Err(refuse("webhook-signature does not match"));
    }
    let seconds: u64 = timestamp.parse().map_err(|_| refuse("webhook-timestamp"))?;
    let at_ms = seconds.saturating_mul(1000);
    if !webhook_auth::signed_at(at_ms) {
        return Err(refuse("webhook-timestamp is outside the replay window"));
    }
    let bad = |why: String| WebhookError::BadRequest(why);
    let cb: Callback = serde_json::from_slice(&req.body)
        .map_err(|e| bad(format!("not a status callback: {e}")))?;
    let state = match cb.status.as_str() {
        "delivered" => DeliveryState::Delivered,
        "seen" => DeliveryState::Seen,
        "failed" => DeliveryState::Failed,
        other => return Err(bad(format!("unknown status {other:?}"))),
    };
    // A reason name the gateway does not know becomes `unknown`, the name kept as the code.
    let named = cb.reason.as_deref().map(FailureReason::parse);
    let failure = (state == DeliveryState::Failed).then(|| Failure {
        reason: named.map_or(FailureReason::ProviderError, |r| {
            r.unwrap_or(FailureReason::Unknown)
        }),
        provider_code: cb.reason.clone(),
        detail: cb.detail.unwrap_or_default(),
    });
    let update = StatusUpdate {
        provider_message_id: cb.id,
        state,
        provider_status: cb.status,
        failure,
        timestamp_ms: Some(at_ms),
    };
    Ok(WebhookOutcome {
        events: vec![WebhookEvent::Status(update)],
        reply: None,
    })
}
