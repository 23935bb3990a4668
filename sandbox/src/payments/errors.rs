//! Stripe's error envelope, `{"error": {"type", "code"?, "decline_code"?, "param"?, "message",
//! "charge"?, "doc_url"?}}`. Stripe's client libraries pick the exception class from `type`
//! and the HTTP status, so every non-2xx answer of the simulated API uses this shape, injected
//! faults included.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::cards::DeclineCode;

/// Stripe's answer to a request without any API key.
pub const NO_API_KEY_MESSAGE: &str = "You did not provide an API key. You need to provide your \
    API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
    YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can \
    help at https://support.stripe.com/.";

/// Stripe's ceiling for `amount` in the smallest currency unit (e.g. $999,999.99).
pub const MAX_AMOUNT: u64 = 99_999_999;
/// Stripe's ceiling for an `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Why a charge's parameters were refused (400 `invalid_request_error`). The display text is
/// Stripe's `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("Received unknown parameter: {0}")]
    Unknown(String),
    #[error("Missing required param: {0}.")]
    Missing(&'static str),
    #[error("Must provide source or customer.")]
    MissingSource,
    #[error("Invalid integer: {value}")]
    InvalidInteger { param: &'static str, value: String },
    #[error("This value must be greater than or equal to 1.")]
    NotPositive { param: &'static str },
    #[error("Amount must be no more than {MAX_AMOUNT} (in the smallest currency unit).")]
    AmountTooLarge,
    #[error("Invalid currency: {0}. Currencies are three-letter ISO codes, such as usd or krw.")]
    InvalidCurrency(String),
    #[error("Invalid metadata: {0}")]
    InvalidMetadata(String),
    #[error("No such token: '{0}'")]
    NoSuchToken(String),
}

impl ParamError {
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Unknown(_) => "parameter_unknown",
            Self::Missing(_) | Self::MissingSource => "parameter_missing",
            Self::InvalidInteger { .. } | Self::NotPositive { .. } => "parameter_invalid_integer",
            Self::AmountTooLarge => "amount_too_large",
            Self::NoSuchToken(_) => "resource_missing",
            Self::InvalidCurrency(_) | Self::InvalidMetadata(_) => return None,
        })
    }

    pub fn param(&self) -> String {
        match self {
            Self::Unknown(p) => p.clone(),
            Self::Missing(p)
            | Self::InvalidInteger { param: p, .. }
            | Self::NotPositive { param: p } => (*p).to_owned(),
            Self::MissingSource | Self::NoSuchToken(_) => "source".to_owned(),
            Self::AmountTooLarge => "amount".to_owned(),
            Self::InvalidCurrency(_) => "currency".to_owned(),
            Self::InvalidMetadata(_) => "metadata".to_owned(),
        }
    }
}

/// One Stripe error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Stripe {status} {kind}: {message}")]
pub struct StripeError {
    pub status: StatusCode,
    /// `type`: `invalid_request_error`, `card_error`, `idempotency_error`, `api_error`.
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub decline_code: Option<DeclineCode>,
    pub param: Option<String>,
    pub message: String,
    /// The id of the failed charge a decline created.
    pub charge: Option<String>,
}

impl StripeError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            decline_code: None,
            param: None,
            message: message.into(),
            charge: None,
        }
    }

    pub fn no_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            NO_API_KEY_MESSAGE,
        )
    }

    pub fn invalid_api_key(given: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            format!("Invalid API Key provided: {}", mask_key(given)),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn idempotency_key_too_long() -> Self {
        Self::bad_request(format!(
            "Keys for idempotent requests can only be {MAX_IDEMPOTENCY_KEY_LEN} characters long"
        ))
    }

    pub fn idempotency_conflict(key: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{key}' if you meant to \
                 execute a different request."
            ),
        )
    }

    pub fn declined(decline: DeclineCode, charge_id: &str) -> Self {
        let e = decline.error();
        Self {
            code: Some(e.code),
            decline_code: Some(decline),
            param: e.param.map(str::to_owned),
            charge: Some(charge_id.to_owned()),
            ..Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", e.message)
        }
    }

    /// Error for an injected fault, shaped as Stripe answers when it is overloaded or down.
    /// A fault's numeric `code` has no meaning for Stripe, whose codes are strings.
    pub fn injected(status: StatusCode) -> Self {
        match status.as_u16() {
            429 => Self {
                code: Some("rate_limit"),
                ..Self::new(
                    status,
                    "invalid_request_error",
                    "Request rate limit exceeded. Learn more about rate limits here \
                     https://stripe.com/docs/rate-limits.",
                )
            },
            401 => Self::invalid_api_key(super::SANDBOX_PAYMENTS_SECRET_KEY),
            s if s >= 500 => Self::new(
                status,
                "api_error",
                "Sorry, something went wrong on our end (injected fault).",
            ),
            _ => Self::new(status, "invalid_request_error", "Injected fault."),
        }
    }

    pub fn body(&self) -> Bytes {
        let mut error = Map::new();
        let mut put = |k: &str, v: Value| {
            error.insert(k.to_owned(), v);
        };
        if let Some(charge) = &self.charge {
            put("charge", json!(charge));
        }
        if let Some(code) = self.code {
            put("code", json!(code));
            put(
                "doc_url",
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(decline) = self.decline_code {
            put("decline_code", json!(decline.as_str()));
        }
        put("message", json!(self.message));
        if let Some(param) = &self.param {
            put("param", json!(param));
        }
        put("type", json!(self.kind));
        Bytes::from(json!({ "error": error }).to_string())
    }
}

impl From<ParamError> for StripeError {
    fn from(e: ParamError) -> Self {
        Self {
            code: e.code(),
            param: Some(e.param()),
            ..Self::bad_request(e.to_string())
        }
    }
}

impl IntoResponse for StripeError {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.status, self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Stripe\""),
            );
        }
        resp
    }
}

/// A JSON answer with the `Request-Id` header every Stripe response carries.
pub fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(&super::random_id("req_", 14)) {
        headers.insert("request-id", id);
    }
    resp
}

/// A key as Stripe shows it in "Invalid API Key provided": its prefix and last four characters
/// at most, so a leaked log line never holds a usable key. Short keys are starred entirely.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let prefix = [
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
    ]
    .iter()
    .find(|p| key.starts_with(*p))
    .map_or(0, |p| p.len());
    // Prefix and last four only when at least 12 characters stay hidden.
    let (shown_head, shown_tail) = if chars.len() >= prefix + 4 + 12 {
        (prefix, 4)
    } else {
        (0, 0)
    };
    let stars = (chars.len() - shown_head - shown_tail).min(40);
    let head: String = chars[..shown_head].iter().collect();
    let tail: String = chars[chars.len() - shown_tail..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(stars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keys() {
        assert_eq!(
            mask_key("sk_test_switchboard_wrong"),
            "sk_test_*************rong"
        );
        assert_eq!(mask_key("hunter2"), "*******");
        assert_eq!(mask_key(""), "");
        assert!(!mask_key("sk_test_abcdefghijkl").contains("abcdefgh"));
    }

    #[test]
    fn envelope_shapes() {
        let e: StripeError = ParamError::Missing("amount").into();
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": "parameter_missing", "param": "amount",
                "message": "Missing required param: amount.", "type": "invalid_request_error",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-missing"}})
        );
        let e = StripeError::declined(DeclineCode::InsufficientFunds, "ch_1");
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            (
                e.status.as_u16(),
                &v["error"]["type"],
                &v["error"]["code"],
                &v["error"]["decline_code"],
                &v["error"]["charge"]
            ),
            (
                402,
                &json!("card_error"),
                &json!("card_declined"),
                &json!("insufficient_funds"),
                &json!("ch_1")
            )
        );
    }
}
