//! Solapi status and error codes in the gateway's failure taxonomy. The reasons are typed so
//! the gateway's fallback can tell "send the SMS/LMS instead" (not a KakaoTalk user, blocked,
//! outside hours) from "nothing will reach this person" (opted out) and "fix the account"
//! (balance, keys).

use switchboard_plugin_sdk::prelude::*;

/// Accepted by Solapi.
pub const ACCEPTED: &str = "2000";
/// Handed to the carrier (Kakao).
pub const SENT: &str = "3000";
/// Received by the recipient's KakaoTalk.
pub const DELIVERED: &str = "4000";
/// Kakao's "message does not match the template" result. Solapi's own number for it could not
/// be confirmed from public documentation; 3016 is Kakao's native code and an assumption here
/// (docs/channels/alimtalk.md).
pub const TEMPLATE_MISMATCH: &str = "3016";
/// Kakao's "template not found".
pub const TEMPLATE_NOT_FOUND: &str = "3015";
/// Kakao's "buttons do not match the template".
pub const BUTTON_MISMATCH: &str = "3027";
pub const OUTSIDE_HOURS: &str = "3108";

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Korea Standard Time is UTC+9 all year (no daylight saving).
const KST_OFFSET_MS: u64 = 9 * HOUR_MS;
/// AlimTalk sending hours start at 08:00 KST.
const OPENS_AT_MS: u64 = 8 * HOUR_MS;

/// Milliseconds from `now_ms` to the next 08:00 KST.
pub fn until_sending_hours(now_ms: u64) -> u64 {
    let of_day = (now_ms + KST_OFFSET_MS) % DAY_MS;
    if of_day < OPENS_AT_MS {
        OPENS_AT_MS - of_day
    } else {
        DAY_MS - of_day + OPENS_AT_MS
    }
}

/// The reason for a failed status code, and whether trying again later can help.
pub fn reason_for_status(code: &str) -> (FailureReason, bool) {
    use FailureReason::*;
    match code {
        "3104" => (RecipientUnavailable, false),
        "3107" | "1060" | "2060" => (Blocked, false),
        OUTSIDE_HOURS => (OutsideHours, true),
        TEMPLATE_MISMATCH | TEMPLATE_NOT_FOUND | BUTTON_MISMATCH => (ContentRejected, false),
        "1030" | "2230" => (InsufficientFunds, false),
        "1061" | "2061" => (OptedOut, false),
        _ => (ProviderError, false),
    }
}

/// A non-2000 status in the send response.
pub fn status_error(code: &str, message: &str, now_ms: u64) -> SendError {
    let detail = if message.trim().is_empty() {
        format!("Solapi status {code}")
    } else {
        format!("Solapi status {code}: {}", message.trim())
    };
    let provider_code = Some(code.to_string());
    match reason_for_status(code) {
        (FailureReason::OutsideHours, _) => SendError::retryable(
            FailureReason::OutsideHours,
            provider_code,
            Some(until_sending_hours(now_ms)),
            detail,
        ),
        (reason, true) => SendError::retryable(reason, provider_code, None, detail),
        (reason, false) => SendError::permanent(reason, provider_code, detail),
    }
}

/// An HTTP error answer, `{"errorCode","errorMessage"}`.
pub fn http_error(
    status: u16,
    error_code: Option<&str>,
    error_message: Option<&str>,
    retry_after_ms: Option<u64>,
) -> SendError {
    let detail = match (error_code, error_message) {
        (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
        (Some(c), None) => format!("HTTP {status} {c}"),
        (None, Some(m)) => format!("HTTP {status}: {m}"),
        (None, None) => format!("HTTP {status}"),
    };
    let code = Some(error_code.map_or_else(|| status.to_string(), str::to_string));
    use FailureReason::*;
    match (status, error_code) {
        // A request signed a moment too early or late, or a salt collision: the next
        // attempt carries a fresh date and salt.
        (_, Some("RequestTimeTooSkewed" | "DuplicatedSignature")) => {
            SendError::retryable(ProviderTransient, code, retry_after_ms, detail)
        }
        (_, Some("InvalidAPIKey" | "SignatureDoesNotMatch")) | (401 | 403, _) => {
            SendError::permanent(PermissionDenied, code, detail)
        }
        (429, _) => SendError::retryable(RateLimited, code, retry_after_ms, detail),
        (s, _) if s >= 500 => SendError::retryable(ProviderTransient, code, retry_after_ms, detail),
        _ => SendError::permanent(ProviderError, code, detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureReason::*;

    /// 2023-11-14T22:13:20Z is 07:13:20 KST on the 15th.
    const BEFORE_OPENING: u64 = 1_700_000_000_000;

    #[test]
    fn every_status_code_has_its_reason() {
        for (code, reason) in [
            ("3104", RecipientUnavailable),
            ("3107", Blocked),
            ("3108", OutsideHours),
            ("3016", ContentRejected),
            ("3015", ContentRejected),
            ("3027", ContentRejected),
            ("1030", InsufficientFunds),
            ("2230", InsufficientFunds),
            ("1060", Blocked),
            ("2060", Blocked),
            ("1061", OptedOut),
            ("2061", OptedOut),
            ("9999", ProviderError),
        ] {
            let e = status_error(code, "why", BEFORE_OPENING);
            assert_eq!(e.reason, reason, "{code}");
            assert_eq!(e.provider_code.as_deref(), Some(code));
            assert_eq!(e.retryable, code == "3108", "{code}");
            assert_eq!(e.detail, format!("Solapi status {code}: why"));
        }
    }

    #[test]
    fn outside_hours_waits_until_eight_kst() {
        let e = status_error("3108", "", BEFORE_OPENING);
        assert_eq!(e.retry_after_ms, Some(46 * 60_000 + 40_000));
        // 20:30 KST → 11 h 30 min until 08:00 the next day.
        let evening = BEFORE_OPENING + (13 * 60 + 16) * 60_000 + 40_000;
        assert_eq!(until_sending_hours(evening), (11 * 60 + 30) * 60_000);
        // Exactly 08:00 KST counts as open, so the next opening is a day away.
        let eight = BEFORE_OPENING + 46 * 60_000 + 40_000;
        assert_eq!(until_sending_hours(eight), DAY_MS);
    }

    #[test]
    fn http_errors_map_by_error_code_then_status() {
        let cases = [
            (
                403,
                Some("InvalidAPIKey"),
                PermissionDenied,
                false,
                "InvalidAPIKey",
            ),
            (
                403,
                Some("SignatureDoesNotMatch"),
                PermissionDenied,
                false,
                "SignatureDoesNotMatch",
            ),
            (
                403,
                Some("RequestTimeTooSkewed"),
                ProviderTransient,
                true,
                "RequestTimeTooSkewed",
            ),
            (
                403,
                Some("DuplicatedSignature"),
                ProviderTransient,
                true,
                "DuplicatedSignature",
            ),
            (
                429,
                Some("TooManyRequests"),
                RateLimited,
                true,
                "TooManyRequests",
            ),
            (429, None, RateLimited, true, "429"),
            (
                500,
                Some("InternalError"),
                ProviderTransient,
                true,
                "InternalError",
            ),
            (503, None, ProviderTransient, true, "503"),
            (
                400,
                Some("ValidationError"),
                ProviderError,
                false,
                "ValidationError",
            ),
            (404, None, ProviderError, false, "404"),
        ];
        for (status, code, reason, retryable, provider_code) in cases {
            let e = http_error(status, code, Some("m"), Some(2000));
            assert_eq!(
                (e.reason, e.retryable),
                (reason, retryable),
                "{status} {code:?}"
            );
            assert_eq!(e.provider_code.as_deref(), Some(provider_code));
            if retryable {
                assert_eq!(e.retry_after_ms, Some(2000));
            }
        }
    }
}
