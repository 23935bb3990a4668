//! Device receipts: the mobile app confirms a push notification arrived (`received` →
//! delivered) or was opened (`opened` → seen).
//!
//! FCM and APNs only say they *accepted* a notification; whether the device got it is
//! something only the app knows. Fallback depends on the difference ("push first; if not
//! received within 30 s, send a text"), so push deliveries stay `sent` until the app says so.
//!
//! The app signs each receipt with its connection's `receipt_key` secret, Stripe-style, over
//! a timestamp and the raw body:
//!
//! ```text
//! X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(receipt_key, "<t>." + body)>
//! {"connection_id":"con_...","message_id":"msg_...","event":"received","timestamp_ms":1795262400000}
//! ```
//!
//! A receipt more than [`MAX_SKEW_S`] from the gateway clock is refused, so a captured
//! receipt cannot be replayed later; replaying one inside the window changes nothing (status
//! only moves forward).

use hmac::{Hmac, Mac};
use serde::Deserialize;
use utoipa::ToSchema;

use std::sync::Arc;

use crate::connections::Connections;
use crate::lifecycle::{Deliveries, ReceiptOutcome};
use crate::model::{Status, now_ms};

pub const SIGNATURE_HEADER: &str = "x-switchboard-signature";
/// How far a receipt's signed timestamp may be from the gateway clock.
pub const MAX_SKEW_S: i64 = 300;
/// The connection secret receipts are signed with.
pub const RECEIPT_KEY_SECRET: &str = "receipt_key";

#[derive(Debug, Clone, Deserialize, ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub connection_id: String,
    pub message_id: String,
    pub event: ReceiptEvent,
    /// When it happened on the device; the gateway clock when absent or in the future.
    #[serde(default)]
    pub timestamp_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptEvent {
    Received,
    Opened,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("no message {0} on that connection")]
    UnknownMessage(String),
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
}

/// `t=…,v1=…` → (t, signature bytes).
fn parse_signature(header: &str) -> Option<(i64, Vec<u8>)> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    Some((t?, v1?))
}

/// Checks the signature header against the key; `now_s` is the gateway clock in seconds.
pub fn verify(key: &[u8], header: Option<&str>, body: &[u8], now_s: i64) -> Result<(), String> {
    let header = header.ok_or("missing X-Switchboard-Signature")?;
    let (t, sig) = parse_signature(header).ok_or("malformed X-Switchboard-Signature")?;
    if now_s.abs_diff(t) > MAX_SKEW_S as u64 {
        return Err(format!(
            "signature timestamp {t} is more than {MAX_SKEW_S} s from now"
        ));
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| "signature does not match".to_string())
}

/// The header value for a receipt body: what the mobile SDK computes (tests use it too).
pub fn sign(key: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The receipt service: checks an app's signed receipt against its connection's key and
/// moves the push delivery forward.
pub struct Receipts {
    connections: Arc<Connections>,
    deliveries: Deliveries,
}

impl Receipts {
    pub fn new(connections: Arc<Connections>, deliveries: Deliveries) -> Receipts {
        Receipts {
            connections,
            deliveries,
        }
    }

    pub async fn handle(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Status, ReceiptError> {
        // Parsed with whole numbers as integers (`5.0` is 5); the signature covers the body
        // as sent.
        let receipt: Receipt =
            serde_json::from_slice(&crate::model::json_numbers::integral_numbers(body))
                .map_err(|e| ReceiptError::BadRequest(format!("invalid receipt: {e}")))?;
        // The same answer for an unknown connection and a wrong signature: a receipt
        // endpoint must not tell a prober which connection ids exist.
        let unauthorized = || ReceiptError::Unauthorized("signature verification failed".into());
        let conn = self
            .connections
            .get(&receipt.connection_id)
            .ok_or_else(unauthorized)?;
        let key = conn
            .ctx
            .secrets
            .get(RECEIPT_KEY_SECRET)
            .ok_or_else(unauthorized)?;
        let now = now_ms();
        verify(key.expose().as_bytes(), signature, body, now / 1000).map_err(|why| {
            tracing::info!(connection = %conn.id, %why, "receipt rejected");
            unauthorized()
        })?;
        let status = match receipt.event {
            ReceiptEvent::Received => Status::Delivered,
            ReceiptEvent::Opened => Status::Seen,
        };
        let at = receipt
            .timestamp_ms
            .map(|t| (t.min(i64::MAX as u64) as i64).min(now))
            .unwrap_or(now);
        let detail = format!(
            "device receipt: {}",
            if status == Status::Seen {
                "opened"
            } else {
                "received"
            }
        );
        match self
            .deliveries
            .apply_device_receipt(
                conn.id.clone(),
                receipt.message_id.clone(),
                status,
                at,
                detail,
            )
            .await?
        {
            ReceiptOutcome::Unknown => Err(ReceiptError::UnknownMessage(receipt.message_id)),
            ReceiptOutcome::Applied(_) => Ok(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_check_key_body_and_time() {
        let body = br#"{"connection_id":"c","message_id":"m","event":"received"}"#;
        let h = sign(b"k1", 1000, body);
        assert!(verify(b"k1", Some(&h), body, 1000).is_ok());
        assert!(verify(b"k1", Some(&h), body, 1000 + MAX_SKEW_S).is_ok());
        assert!(verify(b"k2", Some(&h), body, 1000).is_err(), "wrong key");
        let tampered = br#"{"connection_id":"c","message_id":"x","event":"received"}"#;
        assert!(
            verify(b"k1", Some(&h), tampered, 1000).is_err(),
            "tampered body"
        );
        assert!(
            verify(b"k1", Some(&h), body, 1000 + MAX_SKEW_S + 1).is_err(),
            "stale"
        );
        assert!(verify(b"k1", None, body, 1000).is_err());
        assert!(verify(b"k1", Some("t=1000"), body, 1000).is_err());
        let hostile = format!("t={},v1=00", i64::MIN);
        assert!(
            verify(b"k1", Some(&hostile), body, 1000).is_err(),
            "no overflow"
        );
    }
}
