//! Delivery reports: a JSON array of per-message results POSTed by the provider.
//!
//! ```text
//! Authorization: HMAC-SHA256 apiKey=<api_key>, date=<ISO 8601>, salt=<hex>, signature=<hex>
//! [{"messageId":"M4V…","groupId":"G4V…","to":"01012345678","from":"0212345678","type":"ATA",
//!   "statusCode":"4000","statusMessage":"…","dateReceived":"2024-05-01T01:02:03.456Z",
//!   "customFields":{"sb_message_id":"…","sb_delivery_id":"…"}}]
//! ```
//!
//! The header is the request-auth header, with one deviation of our sandbox provider: the
//! signature is HMAC-SHA256 over `date + salt + raw body` (not just `date + salt`), keyed by
//! the API secret, so a tampered body is rejected. The host compares the HMAC
//! (`webhook_auth::verify_hmac`).
//!
//! Freshness is the host's: the signed `date` is declared with `webhook_auth::signed_at` and
//! the host refuses a report outside its replay window (five minutes by default, set by the
//! operator). The plugin keeps no window of its own: Solapi's 15 minutes is the skew the
//! provider tolerates in *our* requests, not a property of reports, which are signed when they
//! are posted; and one window for every channel, in one place, is easier to reason about than
//! a second one that either duplicates the host's or is silently overridden by it.

use serde_json::Value;
use switchboard_iso_time::parse_iso;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::webhook_auth::{self, HmacAlgorithm};

use crate::{auth, codes};

pub fn handle(req: &WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
    verify(req)?;
    let reports = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Array(items)) => items,
        // Tolerate a single report posted on its own.
        Ok(obj @ Value::Object(_)) => vec![obj],
        Ok(_) => {
            return Err(WebhookError::BadRequest(
                "reports must be a JSON array".into(),
            ));
        }
        Err(e) => return Err(WebhookError::BadRequest(format!("not JSON: {e}"))),
    };
    Ok(WebhookOutcome {
        events: reports.iter().filter_map(normalise).collect(),
        reply: None,
    })
}

pub fn verify(req: &WebhookRequest) -> Result<(), WebhookError> {
    let unauthorized = |m: &str| WebhookError::Unauthorized(m.to_string());
    let header = req
        .header("authorization")
        .ok_or_else(|| unauthorized("missing Authorization"))?;
    let parsed =
        auth::parse(header).ok_or_else(|| unauthorized("Authorization is not HMAC-SHA256"))?;
    let api_key = config::get("api_key").unwrap_or_default();
    if api_key.is_empty() || parsed.api_key != api_key {
        return Err(unauthorized("apiKey is not this connection's"));
    }
    let given =
        auth::from_hex(&parsed.signature).ok_or_else(|| unauthorized("signature is not hex"))?;
    let mut signed = format!("{}{}", parsed.date, parsed.salt).into_bytes();
    signed.extend_from_slice(&req.body);
    if !webhook_auth::verify_hmac(HmacAlgorithm::Sha256, auth::SECRET, &signed, &given) {
        return Err(unauthorized("signature does not match"));
    }
    let date = parse_iso(&parsed.date).ok_or_else(|| unauthorized("date is not ISO 8601"))?;
    if !webhook_auth::signed_at(date) {
        return Err(unauthorized(
            "the signed date is outside the gateway's replay window",
        ));
    }
    Ok(())
}

/// One report as a status update; reports that change nothing (2000 accepted) give `None`.
pub fn normalise(report: &Value) -> Option<WebhookEvent> {
    let s = |k: &str| report.get(k).and_then(Value::as_str);
    let id = s("messageId").filter(|id| !id.is_empty())?;
    // Some Solapi payloads carry numbers as numbers; accept both.
    let code = match report.get("statusCode")? {
        Value::String(c) => c.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let message = s("statusMessage").unwrap_or("").to_string();
    let (state, failure) = match code.as_str() {
        codes::ACCEPTED => return None,
        codes::SENT => (DeliveryState::Sent, None),
        codes::DELIVERED => (DeliveryState::Delivered, None),
        other => {
            let (reason, _) = codes::reason_for_status(other);
            let detail = if message.is_empty() {
                format!("Solapi status {other}")
            } else {
                format!("Solapi status {other}: {message}")
            };
            (
                DeliveryState::Failed,
                Some(Failure {
                    reason,
                    provider_code: Some(other.to_string()),
                    detail,
                }),
            )
        }
    };
    let timestamp_ms = s("dateReceived")
        .or_else(|| s("dateProcessed"))
        .or_else(|| s("dateUpdated"))
        .and_then(parse_iso);
    Some(WebhookEvent::Status(StatusUpdate {
        provider_message_id: id.to_string(),
        state,
        provider_status: code,
        failure,
        timestamp_ms,
    }))
}
