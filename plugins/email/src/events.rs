//! SendGrid's Signed Event Webhook.
//!
//! The signature is ECDSA P-256 over SHA-256 of `timestamp + raw body`, base64 DER in
//! `X-Twilio-Email-Event-Webhook-Signature`; the verification key is the account's public
//! key (base64 DER SubjectPublicKeyInfo), configured on the connection. The timestamp must be
//! recent, so a captured request cannot be replayed later.

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;
use switchboard_plugin_sdk::prelude::*;

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
/// How far the signed timestamp may be from our clock.
pub const REPLAY_WINDOW_S: i64 = 600;

pub fn handle(req: &WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
    verify(req, clock::now_ms())?;
    let events: Vec<Value> = serde_json::from_slice(&req.body)
        .map_err(|e| WebhookError::BadRequest(format!("not a JSON array of events: {e}")))?;
    Ok(WebhookOutcome {
        events: events.iter().filter_map(normalise).collect(),
        reply: None,
    })
}

pub fn verify(req: &WebhookRequest, now_ms: u64) -> Result<(), WebhookError> {
    let unauthorized = |m: &str| WebhookError::Unauthorized(m.to_string());
    let key = config::get("webhook_public_key")
        .ok_or_else(|| unauthorized("the connection has no webhook_public_key"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(key.trim())
        .ok()
        .and_then(|der| VerifyingKey::from_public_key_der(&der).ok())
        .ok_or_else(|| unauthorized("webhook_public_key is not a base64 DER P-256 public key"))?;
    let timestamp = req
        .header(TIMESTAMP_HEADER)
        .ok_or_else(|| unauthorized("missing X-Twilio-Email-Event-Webhook-Timestamp"))?;
    let signature = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| unauthorized("missing X-Twilio-Email-Event-Webhook-Signature"))?;
    let signature = b64
        .decode(signature.trim())
        .ok()
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or_else(|| unauthorized("the signature is not base64 DER ECDSA"))?;
    let mut payload = timestamp.as_bytes().to_vec();
    payload.extend_from_slice(&req.body);
    key.verify(&payload, &signature)
        .map_err(|_| unauthorized("the signature does not match"))?;
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| unauthorized("the timestamp is not a number"))?;
    if (now_ms as i64 / 1000 - ts).abs() > REPLAY_WINDOW_S {
        return Err(unauthorized("the timestamp is outside the replay window"));
    }
    Ok(())
}

/// One SendGrid event as a status update, or `None` for events that change nothing.
pub fn normalise(e: &Value) -> Option<WebhookEvent> {
    let s = |k: &str| e.get(k).and_then(Value::as_str);
    // sg_message_id is the X-Message-Id followed by `.filter…`.
    let id = s("sg_message_id")?.split('.').next()?.to_string();
    let kind = s("event")?;
    let failed = |reason, code: Option<&str>, detail: String| {
        (
            DeliveryState::Failed,
            Some(Failure {
                reason,
                provider_code: code.map(str::to_string),
                detail,
            }),
        )
    };
    let (state, failure) = match kind {
        "processed" => (DeliveryState::Sent, None),
        "delivered" => (DeliveryState::Delivered, None),
        "open" | "click" => (DeliveryState::Seen, None),
        "bounce" => {
            let reason = if s("type") == Some("blocked") {
                FailureReason::Blocked
            } else {
                FailureReason::RecipientInvalid
            };
            failed(
                reason,
                s("status"),
                s("reason").unwrap_or("bounced").to_string(),
            )
        }
        "dropped" => {
            let why = s("reason").unwrap_or("dropped");
            let reason = match why {
                "Unsubscribed Address" => FailureReason::OptedOut,
                "Bounced Address" | "Invalid" => FailureReason::RecipientInvalid,
                "Spam Reporting Address" => FailureReason::Blocked,
                _ => FailureReason::ProviderError,
            };
            failed(reason, None, format!("dropped: {why}"))
        }
        "spamreport" => failed(
            FailureReason::Blocked,
            None,
            "the recipient reported the email as spam".into(),
        ),
        // deferred (the provider keeps trying), unsubscribe, group events: no status change.
        _ => return None,
    };
    Some(WebhookEvent::Status(StatusUpdate {
        provider_message_id: id,
        state,
        provider_status: kind.to_string(),
        failure,
        timestamp_ms: e.get("timestamp").and_then(Value::as_u64).map(|t| t * 1000),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;
    use switchboard_plugin_sdk::testing::MockHost;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn signed(body: &str, ts: &str, signer: &SigningKey) -> WebhookRequest {
        let sig: Signature = signer.sign(format!("{ts}{body}").as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD;
        WebhookRequest {
            method: "POST".into(),
            url: "http://gw/v1/webhooks/c".into(),
            headers: vec![
                (TIMESTAMP_HEADER.into(), ts.into()),
                (SIGNATURE_HEADER.into(), b64.encode(sig.to_der().as_bytes())),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    fn host() -> switchboard_plugin_sdk::testing::MockGuard {
        let der = p256::PublicKey::from(key().verifying_key())
            .to_public_key_der()
            .unwrap();
        let mut h = MockHost::new().config(
            "webhook_public_key",
            &base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        );
        h.now_ms = 1_700_000_000_000;
        h.install()
    }

    #[test]
    fn signed_events_normalise() {
        let _h = host();
        let body = r#"[{"email":"a@b.co","timestamp":1700000000,"event":"delivered","sg_message_id":"XID.filter0001.1.2"},
                      {"email":"a@b.co","timestamp":1700000001,"event":"open","sg_message_id":"XID.filter0001.1.3"},
                      {"email":"a@b.co","timestamp":1700000002,"event":"bounce","type":"blocked","status":"5.7.1","reason":"policy","sg_message_id":"YID.f"},
                      {"email":"a@b.co","timestamp":1700000003,"event":"deferred","sg_message_id":"XID.f"}]"#;
        let out = handle(&signed(body, "1700000000", &key())).unwrap();
        let states: Vec<_> = out
            .events
            .iter()
            .map(|e| match e {
                WebhookEvent::Status(s) => (
                    s.provider_message_id.clone(),
                    s.state,
                    s.failure.as_ref().map(|f| f.reason),
                ),
                _ => panic!("status only"),
            })
            .collect();
        assert_eq!(
            states,
            [
                ("XID".to_string(), DeliveryState::Delivered, None),
                ("XID".to_string(), DeliveryState::Seen, None),
                (
                    "YID".to_string(),
                    DeliveryState::Failed,
                    Some(FailureReason::Blocked)
                ),
            ]
        );
    }

    #[test]
    fn tampered_body_wrong_key_and_stale_timestamp_are_rejected() {
        let _h = host();
        let body = r#"[{"event":"delivered","sg_message_id":"X.f","timestamp":1}]"#;
        let mut tampered = signed(body, "1700000000", &key());
        tampered.body = body.replace("delivered", "open").into_bytes();
        assert!(matches!(
            handle(&tampered),
            Err(WebhookError::Unauthorized(_))
        ));
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert!(matches!(
            handle(&signed(body, "1700000000", &other)),
            Err(WebhookError::Unauthorized(_))
        ));
        let stale = handle(&signed(body, "1699990000", &key()));
        assert!(matches!(stale, Err(WebhookError::Unauthorized(m)) if m.contains("replay")));
        assert!(handle(&signed(body, "1700000000", &key())).is_ok());
    }
}
