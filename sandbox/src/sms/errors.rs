//! Twilio's REST error envelope. Client libraries parse `code` and `status` from it, so every
//! non-2xx answer of the simulated API uses this shape, including injected faults.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One Twilio API error: HTTP status, Twilio error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl TwilioError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn authenticate() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    /// Error for an injected fault: the code defaults from the HTTP status the way Twilio's own
    /// platform errors are numbered (20xxx), except that every 5xx maps to 20500 so clients
    /// see one "provider is down" code.
    pub fn injected(status: StatusCode, code: Option<u32>) -> Self {
        let code = code.unwrap_or(match status.as_u16() {
            401 => 20003,
            s @ 400..=499 => 20000 + u32::from(s),
            _ => 20500,
        });
        let message = if code == 20500 && status.is_server_error() {
            "Service Unavailable"
        } else {
            message_for(code)
        };
        Self::new(status, code, message)
    }

    pub fn body(&self) -> Bytes {
        Bytes::from(
            json!({
                "code": self.code,
                "message": self.message,
                "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
                "status": self.status.as_u16(),
            })
            .to_string(),
        )
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.status, self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        resp
    }
}

pub fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Messages for the codes a fault rule is likely to name, worded like Twilio's.
pub fn message_for(code: u32) -> &'static str {
    match code {
        20003 => "Authenticate",
        20404 => "The requested resource was not found",
        20429 => "Too Many Requests",
        20500 => "Internal Server Error",
        20503 => "Service Unavailable",
        21211 => "Invalid 'To' Phone Number",
        21408 => {
            "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
        }
        21608 => {
            "The number is unverified. Trial accounts cannot send messages to unverified numbers"
        }
        21610 => "Attempt to send to unsubscribed recipient",
        21612 => "The 'To' phone number is not currently reachable via SMS",
        21614 => "'To' number is not a valid mobile number",
        21635 => "'To' number cannot be a landline",
        30001 => "Queue overflow",
        30002 => "Account suspended",
        30003 => "Unreachable destination handset",
        30004 => "Message blocked",
        30005 => "Unknown destination handset",
        30006 => "Landline or unreachable carrier",
        30007 => "Message filtered",
        30008 => "Unknown error",
        _ => "Provider error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let body = TwilioError::authenticate().body();
        assert_eq!(
            &body[..],
            br#"{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}"#
        );
    }

    #[test]
    fn injected_defaults() {
        let e = TwilioError::injected(StatusCode::SERVICE_UNAVAILABLE, None);
        assert_eq!((e.code, e.message.as_str()), (20500, "Service Unavailable"));
        let e = TwilioError::injected(StatusCode::TOO_MANY_REQUESTS, None);
        assert_eq!((e.code, e.message.as_str()), (20429, "Too Many Requests"));
        let e = TwilioError::injected(StatusCode::BAD_REQUEST, Some(30007));
        assert_eq!((e.code, e.message.as_str()), (30007, "Message filtered"));
    }
}
