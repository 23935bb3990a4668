//! SendGrid v3's error envelope, `{"errors":[{"message","field","help"}]}`. SendGrid reports
//! every validation problem of a request at once, each naming the offending field as a dotted
//! path (`personalizations.0.to.0.email`), and clients show or parse that list; so every non-2xx
//! answer of the simulated API, injected faults included, uses this shape.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// SendGrid's answer to a missing, malformed or unknown API key.
pub const UNAUTHORIZED_MESSAGE: &str =
    "The provided authorization grant is invalid, expired, or revoked";
/// SendGrid's answer to a `from` that is not a verified Sender Identity (403, field `from`).
pub const UNVERIFIED_SENDER_MESSAGE: &str = "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements";

/// One entry of the `errors` list. `help` is always null: SendGrid's help links point at its
/// own documentation, which a sandbox cannot usefully imitate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub message: String,
    pub field: Option<String>,
    pub help: Option<String>,
}

impl FieldError {
    pub fn new(field: Option<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field,
            help: None,
        }
    }
}

/// A SendGrid error answer: HTTP status plus the list of problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SendGrid {status}: {errors:?}")]
pub struct SendGridError {
    pub status: StatusCode,
    pub errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    errors: &'a [FieldError],
}

impl SendGridError {
    pub fn new(status: StatusCode, field: Option<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![FieldError::new(field, message)],
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, UNAUTHORIZED_MESSAGE)
    }

    /// What SendGrid answers when the body is not a JSON object at all.
    pub fn malformed() -> Self {
        Self::new(StatusCode::BAD_REQUEST, None, "Bad Request")
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors,
        }
    }

    pub fn unverified_sender() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            Some("from".into()),
            UNVERIFIED_SENDER_MESSAGE,
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "resource not found")
    }

    /// Error for an injected fault, worded as SendGrid words its platform errors.
    pub fn injected(status: StatusCode) -> Self {
        let message = match status.as_u16() {
            400 => "Bad Request",
            401 => UNAUTHORIZED_MESSAGE,
            403 => "access forbidden",
            404 => "resource not found",
            413 => "Payload Too Large",
            429 => "too many requests",
            s if s >= 500 => "internal server error",
            _ => "Bad Request",
        };
        Self::new(status, None, message)
    }

    pub fn body(&self) -> Bytes {
        let envelope = Envelope {
            errors: &self.errors,
        };
        // Serialising strings and options into JSON cannot fail; the fallback is unreachable.
        Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
    }
}

impl IntoResponse for SendGridError {
    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body()));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        assert_eq!(
            &SendGridError::unauthorized().body()[..],
            br#"{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null,"help":null}]}"#
        );
        let e = SendGridError::validation(vec![
            FieldError::new(Some("from.email".into()), "a"),
            FieldError::new(Some("subject".into()), "b"),
        ]);
        assert_eq!(
            &e.body()[..],
            br#"{"errors":[{"message":"a","field":"from.email","help":null},{"message":"b","field":"subject","help":null}]}"#
        );
    }

    #[test]
    fn injected_messages() {
        let e = SendGridError::injected(StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.errors[0].message, "too many requests");
        let e = SendGridError::injected(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.errors[0].field, None);
    }
}
