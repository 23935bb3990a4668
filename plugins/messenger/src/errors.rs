//! The Graph error envelope, `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`,
//! classified on code and subcode (`docs/channels/messenger.md`, "Errors"); the HTTP status
//! only decides when the body
//! is not an envelope.

use serde::Deserialize;
use switchboard_plugin_sdk::prelude::*;

#[derive(Debug, Deserialize)]
struct Envelope {
    error: GraphError,
}

#[derive(Debug, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// The reason and retryability of a code/subcode pair; `None` when the table has no row.
pub fn classify(code: i64, subcode: Option<i64>) -> Option<(FailureReason, bool)> {
    use FailureReason::*;
    let permanent = |r| Some((r, false));
    let retryable = |r| Some((r, true));
    // Subcode rows first: they refine codes that mean something else on their own.
    match (code, subcode) {
        (_, Some(2018300)) | (2018300, _) => return permanent(ThreadOwned),
        (10, Some(2018278 | 2018065 | 2534022)) => return permanent(WindowClosed),
        (10, Some(2018108)) | (200, Some(1545041)) => return permanent(RecipientUnavailable),
        (100, Some(2018001)) => return permanent(RecipientInvalid),
        (100, Some(2018109)) => return permanent(FileTooLarge),
        (100, Some(2018008 | 2018047 | 2018294)) => return permanent(MediaFetchFailed),
        (200, Some(2018027 | 2018028)) => return permanent(PermissionDenied),
        _ => {}
    }
    match code {
        190 => permanent(TokenExpired),
        551 => permanent(RecipientUnavailable),
        4 | 613 | 17 | 32 | 341 => retryable(RateLimited),
        1 | 2 | 1200 => retryable(ProviderTransient),
        10 if subcode.is_none() => permanent(PermissionDenied),
        368 => permanent(UrlBlocked),
        100 => permanent(InvalidFormat),
        _ => None,
    }
}

/// `code/subcode`, or `code` alone.
pub fn provider_code(code: i64, subcode: Option<i64>) -> String {
    match subcode {
        Some(s) => format!("{code}/{s}"),
        None => code.to_string(),
    }
}

/// A non-2xx Graph answer as a send error.
pub fn map_error(resp: &Response) -> SendError {
    let retry_after = resp.retry_after_ms();
    let Some(err) = serde_json::from_slice::<Envelope>(&resp.body)
        .ok()
        .map(|e| e.error)
        .filter(|e| e.code.is_some())
    else {
        let detail = format!("HTTP {} without a Graph error envelope", resp.status);
        let code = Some(format!("http_{}", resp.status));
        return match resp.status {
            429 => SendError::retryable(FailureReason::RateLimited, code, retry_after, detail),
            s if s >= 500 => {
                SendError::retryable(FailureReason::ProviderTransient, code, retry_after, detail)
            }
            _ => SendError::permanent(FailureReason::ProviderError, code, detail),
        };
    };
    let code = err.code.unwrap_or_default();
    let pc = Some(provider_code(code, err.error_subcode));
    let mut detail = err.message.clone();
    if let Some(trace) = &err.fbtrace_id {
        detail.push_str(&format!(" (fbtrace_id {trace})"));
    }
    match classify(code, err.error_subcode) {
        Some((reason, true)) => SendError::retryable(reason, pc, retry_after, detail),
        Some((reason, false)) => SendError::permanent(reason, pc, detail),
        // Graph flags errors worth retrying that the table does not know.
        None if err.is_transient == Some(true) || resp.status >= 500 => {
            SendError::retryable(FailureReason::ProviderTransient, pc, retry_after, detail)
        }
        None => SendError::permanent(FailureReason::ProviderError, pc, detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureReason::*;

    fn envelope(code: i64, subcode: Option<i64>) -> Response {
        let sub = subcode
            .map(|s| format!(",\"error_subcode\":{s}"))
            .unwrap_or_default();
        Response::new(
            400,
            &[],
            format!(
                r#"{{"error":{{"message":"(#{code}) boom","type":"OAuthException","code":{code}{sub},"fbtrace_id":"AbC123xYz"}}}}"#
            ),
        )
    }

    #[test]
    fn every_table_row_maps() {
        let rows: &[(i64, Option<i64>, FailureReason, bool)] = &[
            (190, None, TokenExpired, false),
            (190, Some(460), TokenExpired, false),
            (10, Some(2018278), WindowClosed, false),
            (10, Some(2018065), WindowClosed, false),
            (10, Some(2534022), WindowClosed, false),
            (10, Some(2018108), RecipientUnavailable, false),
            (551, None, RecipientUnavailable, false),
            (200, Some(1545041), RecipientUnavailable, false),
            (100, Some(2018001), RecipientInvalid, false),
            (100, Some(2018109), FileTooLarge, false),
            (100, Some(2018008), MediaFetchFailed, false),
            (100, Some(2018047), MediaFetchFailed, false),
            (100, Some(2018294), MediaFetchFailed, false),
            (4, None, RateLimited, true),
            (613, None, RateLimited, true),
            (17, None, RateLimited, true),
            (32, None, RateLimited, true),
            (341, None, RateLimited, true),
            (1, None, ProviderTransient, true),
            (2, None, ProviderTransient, true),
            (1200, None, ProviderTransient, true),
            (10, None, PermissionDenied, false),
            (200, Some(2018027), PermissionDenied, false),
            (200, Some(2018028), PermissionDenied, false),
            (10, Some(2018300), ThreadOwned, false),
            (2018300, None, ThreadOwned, false),
            (368, None, UrlBlocked, false),
            (100, None, InvalidFormat, false),
            (100, Some(33), InvalidFormat, false),
            (9999, None, ProviderError, false),
            (10, Some(1234), ProviderError, false),
        ];
        for &(code, sub, reason, retryable) in rows {
            let e = map_error(&envelope(code, sub));
            assert_eq!(
                (e.reason, e.retryable),
                (reason, retryable),
                "{code}/{sub:?}"
            );
            assert_eq!(e.provider_code, Some(provider_code(code, sub)));
            assert!(
                e.detail.contains("boom") && e.detail.contains("AbC123xYz"),
                "{}",
                e.detail
            );
        }
        assert_eq!(provider_code(10, Some(2018278)), "10/2018278");
        assert_eq!(provider_code(190, None), "190");
    }

    #[test]
    fn transient_flag_retry_after_and_bare_statuses() {
        let r = Response::new(
            500,
            &[],
            r#"{"error":{"message":"x","type":"OAuthException","code":9000,"is_transient":true}}"#,
        );
        assert_eq!(
            (map_error(&r).reason, map_error(&r).retryable),
            (ProviderTransient, true)
        );
        let mut r = envelope(613, None);
        r.headers.push(("Retry-After".into(), "7".into()));
        assert_eq!(map_error(&r).retry_after_ms, Some(7000));
        let e = map_error(&Response::new(502, &[], "<html>bad gateway</html>"));
        assert_eq!((e.reason, e.retryable), (ProviderTransient, true));
        let e = map_error(&Response::new(429, &[], ""));
        assert_eq!((e.reason, e.retryable), (RateLimited, true));
        let e = map_error(&Response::new(404, &[], "nope"));
        assert_eq!((e.reason, e.retryable), (ProviderError, false));
    }
}
