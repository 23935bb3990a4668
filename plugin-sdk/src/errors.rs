//! Constructors for the typed send error, so a plugin states intent (permanent or retryable)
//! rather than filling a record by hand.

use crate::http::HttpError;
use crate::{FailureReason, SendError};

impl SendError {
    /// The same request will fail the same way again: the host never retries it.
    pub fn permanent(
        reason: FailureReason,
        provider_code: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        SendError {
            retryable: false,
            retry_after_ms: None,
            reason,
            provider_code,
            detail: detail.into(),
        }
    }

    /// A later attempt may succeed; `retry_after_ms` is the provider's hint, if it gave one.
    pub fn retryable(
        reason: FailureReason,
        provider_code: Option<String>,
        retry_after_ms: Option<u64>,
        detail: impl Into<String>,
    ) -> Self {
        SendError {
            retryable: true,
            retry_after_ms,
            reason,
            provider_code,
            detail: detail.into(),
        }
    }

    /// A transport failure talking to the provider. A timeout after the request left may
    /// have delivered it; the host retries with the same idempotency key.
    pub fn from_http(err: HttpError) -> Self {
        match err {
            HttpError::Denied(d) => Self::permanent(
                FailureReason::PermissionDenied,
                None,
                format!("request denied by host: {d}"),
            ),
            HttpError::Invalid(d) => Self::permanent(
                FailureReason::ProviderError,
                None,
                format!("invalid request: {d}"),
            ),
            HttpError::Timeout => Self::retryable(
                FailureReason::Timeout,
                None,
                None,
                "provider did not answer in time",
            ),
            HttpError::Connect(d) => Self::retryable(
                FailureReason::ProviderTransient,
                None,
                None,
                format!("connection failed: {d}"),
            ),
            HttpError::TooLarge => Self::retryable(
                FailureReason::ProviderError,
                None,
                None,
                "provider response too large",
            ),
            HttpError::BudgetExhausted => Self::retryable(
                FailureReason::ProviderTransient,
                None,
                None,
                "request budget for this call exhausted",
            ),
        }
    }

    /// A required connection setting is missing: the connection needs fixing, not a retry.
    pub fn misconfigured(key: &str) -> Self {
        Self::permanent(
            FailureReason::PermissionDenied,
            None,
            format!("connection is missing config `{key}`"),
        )
    }
}

/// Every case of the WIT enum, in declaration order: position `i` is the value whose
/// discriminant is `i`, which is also its index in the shared name table.
const ALL_REASONS: [FailureReason; switchboard_vocab::failure_reason::PLUGIN_REASONS] = {
    use FailureReason::*;
    [
        InvalidFormat,
        RecipientInvalid,
        RecipientUnavailable,
        OptedOut,
        Blocked,
        WindowClosed,
        TokenExpired,
        PermissionDenied,
        RateLimited,
        ProviderTransient,
        ProviderError,
        FileTooLarge,
        MediaFetchFailed,
        UrlBlocked,
        ThreadOwned,
        ContentRejected,
        Timeout,
        Unknown,
        OutsideHours,
        InsufficientFunds,
    ]
};

impl FailureReason {
    /// The snake_case name used in the host's API and database, from the table the host
    /// uses too ([`switchboard_vocab::failure_reason::NAMES`]).
    pub fn as_str(&self) -> &'static str {
        switchboard_vocab::failure_reason::name(*self as usize)
    }

    /// The reason with this snake_case name, e.g. from a provider that speaks the gateway's
    /// vocabulary (the generic webhook channel). `None` for a host-only or unknown name.
    pub fn parse(name: &str) -> Option<FailureReason> {
        let i = switchboard_vocab::failure_reason::index(name)?;
        ALL_REASONS.get(i).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_at_its_discriminant_and_round_trips() {
        for (i, r) in ALL_REASONS.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(FailureReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(FailureReason::RateLimited.as_str(), "rate_limited");
        assert_eq!(FailureReason::parse("plugin_error"), None, "host-only");
        assert_eq!(FailureReason::parse("nonsense"), None);
    }
}
