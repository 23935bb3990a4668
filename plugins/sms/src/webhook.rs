//! Twilio status callbacks: verify `X-Twilio-Signature`, then normalise the status.
//!
//! The signature is base64(HMAC-SHA1(auth token, URL + every POST parameter's key and value
//! concatenated in key order)). The host computes and compares the HMAC with the connection's
//! `auth_token` secret (`webhook_auth::verify_hmac`), which is also what lets it accept the
//! callback. Twilio signs no timestamp, so there is no signed time to declare: a replayed
//! callback can only repeat a status, and statuses only move forward.

use base64::Engine;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::webhook_auth::{self, HmacAlgorithm};

pub fn handle(req: &WebhookRequest) -> Result<WebhookOutcome, WebhookError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(&req.body).into_owned().collect();
    verify(req, &params)?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or_else(|| WebhookError::BadRequest("missing MessageSid".into()))?;
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or_else(|| WebhookError::BadRequest("missing MessageStatus".into()))?;
    let error_code = get("ErrorCode").filter(|c| !c.is_empty());

    let events = status_update(sid, status, error_code)
        .map(|s| vec![WebhookEvent::Status(s)])
        .unwrap_or_default();
    Ok(WebhookOutcome {
        events,
        reply: None,
    })
}

/// Twilio's status word (from a callback or a message lookup) as a status update; `None` for
/// the statuses that say nothing the gateway does not know (queued, accepted, sending).
pub fn status_update(sid: &str, status: &str, error_code: Option<&str>) -> Option<StatusUpdate> {
    let state = match status {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Seen,
        "undelivered" | "failed" | "canceled" => DeliveryState::Failed,
        _ => return None,
    };
    let failure = (state == DeliveryState::Failed).then(|| {
        let reason = error_code
            .and_then(|c| c.parse::<i64>().ok())
            .and_then(crate::twilio::reason_for_code)
            .map(|(r, _)| r)
            .unwrap_or(FailureReason::Unknown);
        Failure {
            reason,
            provider_code: error_code.map(str::to_string),
            detail: format!("Twilio reported {status}"),
        }
    });
    Some(StatusUpdate {
        provider_message_id: sid.to_string(),
        state,
        provider_status: status.to_string(),
        failure,
        timestamp_ms: None,
    })
}

fn verify(req: &WebhookRequest, params: &[(String, String)]) -> Result<(), WebhookError> {
    let given = req
        .header("x-twilio-signature")
        .ok_or_else(|| WebhookError::Unauthorized("missing X-Twilio-Signature".into()))?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(given.trim())
        .map_err(|_| WebhookError::Unauthorized("X-Twilio-Signature is not base64".into()))?;
    if !webhook_auth::verify_hmac(
        HmacAlgorithm::Sha1,
        "auth_token",
        &signed_payload(&req.url, params),
        &given,
    ) {
        return Err(WebhookError::Unauthorized(
            "X-Twilio-Signature does not match".into(),
        ));
    }
    Ok(())
}

/// URL followed by every key and value, sorted by key (stable for repeated keys).
pub fn signed_payload(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = url.as_bytes().to_vec();
    for (k, v) in sorted {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

#[cfg(test)]
#[path = "webhook_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SmsPlugin;
    use switchboard_plugin_sdk::testing::{MockHost, handle_webhook};

    fn conn() -> Connection {
        Connection {
            id: "c1".into(),
            name: "sms".into(),
            webhook_url: "http://gw/v1/webhooks/c1".into(),
        }
    }

    fn request(url: &str, params: &[(&str, &str)], signature: &str) -> WebhookRequest {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        WebhookRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("X-Twilio-Signature".into(), signature.into())],
            body: body.into_bytes(),
        }
    }

    #[test]
    fn published_test_vector_verifies() {
        let h = MockHost::new().secret("auth_token", "12345").install();
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ];
        let req = request(
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        );
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(verify(&req, &owned).is_ok());
        assert!(h.inspect(|h| h.verified), "the host did the comparison");
        let bad = request(
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        );
        assert!(matches!(
            verify(&bad, &owned),
            Err(WebhookError::Unauthorized(_))
        ));
    }

    #[test]
    fn statuses_normalise_and_failures_carry_reasons() {
        let _h = MockHost::new().secret("auth_token", "tok").install();
        let url = "http://gw/v1/webhooks/c1";
        let sign = |params: &[(&str, &str)]| {
            let owned: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let mac = secrets::hmac(
                HmacAlgorithm::Sha1,
                "auth_token",
                &signed_payload(url, &owned),
            )
            .unwrap();
            base64::engine::general_purpose::STANDARD.encode(mac)
        };
        let p = [("MessageSid", "SM1"), ("MessageStatus", "delivered")];
        let out = handle_webhook::<SmsPlugin>(request(url, &p, &sign(&p)), conn()).unwrap();
        assert!(
            matches!(&out.events[..], [WebhookEvent::Status(s)] if s.state == DeliveryState::Delivered && s.provider_message_id == "SM1")
        );

        let p = [
            ("MessageSid", "SM2"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30007"),
        ];
        let out = handle_webhook::<SmsPlugin>(request(url, &p, &sign(&p)), conn()).unwrap();
        let WebhookEvent::Status(s) = &out.events[0] else {
            panic!("status expected")
        };
        let f = s.failure.as_ref().unwrap();
        assert_eq!(
            (s.state, f.reason, f.provider_code.as_deref()),
            (DeliveryState::Failed, FailureReason::Blocked, Some("30007"))
        );

        let p = [("MessageSid", "SM3"), ("MessageStatus", "queued")];
        assert!(
            handle_webhook::<SmsPlugin>(request(url, &p, &sign(&p)), conn())
                .unwrap()
                .events
                .is_empty()
        );
    }

    #[test]
    fn tampered_body_is_unauthorized() {
        let _h = MockHost::new().secret("auth_token", "tok").install();
        let req = request(
            "http://gw/x",
            &[("MessageSid", "SM1"), ("MessageStatus", "delivered")],
            "AAAA",
        );
        assert!(matches!(
            handle_webhook::<SmsPlugin>(req, conn()),
            Err(WebhookError::Unauthorized(_))
        ));
    }
}
