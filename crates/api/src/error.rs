//! Every client mistake is a 4xx with `{"error":{"code","message"}}`, naming the field when
//! there is one; server faults are 5xx with a generic message (details go to the log only).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use switchboard_gateway::model::Violation;
use switchboard_gateway::store::StoreError;

mod services;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub violations: Vec<Violation>,
    pub reason: Option<String>,
    /// Sent as `Retry-After` when non-zero (whole seconds); kept small so every
    /// `Result<_, ApiError>` stays small.
    pub retry_after_s: u16,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {
    "code": "invalid_format",
    "message": "not valid for channel `sms`: to.phone: \"call me\" is not a phone number in international E.164 form (e.g. +15551234567)",
    "field": "to.phone",
    "violations": [{
        "code": "invalid_format",
        "field": "to.phone",
        "message": "\"call me\" is not a phone number in international E.164 form (e.g. +15551234567)"
    }],
    "reason": "invalid_format"
}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_json`, `invalid_request`, `invalid_format`, ...
    pub code: String,
    pub message: String,
    /// The JSON path of the offending field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// The failure reason a refusal is about (e.g. a resend of an `invalid_format` message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            violations: Vec::new(),
            reason: None,
            retry_after_s: 0,
        }
    }
    /// `429`: over a rate limit; try again after `wait`.
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        e.retry_after_s = secs.clamp(1, u64::from(u16::MAX)) as u16;
        e
    }
    /// A plugin call that failed (`502 plugin_error`) or was not made because the
    /// connection's plugin is quarantined (`503 plugin_quarantined`, with `Retry-After`).
    pub fn plugin(call: &switchboard_gateway::runtime::CallError) -> Self {
        match call {
            switchboard_gateway::runtime::CallError::Quarantined { retry_in_ms, .. } => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "plugin_quarantined",
                    call.to_string(),
                );
                e.retry_after_s = retry_in_ms.div_ceil(1000).clamp(1, u64::from(u16::MAX)) as u16;
                e.reason("plugin_quarantined")
            }
            _ => Self::new(StatusCode::BAD_GATEWAY, "plugin_error", call.to_string()),
        }
    }
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// `422 invalid_request` about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message).field(field)
    }
    /// `413 payload_too_large`: the body is over the route's size limit (`limit` bytes, when
    /// the caller knows it; the body extractor's rejection does not say).
    pub fn payload_too_large(limit: Option<usize>) -> Self {
        let message = match limit {
            Some(limit) => format!("the request body is over the {limit}-byte limit"),
            None => "the request body is over the size limit".to_string(),
        };
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the request may be retried",
        )
    }
}

/// Longest display name, in characters.
const NAME_MAX: usize = 100;

/// A display name (of a workspace, key or connection): 1 to [`NAME_MAX`] characters, not
/// all spaces, tabs or line breaks.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if is_blank(name) || name.chars().count() > NAME_MAX {
        return Err(ApiError::invalid(
            "name",
            format!("must be 1 to {NAME_MAX} characters, not all blank"),
        ));
    }
    Ok(())
}

/// Blank: empty, or only spaces, tabs and line breaks. Only those four, so the document's
/// pattern ([`NOT_BLANK`]) means the same in every regex dialect a client validates with.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// [`is_blank`]'s opposite as a JSON Schema pattern.
pub const NOT_BLANK: &str = "[^ \\t\\n\\r]";

/// A string that is not [`is_blank`], as a schema.
pub fn not_blank_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .pattern(Some(NOT_BLANK))
        .build()
}

/// [`check_name`]'s rule as a schema, from the same numbers.
pub fn name_schema() -> utoipa::openapi::Object {
    let mut schema = not_blank_schema();
    schema.max_length = Some(NAME_MAX);
    schema
}

/// The request body, or why it could not be read. Every handler that takes a body reads it
/// through here, so an oversized body gets the same `413 payload_too_large` on every route
/// (and a body cut off in transit the same `400 invalid_body`).
pub fn read_body(
    b: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(None)
        } else {
            ApiError::new(e.status(), "invalid_body", e.body_text())
        }
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
                field: self.field,
                violations: self.violations,
                reason: self.reason,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.retry_after_s > 0 {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(self.retry_after_s),
            );
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            return ApiError::database_unavailable(&e);
        }
        tracing::error!(error = %e, "store error");
        ApiError::internal()
    }
}

impl ApiError {
    /// `503 database_unavailable` with `Retry-After`: the database cannot be reached, so
    /// nothing this request asked for was done (a message was not accepted: send it again,
    /// with the same `Idempotency-Key`, once this clears).
    pub fn database_unavailable(e: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "the database is unavailable");
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached; nothing was done, try again shortly",
        );
        err.retry_after_s = 1;
        err
    }
}

/// An optional JSON body: empty, or `null`, is `T::default()`.
pub fn parse_optional_json<T: DeserializeOwned + Default + ToSchema>(
    body: &[u8],
) -> Result<T, ApiError> {
    let text = body.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(T::default());
    }
    parse_json(body)
}

/// Parse a JSON body, naming the offending field on error. A whole number written as `5.0`
/// counts as the integer 5, as JSON Schema has it ([`switchboard_gateway::model::json_numbers`]).
pub fn parse_json<T: DeserializeOwned + ToSchema>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the request body is empty; expected a JSON object",
        ));
    }
    let body = switchboard_gateway::model::json_numbers::integral_numbers(body);
    if body.contains(&b'[')
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(path) = crate::openapi::shape::misplaced_array(&T::name(), &value)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{path}: an array is not allowed here"),
        )
        .field(path));
    }
    let mut de = serde_json::Deserializer::from_slice(&body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("malformed JSON: {inner}"),
            );
        }
        let text = inner.to_string();
        // serde reports a missing field at its parent's path; an unknown one at its own.
        let missing = text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(n)) => n.to_string(),
            (p, Some(n)) => format!("{p}.{n}"),
            (p, None) => p.to_string(),
        };
        let message = text.split(" at line ").next().unwrap_or(&text).to_string();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{field}: {message}"),
        )
        .field(field)
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("malformed JSON: {e}"),
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_gateway::model::NewMessage;

    fn err(body: &str) -> ApiError {
        parse_json::<NewMessage>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(r#"{"channel":"sms","content":{"text":"x"}}"#);
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_request", Some("to"))
        );
        let e = err(r#"{"channel":"sms","to":{"phone":5},"content":{"text":"x"}}"#);
        assert_eq!(e.field.as_deref(), Some("to.phone"));
        let e = err(r#"{"channel":"sms","to":{"fone":"+1"},"content":{"text":"x"}}"#);
        assert_eq!(e.field.as_deref(), Some("to.fone"));
        let e = err(r#"{"channel":"sms","to":{}"#);
        assert_eq!(e.code, "invalid_json");
        let e = err("");
        assert_eq!(e.code, "invalid_json");
        let e = err(r#"{"channel":"sms","to":{},"content":{}} trailing"#);
        assert_eq!(e.code, "invalid_json");
    }
}
