//! Finding a send whose answer was lost. SendGrid has no idempotency key on `mail/send`, but
//! every send carries our delivery id as a custom argument (`sb_delivery_id`), and the Email
//! Activity API finds a message by it: exact, not a guess.
//!
//! The activity feed shows a message only once SendGrid has processed it, which can take
//! minutes. An empty answer sooner than the connection's `activity_lag_ms` (default
//! [`DEFAULT_ACTIVITY_LAG_MS`]) after the lost attempt is "not yet", not "not sent". An
//! account without the Email Activity add-on (403) cannot be asked.

use switchboard_plugin_sdk::prelude::*;

use crate::sendgrid::{DEFAULT_BASE_URL, map_error};

/// The custom argument every send carries: our delivery id.
pub const DELIVERY_ARG: &str = "sb_delivery_id";
/// How long after a send the activity feed may still not show it.
pub const DEFAULT_ACTIVITY_LAG_MS: u64 = 300_000;

#[derive(serde::Deserialize)]
struct Found {
    #[serde(default)]
    messages: Vec<Row>,
}

#[derive(serde::Deserialize)]
struct Row {
    msg_id: String,
}

pub fn find_sent(msg: &Message, window: AttemptWindow) -> Result<FindOutcome, SendError> {
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    // The delivery id is ours (`dlv_` and hex), but quote it as the query language wants.
    let id = msg
        .idempotency_key
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let query = format!("unique_args['{DELIVERY_ARG}']=\"{id}\"");
    let url = format!(
        "{}/v3/messages?query={}&limit=10",
        base.trim_end_matches('/'),
        http::percent_encode(&query)
    );
    let resp = http::send(
        Request::get(url)
            .bearer("api_key")
            .header("accept", "application/json"),
    )
    .map_err(SendError::from_http)?;
    if resp.status == 403 {
        return Ok(FindOutcome::CannotAsk);
    }
    if !resp.is_success() {
        return Err(map_error(&resp, clock::now_ms()));
    }
    let found: Found = serde_json::from_slice(&resp.body).map_err(|e| {
        SendError::retryable(
            FailureReason::ProviderError,
            None,
            None,
            format!("unreadable activity answer: {e}"),
        )
    })?;
    // A row's `msg_id` is the recipient's `sg_message_id`: the X-Message-Id `send` returned,
    // then `.filter…`.
    if let Some(row) = found.messages.first() {
        let id = row.msg_id.split('.').next().unwrap_or(&row.msg_id);
        return Ok(FindOutcome::Found(Sent {
            provider_message_id: id.to_string(),
        }));
    }
    let lag = config::get("activity_lag_ms")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_ACTIVITY_LAG_MS);
    let settled_at = window.finished_ms.saturating_add(lag);
    let now = clock::now_ms();
    if now < settled_at {
        return Ok(FindOutcome::NotYet(settled_at - now));
    }
    Ok(FindOutcome::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_plugin_sdk::testing::MockHost;

    fn window(at: u64) -> AttemptWindow {
        AttemptWindow {
            started_ms: at,
            finished_ms: at + 1_000,
        }
    }

    #[test]
    fn finds_the_send_by_its_delivery_id() {
        let host = MockHost::new()
            .on_http(|_| {
                Ok(Response::new(
                    200,
                    &[],
                    r#"{"messages":[{"msg_id":"abc123.filter0001.1.0","to_email":"a@b.co","status":"delivered"}]}"#,
                ))
            })
            .install();
        let found = find_sent(&crate::tests::message("a@b.co", "hi"), window(1)).unwrap();
        assert!(matches!(found, FindOutcome::Found(s) if s.provider_message_id == "abc123"));
        host.inspect(|h| {
            let r = &h.requests[0];
            assert_eq!(
                r.url,
                "https://api.sendgrid.com/v3/messages?query=unique_args%5B%27sb_delivery_id%27%5D%3D%22dlv_1%22&limit=10"
            );
            assert!(matches!(&r.auth, Some(http::Auth::Bearer(k)) if k == "api_key"));
        });
    }

    #[test]
    fn empty_is_not_yet_within_the_lag_then_not_found() {
        let _h = MockHost::new()
            .config("activity_lag_ms", "60000")
            .on_http(|_| Ok(Response::new(200, &[], r#"{"messages":[]}"#)))
            .install();
        let now = clock::now_ms();
        let msg = crate::tests::message("a@b.co", "hi");
        let soon = find_sent(&msg, window(now)).unwrap();
        assert!(
            matches!(soon, FindOutcome::NotYet(ms) if ms > 50_000 && ms <= 61_000),
            "{soon:?}"
        );
        let later = find_sent(&msg, window(now - 120_000)).unwrap();
        assert!(matches!(later, FindOutcome::NotFound), "{later:?}");
    }

    #[test]
    fn no_activity_add_on_cannot_be_asked() {
        let _h = MockHost::new()
            .on_http(|_| {
                Ok(Response::new(
                    403,
                    &[],
                    r#"{"errors":[{"message":"access forbidden"}]}"#,
                ))
            })
            .install();
        let found = find_sent(&crate::tests::message("a@b.co", "hi"), window(1)).unwrap();
        assert!(matches!(found, FindOutcome::CannotAsk));
    }
}
