//! Finding a send whose answer was lost. Twilio has no idempotency key on message creation,
//! but it lists an account's messages by `To` and `From`, newest first: a message created
//! within the lost attempts' window, to the same number, with the same body, is the one they
//! sent.
//!
//! `DateSent` is not used as a filter: a message still queued has none yet, and would not be
//! found. `date_created` is compared here instead, with [`SLACK_MS`] either side for Twilio's
//! whole-second timestamps and the two clocks. The residual risk: another message with the
//! same body to the same number created inside that window (a person sending the same text
//! twice within seconds) would be taken for this one.

use switchboard_plugin_sdk::prelude::*;

use crate::twilio::{DEFAULT_BASE_URL, map_error};

/// Either side of the window: Twilio's timestamps are whole seconds, and its clock is not ours.
pub const SLACK_MS: u64 = 10_000;
/// Pages read before giving up on a number busier than the window (newest first, 50 each).
const MAX_PAGES: usize = 5;

#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    messages: Vec<Listed>,
    next_page_uri: Option<String>,
}

#[derive(serde::Deserialize)]
struct Listed {
    sid: String,
    #[serde(default)]
    body: Option<String>,
    date_created: Option<String>,
}

pub fn find_sent(msg: &Message, window: AttemptWindow) -> Result<FindOutcome, SendError> {
    let account_sid = config::require("account_sid")?;
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    let base = base.trim_end_matches('/');
    let to = msg.to.phone.clone().ok_or_else(|| {
        SendError::permanent(FailureReason::InvalidFormat, None, "no phone number")
    })?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("To", &to);
    // With a Messaging Service Twilio picks the sender, so only `To` narrows the list.
    if config::get("messaging_service_sid")
        .filter(|s| !s.is_empty())
        .is_none()
        && let Some(from) = config::get("from").filter(|s| !s.is_empty())
    {
        query.append_pair("From", &from);
    }
    query.append_pair("PageSize", "50");
    let mut url = format!(
        "{base}/2010-04-01/Accounts/{account_sid}/Messages.json?{}",
        query.finish()
    );
    let body = msg.content.text.clone().unwrap_or_default();
    let earliest = window.started_ms.saturating_sub(SLACK_MS);
    let latest = window.finished_ms.saturating_add(SLACK_MS);
    for _ in 0..MAX_PAGES {
        let req = Request::get(url)
            .basic_auth("account_sid", "auth_token")
            .header("accept", "application/json");
        let resp = http::send(req).map_err(SendError::from_http)?;
        if !resp.is_success() {
            return Err(map_error(&resp));
        }
        let page: Page = serde_json::from_slice(&resp.body).map_err(|e| {
            SendError::retryable(
                FailureReason::ProviderError,
                None,
                None,
                format!("unreadable message list: {e}"),
            )
        })?;
        let mut older_than_window = false;
        for m in &page.messages {
            let Some(created) = m
                .date_created
                .as_deref()
                .and_then(switchboard_iso_time::parse_rfc2822)
            else {
                continue;
            };
            if created > latest {
                continue;
            }
            if created < earliest {
                older_than_window = true;
                continue;
            }
            if m.body.as_deref().unwrap_or_default() == body {
                return Ok(FindOutcome::Found(Sent {
                    provider_message_id: m.sid.clone(),
                }));
            }
        }
        match page.next_page_uri.filter(|p| !p.is_empty()) {
            // Newest first: once a page reaches before the window, no later page can match.
            Some(next) if !older_than_window => url = format!("{base}{next}"),
            _ => return Ok(FindOutcome::NotFound),
        }
    }
    // The number had more messages since the window than we read: say so, rather than
    // "not found", which would send it again.
    Ok(FindOutcome::CannotAsk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_plugin_sdk::testing::MockHost;

    fn message(text: &str) -> Message {
        crate::tests::message("+14155550100", "US", text)
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::new(status, headers, body)
    }

    fn listed(sid: &str, body: &str, created: &str) -> serde_json::Value {
        serde_json::json!({"sid": sid, "body": body, "date_created": created, "status": "sent"})
    }

    /// 2026-12-07T03:15:09Z
    const AT: u64 = 1_796_613_309_000;

    fn window() -> AttemptWindow {
        AttemptWindow {
            started_ms: AT,
            finished_ms: AT + 2_000,
        }
    }

    #[test]
    fn finds_the_same_body_created_in_the_window_by_to_and_from() {
        let _h = MockHost::new()
            .config("account_sid", "AC123")
            .config("from", "+15005550006")
            .on_http(|r| {
                assert!(
                    r.url.starts_with(
                        "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json?"
                    ),
                    "{}",
                    r.url
                );
                assert!(
                    r.url.contains("To=%2B14155550100") && r.url.contains("From=%2B15005550006"),
                    "{}",
                    r.url
                );
                let page = serde_json::json!({"messages": [
                    listed("SM3", "later one", "Mon, 07 Dec 2026 03:15:30 +0000"),
                    listed("SM2", "other text", "Mon, 07 Dec 2026 03:15:10 +0000"),
                    listed("SM1", "hello", "Mon, 07 Dec 2026 03:15:09 +0000"),
                ], "next_page_uri": null});
                Ok(resp(200, &[], &page.to_string()))
            })
            .install();
        let found = find_sent(&message("hello"), window()).unwrap();
        assert!(matches!(found, FindOutcome::Found(s) if s.provider_message_id == "SM1"));
    }

    #[test]
    fn not_found_when_nothing_in_the_window_matches_and_follows_pages_until_older() {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let seen = calls.clone();
        let _h = MockHost::new()
            .config("account_sid", "AC123")
            .config("from", "+15005550006")
            .on_http(move |r| {
                seen.set(seen.get() + 1);
                let page = if r.url.contains("PageToken") {
                    serde_json::json!({"messages": [
                        listed("SM0", "hello", "Mon, 07 Dec 2026 02:00:00 +0000"),
                    ], "next_page_uri": "/2010-04-01/Accounts/AC123/Messages.json?PageToken=PA2"})
                } else {
                    serde_json::json!({"messages": [
                        listed("SM9", "hello", "Mon, 07 Dec 2026 04:00:00 +0000"),
                    ], "next_page_uri": "/2010-04-01/Accounts/AC123/Messages.json?PageToken=PA1"})
                };
                Ok(resp(200, &[], &page.to_string()))
            })
            .install();
        let found = find_sent(&message("hello"), window()).unwrap();
        assert!(matches!(found, FindOutcome::NotFound), "{found:?}");
        assert_eq!(calls.get(), 2, "stops at the page older than the window");
    }

    #[test]
    fn a_failed_list_is_an_error_not_a_verdict() {
        let _h = MockHost::new()
            .config("account_sid", "AC123")
            .config("from", "+15005550006")
            .on_http(|_| {
                Ok(resp(
                    503,
                    &[],
                    r#"{"code":20500,"message":"down","status":503}"#,
                ))
            })
            .install();
        assert!(find_sent(&message("hello"), window()).is_err());
    }
}
