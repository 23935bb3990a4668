//! The Twilio Messages API send call and its error mapping.

use switchboard_plugin_sdk::prelude::*;

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// Build the request Twilio expects: a form body and Basic auth with the account SID and auth
/// token (attached by the host). Twilio has no idempotency key: a send whose answer was lost
/// is found again by [`crate::find`].
pub fn build_request(msg: &Message, conn: &Connection) -> Result<Request, SendError> {
    let account_sid = config::require("account_sid")?;
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    let to = msg.to.phone.clone().ok_or_else(|| {
        SendError::permanent(FailureReason::InvalidFormat, None, "no phone number")
    })?;

    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("To", &to);
    match (
        config::get("messaging_service_sid").filter(|s| !s.is_empty()),
        config::get("from").filter(|s| !s.is_empty()),
    ) {
        (Some(service), _) => form.append_pair("MessagingServiceSid", &service),
        (None, Some(from)) => form.append_pair("From", &from),
        (None, None) => return Err(SendError::misconfigured("from")),
    };
    if let Some(text) = msg.content.text.as_deref().filter(|t| !t.is_empty()) {
        form.append_pair("Body", text);
    }
    // Twilio has no subject; Korean LMS routes read this extra parameter and others ignore it.
    if let Some(subject) = msg.content.subject.as_deref().filter(|s| !s.is_empty()) {
        form.append_pair("Subject", subject);
    }
    for m in &msg.content.media {
        form.append_pair("MediaUrl", &m.url);
    }
    if !conn.webhook_url.is_empty() {
        form.append_pair("StatusCallback", &conn.webhook_url);
    }
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        base.trim_end_matches('/'),
        account_sid
    );
    Ok(Request::post(url)
        .basic_auth("account_sid", "auth_token")
        .header("accept", "application/json")
        .form_body(form.finish()))
}

pub fn send(msg: &Message, conn: &Connection) -> Result<Sent, SendError> {
    let req = build_request(msg, conn)?;
    let resp = http::send(req).map_err(SendError::from_http)?;
    if resp.is_success() {
        let body: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| {
            SendError::retryable(
                FailureReason::ProviderError,
                None,
                None,
                format!("unreadable success body: {e}"),
            )
        })?;
        let sid = body
            .get("sid")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                SendError::retryable(
                    FailureReason::ProviderError,
                    None,
                    None,
                    "success body has no sid",
                )
            })?;
        return Ok(Sent {
            provider_message_id: sid.to_string(),
        });
    }
    Err(map_error(&resp))
}

/// Fetch a message (`GET …/Messages/{sid}.json`) and report its status: how a status
/// callback that never arrived is recovered.
pub fn lookup(sid: &str) -> Result<Option<StatusUpdate>, SendError> {
    let account_sid = config::require("account_sid")?;
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    // A provider id is Twilio's own `SM` + 32 hex; anything else must not reach the URL path.
    if !(sid.len() == 34
        && sid.starts_with("SM")
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(SendError::permanent(
            FailureReason::InvalidFormat,
            None,
            "not a Twilio message SID",
        ));
    }
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages/{sid}.json",
        base.trim_end_matches('/'),
        account_sid
    );
    let req = Request::get(url)
        .basic_auth("account_sid", "auth_token")
        .header("accept", "application/json");
    let resp = http::send(req).map_err(SendError::from_http)?;
    if !resp.is_success() {
        return Err(map_error(&resp));
    }
    #[derive(serde::Deserialize)]
    struct Fetched {
        status: String,
        error_code: Option<serde_json::Value>,
    }
    let fetched: Fetched = serde_json::from_slice(&resp.body).map_err(|e| {
        SendError::retryable(
            FailureReason::ProviderError,
            None,
            None,
            format!("unreadable message body: {e}"),
        )
    })?;
    // Twilio writes the code as a number, or null; a string is tolerated.
    let code = match &fetched.error_code {
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok(crate::webhook::status_update(
        sid,
        &fetched.status,
        code.as_deref(),
    ))
}

#[derive(serde::Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

/// Classify on Twilio's error code first; the HTTP status only decides when there is no code.
pub fn map_error(resp: &Response) -> SendError {
    let parsed: Option<TwilioError> = serde_json::from_slice(&resp.body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let detail = parsed
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    let retry_after = resp.retry_after_ms();
    let code_str = code.map(|c| c.to_string());
    if let Some(c) = code
        && let Some((reason, retryable)) = reason_for_code(c)
    {
        return if retryable {
            SendError::retryable(reason, code_str, retry_after, detail)
        } else {
            SendError::permanent(reason, code_str, detail)
        };
    }
    match resp.status {
        429 => SendError::retryable(FailureReason::RateLimited, code_str, retry_after, detail),
        401 => SendError::permanent(FailureReason::TokenExpired, code_str, detail),
        403 => SendError::permanent(FailureReason::PermissionDenied, code_str, detail),
        s if s >= 500 => SendError::retryable(
            FailureReason::ProviderTransient,
            code_str,
            retry_after,
            detail,
        ),
        _ => SendError::permanent(FailureReason::ProviderError, code_str, detail),
    }
}

/// Twilio's error codes (<https://www.twilio.com/docs/api/errors>) in the failure taxonomy,
/// and whether a retry can help.
pub fn reason_for_code(code: i64) -> Option<(FailureReason, bool)> {
    use FailureReason::*;
    Some(match code {
        20003 => (TokenExpired, false),
        20429 => (RateLimited, true),
        21211 | 21612 | 21614 | 21635 => (RecipientInvalid, false),
        21610 => (OptedOut, false),
        // Body required, body too long, bad media URL: the message itself is wrong.
        21602 | 21617 | 21620 => (InvalidFormat, false),
        21608 => (PermissionDenied, false),
        30003 => (ProviderTransient, true),
        30005 | 30006 => (RecipientInvalid, false),
        30007 => (Blocked, false),
        30008 => (ProviderTransient, true),
        // Twilio's own 5xx family.
        20500 | 20503 => (ProviderTransient, true),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::message;
    use switchboard_plugin_sdk::testing::MockHost;

    fn conn() -> Connection {
        Connection {
            id: "con_1".into(),
            name: "sms".into(),
            webhook_url: "https://gw.example/v1/webhooks/con_1".into(),
        }
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::new(status, headers, body)
    }

    #[test]
    fn send_posts_the_twilio_form_with_host_attached_auth() {
        let host = MockHost::new()
            .config("account_sid", "AC123")
            .config("from", "+15005550006")
            .secret("auth_token", "tok")
            .on_http(|_| Ok(resp(201, &[], r#"{"sid":"SM1","status":"queued"}"#)))
            .install();
        let sent = send(&message("+15551234567", "US", "hi & bye"), &conn()).expect("sent");
        assert_eq!(sent.provider_message_id, "SM1");
        host.inspect(|h| {
            let r = &h.requests[0];
            assert_eq!(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
            let body = String::from_utf8(r.body.clone()).unwrap();
            assert_eq!(
                body,
                "To=%2B15551234567&From=%2B15005550006&Body=hi+%26+bye&StatusCallback=https%3A%2F%2Fgw.example%2Fv1%2Fwebhooks%2Fcon_1"
            );
            assert!(matches!(&r.auth, Some(http::Auth::Basic(b)) if b.username_key == "account_sid" && b.password_secret == "auth_token"));
            assert!(!r.headers.iter().any(|(k, _)| k == "idempotency-key"), "Twilio has none");
        });
    }

    #[test]
    fn errors_map_to_the_taxonomy() {
        let e = map_error(&resp(
            400,
            &[],
            r#"{"code":21211,"message":"invalid To","status":400}"#,
        ));
        assert_eq!(
            (e.reason, e.retryable, e.provider_code.as_deref()),
            (FailureReason::RecipientInvalid, false, Some("21211"))
        );
        let e = map_error(&resp(
            429,
            &[("Retry-After", "2")],
            r#"{"code":20429,"message":"slow down"}"#,
        ));
        assert_eq!(
            (e.reason, e.retryable, e.retry_after_ms),
            (FailureReason::RateLimited, true, Some(2000))
        );
        let e = map_error(&resp(503, &[], "upstream down"));
        assert_eq!(
            (e.reason, e.retryable),
            (FailureReason::ProviderTransient, true)
        );
        let e = map_error(&resp(400, &[], r#"{"code":21610,"message":"STOP"}"#));
        assert_eq!((e.reason, e.retryable), (FailureReason::OptedOut, false));
        for code in [21602, 21617, 21620] {
            let body = format!(r#"{{"code":{code},"message":"bad body"}}"#);
            let e = map_error(&resp(400, &[], &body));
            assert_eq!(
                (e.reason, e.retryable),
                (FailureReason::InvalidFormat, false),
                "{code}"
            );
        }
        let e = map_error(&resp(
            401,
            &[],
            r#"{"code":20003,"message":"Authenticate"}"#,
        ));
        assert_eq!(
            (e.reason, e.retryable),
            (FailureReason::TokenExpired, false)
        );
    }

    #[test]
    fn missing_sender_is_a_configuration_error() {
        let _h = MockHost::new().config("account_sid", "AC1").install();
        let e = build_request(&message("+15551234567", "US", "x"), &conn()).unwrap_err();
        assert!(!e.retryable);
        assert!(e.detail.contains("from"));
    }
}
