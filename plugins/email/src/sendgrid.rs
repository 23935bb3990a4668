//! `POST /v3/mail/send` and the mapping of SendGrid's answers into the failure taxonomy.

use serde_json::json;
use switchboard_plugin_sdk::prelude::*;

use crate::template;

pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";

/// The connection's own sender, from its configuration.
pub fn configured_sender() -> Option<Sender> {
    let email = config::get("from_email").filter(|e| !e.is_empty())?;
    Some(Sender {
        email,
        name: config::get("from_name").filter(|n| !n.is_empty()),
    })
}

/// `sender`: the one the message names (the host checked its domain); `None` sends from the
/// connection's own.
pub fn build_request(msg: &Message, sender: Option<&Sender>) -> Result<Request, SendError> {
    let sender = match sender {
        Some(s) => s.clone(),
        None => configured_sender().ok_or_else(|| SendError::misconfigured("from_email"))?,
    };
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    let to = msg.to.email.clone().ok_or_else(|| {
        SendError::permanent(FailureReason::InvalidFormat, None, "no email address")
    })?;
    let text = msg.content.text.clone().unwrap_or_default();
    let subject = msg
        .content
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| template::subject_from_text(&text));

    let mut recipient = json!({ "email": to });
    if let Some(name) = msg.to.name.as_deref().filter(|n| !n.is_empty()) {
        recipient["name"] = json!(name);
    }
    let mut from = json!({ "email": sender.email });
    if let Some(name) = sender.name.as_deref().filter(|n| !n.is_empty()) {
        from["name"] = json!(name);
    }
    let body = json!({
        "personalizations": [{
            "to": [recipient],
            // Echoed in every event: how events find their way back without a lookup table;
            // and the delivery id, which finds a send whose answer was lost (`find.rs`).
            "custom_args": { "sb_message_id": msg.id, crate::find::DELIVERY_ARG: msg.idempotency_key },
        }],
        "from": from,
        "subject": subject,
        "content": [
            { "type": "text/plain", "value": text },
            { "type": "text/html", "value": template::html_from_text(&text, &subject) },
        ],
    });
    let url = format!("{}/v3/mail/send", base.trim_end_matches('/'));
    Ok(Request::post(url)
        .bearer("api_key")
        .json_body(body.to_string()))
}

pub fn send(msg: &Message, sender: Option<&Sender>) -> Result<Sent, SendError> {
    let resp = http::send(build_request(msg, sender)?).map_err(SendError::from_http)?;
    if resp.is_success() {
        let id = resp
            .header("x-message-id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                SendError::retryable(
                    FailureReason::ProviderError,
                    None,
                    None,
                    "202 without X-Message-Id",
                )
            })?;
        return Ok(Sent {
            provider_message_id: id.to_string(),
        });
    }
    Err(map_error(&resp, clock::now_ms()))
}

#[derive(serde::Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(serde::Deserialize)]
struct ErrorItem {
    message: Option<String>,
    field: Option<String>,
}

/// SendGrid classifies by HTTP status; the error list explains.
pub fn map_error(resp: &Response, now_ms: u64) -> SendError {
    let detail = serde_json::from_slice::<Errors>(&resp.body)
        .ok()
        .map(|e| {
            e.errors
                .iter()
                .map(|i| match &i.field {
                    Some(f) => format!("{f}: {}", i.message.as_deref().unwrap_or("")),
                    None => i.message.clone().unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    let code = Some(resp.status.to_string());
    match resp.status {
        400 => SendError::permanent(FailureReason::InvalidFormat, code, detail),
        401 => SendError::permanent(FailureReason::TokenExpired, code, detail),
        403 => SendError::permanent(FailureReason::PermissionDenied, code, detail),
        413 => SendError::permanent(FailureReason::FileTooLarge, code, detail),
        429 => {
            // X-RateLimit-Reset is an epoch second, not a delay.
            let wait = resp
                .header("x-ratelimit-reset")
                .and_then(|r| r.trim().parse::<u64>().ok())
                .map(|reset| (reset * 1000).saturating_sub(now_ms).max(1000));
            SendError::retryable(FailureReason::RateLimited, code, wait, detail)
        }
        s if s >= 500 => SendError::retryable(
            FailureReason::ProviderTransient,
            code,
            resp.retry_after_ms(),
            detail,
        ),
        _ => SendError::permanent(FailureReason::ProviderError, code, detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::message;
    use switchboard_plugin_sdk::testing::MockHost;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::new(status, headers, body)
    }

    #[test]
    fn send_builds_the_v3_body_with_the_default_template() {
        let host = MockHost::new()
            .config("from_email", "orders@shop.example")
            .config("from_name", "Shop")
            .secret("api_key", "SG.x")
            .on_http(|_| Ok(resp(202, &[("X-Message-Id", "abc123")], "")))
            .install();
        let sent = send(&message("ada@example.com", "Shipped <today>"), None).unwrap();
        assert_eq!(sent.provider_message_id, "abc123");
        host.inspect(|h| {
            let r = &h.requests[0];
            assert_eq!(r.url, "https://api.sendgrid.com/v3/mail/send");
            assert!(matches!(&r.auth, Some(http::Auth::Bearer(s)) if s == "api_key"));
            let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                b["personalizations"][0]["to"][0],
                json!({"email": "ada@example.com", "name": "Ada"})
            );
            assert_eq!(
                b["personalizations"][0]["custom_args"]["sb_delivery_id"],
                "dlv_1"
            );
            assert_eq!(
                b["from"],
                json!({"email": "orders@shop.example", "name": "Shop"})
            );
            assert_eq!(b["subject"], "Your order");
            assert_eq!(
                b["content"][0],
                json!({"type": "text/plain", "value": "Shipped <today>"})
            );
            assert_eq!(b["content"][1]["type"], "text/html");
            assert!(
                b["content"][1]["value"]
                    .as_str()
                    .unwrap()
                    .contains("Shipped &lt;today&gt;")
            );
        });
    }

    /// A sender the message names replaces the configured one, name and all.
    #[test]
    fn a_named_sender_goes_out_as_the_from() {
        let host = MockHost::new()
            .config("from_email", "orders@shop.example")
            .config("from_name", "Shop")
            .secret("api_key", "SG.x")
            .on_http(|_| Ok(resp(202, &[("X-Message-Id", "abc123")], "")))
            .install();
        let news = Sender {
            email: "news@example.com".into(),
            name: None,
        };
        send(&message("ada@example.com", "hi"), Some(&news)).unwrap();
        host.inspect(|h| {
            let b: serde_json::Value = serde_json::from_slice(&h.requests[0].body).unwrap();
            assert_eq!(b["from"], json!({"email": "news@example.com"}));
        });
    }

    #[test]
    fn errors_map_by_status() {
        let e = map_error(
            &resp(
                400,
                &[],
                r#"{"errors":[{"message":"bad","field":"from.email","help":null}]}"#,
            ),
            0,
        );
        assert_eq!(
            (e.reason, e.retryable, e.detail.as_str()),
            (FailureReason::InvalidFormat, false, "from.email: bad")
        );
        let e = map_error(&resp(401, &[], r#"{"errors":[{"message":"revoked"}]}"#), 0);
        assert_eq!(e.reason, FailureReason::TokenExpired);
        let e = map_error(
            &resp(429, &[("X-RateLimit-Reset", "1700000005")], ""),
            1_700_000_000_000,
        );
        assert_eq!(
            (e.reason, e.retryable, e.retry_after_ms),
            (FailureReason::RateLimited, true, Some(5000))
        );
        let e = map_error(&resp(503, &[], ""), 0);
        assert_eq!(
            (e.reason, e.retryable),
            (FailureReason::ProviderTransient, true)
        );
    }
}
