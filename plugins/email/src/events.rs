//! SendGrid's Signed Event Webhook.
//!
//! The signature is ECDSA P-256 over SHA-256 of `timestamp + raw body`, base64 DER in
//! `X-Twilio-Email-Event-Webhook-Signature`; the verification key is the account's public
//! key (base64 DER SubjectPublicKeyInfo), configured on the connection as `webhook_public_key`.
//! The host verifies it (`webhook_auth::verify_ecdsa_p256`), so no ECDSA code ships in this
//! plugin. The timestamp is signed too, and SendGrid signs the time of the POST: it is declared
//! with `webhook_auth::signed_at`, and the host refuses a callback outside its replay window,
//! so a captured request cannot be replayed later.

use base64::Engine;
use serde_json::Value;
use switchboard_plugin_sdk::prelude::*;

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
/// The config key holding the verification key.
pub const PUBLIC_KEY: &str = "webhook_public_key";

pub fn handle(req: &WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
    verify(req)?;
    let events: Vec<Value> = serde_json::from_slice(&req.body)
        .map_err(|e| WebhookError::BadRequest(format!("not a JSON array of events: {e}")))?;
    Ok(WebhookOutcome {
        events: events.iter().filter_map(normalise).collect(),
        reply: None,
    })
}

pub fn verify(req: &WebhookRequest) -> Result<(), WebhookError> {
    let unauthorized = |m: &str| WebhookError::Unauthorized(m.to_string());
    if config::get(PUBLIC_KEY).is_none_or(|k| k.trim().is_empty()) {
        return Err(unauthorized("the connection has no webhook_public_key"));
    }
    let timestamp = req
        .header(TIMESTAMP_HEADER)
        .ok_or_else(|| unauthorized("missing X-Twilio-Email-Event-Webhook-Timestamp"))?;
    let signature = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| unauthorized("missing X-Twilio-Email-Event-Webhook-Signature"))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| unauthorized("the signature is not base64"))?;
    let mut payload = timestamp.as_bytes().to_vec();
    payload.extend_from_slice(&req.body);
    if !webhook_auth::verify_ecdsa_p256(PUBLIC_KEY, &payload, &signature) {
        return Err(unauthorized(
            "the signature does not match webhook_public_key",
        ));
    }
    let seconds: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| unauthorized("the timestamp is not a number"))?;
    if !webhook_auth::signed_at(seconds.saturating_mul(1000)) {
        return Err(unauthorized(
            "the timestamp is outside the gateway's replay window",
        ));
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
        // Seconds; one past u64::MAX / 1000 overflowed (a panic natively, a wrapped garbage
        // time in the wasm build): a time no millisecond clock can hold is no time at all.
        timestamp_ms: e
            .get("timestamp")
            .and_then(Value::as_u64)
            .and_then(|t| t.checked_mul(1000)),
    }))
}

#[cfg(test)]
#[path = "events_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmailPlugin;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::EncodePublicKey;
    use switchboard_plugin_sdk::testing::{MockGuard, MockHost, handle_webhook};

    const NOW_S: u64 = 1_700_000_000;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn conn() -> Connection {
        Connection {
            id: "c".into(),
            name: "email".into(),
            webhook_url: "http://gw/v1/webhooks/c".into(),
        }
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

    fn host() -> MockGuard {
        let der = p256::PublicKey::from(key().verifying_key())
            .to_public_key_der()
            .unwrap();
        let mut h = MockHost::new().config(
            PUBLIC_KEY,
            &base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        );
        h.now_ms = NOW_S * 1000;
        h.install()
    }

    fn call(req: WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
        handle_webhook::<EmailPlugin>(req, conn())
    }

    #[test]
    fn signed_events_normalise() {
        let h = host();
        let body = r#"[{"email":"a@b.co","timestamp":1700000000,"event":"delivered","sg_message_id":"XID.filter0001.1.2"},
                      {"email":"a@b.co","timestamp":1700000001,"event":"open","sg_message_id":"XID.filter0001.1.3"},
                      {"email":"a@b.co","timestamp":1700000002,"event":"bounce","type":"blocked","status":"5.7.1","reason":"policy","sg_message_id":"YID.f"},
                      {"email":"a@b.co","timestamp":1700000003,"event":"deferred","sg_message_id":"XID.f"}]"#;
        let out = call(signed(body, "1699999990", &key())).unwrap();
        // The host verified the signature and was told the signed time.
        assert_eq!(
            h.inspect(|h| (h.verified, h.signed_at)),
            (true, Some(1_699_999_990_000))
        );
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
    fn tampered_body_wrong_key_and_bad_headers_are_rejected() {
        let _h = host();
        let body = r#"[{"event":"delivered","sg_message_id":"X.f","timestamp":1}]"#;
        let unauthorized = |r: Result<WebhookOutcome, WebhookError>| match r {
            Err(WebhookError::Unauthorized(m)) => m,
            other => panic!("expected unauthorized, got {other:?}"),
        };
        let mut tampered = signed(body, "1700000000", &key());
        tampered.body = body.replace("delivered", "open").into_bytes();
        assert!(unauthorized(call(tampered)).contains("does not match"));
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert!(unauthorized(call(signed(body, "1700000000", &other))).contains("does not match"));
        // The timestamp is part of what is signed.
        let mut moved = signed(body, "1700000000", &key());
        moved.headers[0].1 = "1700000001".into();
        assert!(unauthorized(call(moved)).contains("does not match"));
        let mut missing = signed(body, "1700000000", &key());
        missing.headers.remove(1);
        assert!(unauthorized(call(missing)).contains("missing"));
        let mut garbled = signed(body, "1700000000", &key());
        garbled.headers[1].1 = "!!".into();
        assert!(unauthorized(call(garbled)).contains("base64"));
        assert!(call(signed(body, "1700000000", &key())).is_ok());
    }

    #[test]
    fn the_replay_window_is_the_hosts() {
        let _h = host();
        let body = r#"[{"event":"delivered","sg_message_id":"X.f","timestamp":1}]"#;
        // Ten minutes old, or ahead: outside the default five-minute window either way.
        for ts in [NOW_S - 600, NOW_S + 600] {
            let stale = call(signed(body, &ts.to_string(), &key()));
            assert!(
                matches!(&stale, Err(WebhookError::Unauthorized(m)) if m.contains("replay window")),
                "{stale:?}"
            );
        }
        assert!(call(signed(body, &(NOW_S - 300).to_string(), &key())).is_ok());
        drop(_h);
        // A wider window set by the operator is honoured: the plugin has none of its own.
        let h = host();
        h.inspect(|h| h.replay_window_ms = 15 * 60 * 1000);
        assert!(call(signed(body, &(NOW_S - 600).to_string(), &key())).is_ok());
    }

    /// Found by `props::fields_round_trip`.
    #[test]
    fn a_timestamp_past_the_millisecond_range_is_dropped_not_overflowed() {
        let _h = host();
        for (t, expected) in [
            (u64::MAX / 1000, Some(u64::MAX / 1000 * 1000)),
            (u64::MAX / 1000 + 1, None),
            (u64::MAX, None),
        ] {
            let body =
                format!(r#"[{{"event":"delivered","sg_message_id":"X.f","timestamp":{t}}}]"#);
            let out = call(signed(&body, &NOW_S.to_string(), &key())).unwrap();
            let [WebhookEvent::Status(s)] = &out.events[..] else {
                panic!("one status expected: {out:?}")
            };
            assert_eq!(s.timestamp_ms, expected, "{t}");
        }
    }

    #[test]
    fn without_a_public_key_nothing_verifies() {
        let _h = MockHost::new().install();
        let body = r#"[]"#;
        assert!(matches!(
            call(signed(body, "1700000000", &key())),
            Err(WebhookError::Unauthorized(m)) if m.contains("webhook_public_key")
        ));
    }
}
