//! Finding a send whose answer was lost. Solapi has no idempotency key on `send`, but its
//! message list (`GET /messages/v4/list`) filters by recipient and creation time and returns
//! each message's `customFields`, where every send carries our delivery id
//! (`sb_delivery_id`): an exact match, not a guess.
//!
//! The window is widened by [`SLACK_MS`] either side for the two clocks.

use serde_json::Value;
use switchboard_plugin_sdk::prelude::*;

use crate::{auth, codes, phone};

/// The custom field every send carries: our delivery id.
pub const DELIVERY_FIELD: &str = "sb_delivery_id";
/// Either side of the window, for Solapi's clock and ours.
pub const SLACK_MS: u64 = 10_000;
/// Pages of 100 read before giving up on a recipient busier than the window.
const MAX_PAGES: usize = 5;

pub fn find_sent(msg: &Message, window: AttemptWindow) -> Result<FindOutcome, SendError> {
    let api_key = config::require("api_key")?;
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| crate::solapi::DEFAULT_BASE_URL.into());
    let to = msg
        .to
        .phone
        .as_deref()
        .and_then(|p| phone::domestic_mobile(p).ok())
        .ok_or_else(|| {
            SendError::permanent(
                FailureReason::InvalidFormat,
                None,
                "no Korean mobile number",
            )
        })?;
    let start = switchboard_iso_time::format_iso(window.started_ms.saturating_sub(SLACK_MS));
    let end = switchboard_iso_time::format_iso(window.finished_ms.saturating_add(SLACK_MS));
    let mut start_key: Option<String> = None;
    for page in 0..MAX_PAGES {
        let mut url = format!(
            "{}/messages/v4/list?to={to}&startDate={}&endDate={}&limit=100",
            base.trim_end_matches('/'),
            http::percent_encode(&start),
            http::percent_encode(&end)
        );
        if let Some(k) = &start_key {
            url.push_str(&format!("&startKey={}", http::percent_encode(k)));
        }
        let now_ms = clock::now_ms();
        // Every request needs a salt of its own: this one is derived from a different text
        // than the send's, so the two never collide.
        let authorization = auth::request_header(
            &api_key,
            &format!("find-sent/{page}/{}", msg.idempotency_key),
            now_ms,
        )?;
        let resp = http::send(Request::get(url).header("authorization", authorization))
            .map_err(SendError::from_http)?;
        if !resp.is_success() {
            let env: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            return Err(codes::http_error(
                resp.status,
                env.get("errorCode").and_then(Value::as_str),
                env.get("errorMessage").and_then(Value::as_str),
                resp.retry_after_ms(),
            ));
        }
        let list: Value = serde_json::from_slice(&resp.body).map_err(|e| {
            SendError::retryable(
                FailureReason::ProviderError,
                None,
                None,
                format!("unreadable message list: {e}"),
            )
        })?;
        if let Some(messages) = list.get("messageList").and_then(Value::as_object) {
            for (id, m) in messages {
                let ours = m
                    .get("customFields")
                    .and_then(|f| f.get(DELIVERY_FIELD))
                    .and_then(Value::as_str)
                    == Some(msg.idempotency_key.as_str());
                if ours {
                    let id = m
                        .get("messageId")
                        .and_then(Value::as_str)
                        .unwrap_or(id)
                        .to_string();
                    return Ok(FindOutcome::Found(Sent {
                        provider_message_id: id,
                    }));
                }
            }
        }
        match list.get("nextKey").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => start_key = Some(next.to_string()),
            _ => return Ok(FindOutcome::NotFound),
        }
    }
    Ok(FindOutcome::CannotAsk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_plugin_sdk::testing::MockHost;

    fn host(list: &'static str) -> MockHost {
        MockHost::new()
            .config("api_key", "NCSSANDBOX")
            .secret(auth::SECRET, "sandbox-secret")
            .on_http(move |r| {
                assert!(
                    r.url.starts_with(
                        "https://api.solapi.com/messages/v4/list?to=01012345678&startDate="
                    ),
                    "{}",
                    r.url
                );
                assert!(
                    r.headers.iter().any(|(k, v)| k == "authorization"
                        && v.starts_with("HMAC-SHA256 apiKey=NCSSANDBOX"))
                );
                Ok(Response::new(200, &[], list))
            })
    }

    fn message() -> Message {
        crate::tests::message("+821012345678")
    }

    fn window() -> AttemptWindow {
        AttemptWindow {
            started_ms: 1_796_613_309_000,
            finished_ms: 1_796_613_311_000,
        }
    }

    #[test]
    fn finds_the_send_by_the_delivery_id_in_its_custom_fields() {
        let _h = host(
            r#"{"startKey":null,"nextKey":null,"limit":100,"messageList":{
                "M4V1":{"messageId":"M4V1","to":"01012345678","customFields":{"sb_delivery_id":"dlv_other"}},
                "M4V2":{"messageId":"M4V2","to":"01012345678","customFields":{"sb_message_id":"msg_1","sb_delivery_id":"dlv_1"}}}}"#,
        )
        .install();
        let found = find_sent(&message(), window()).unwrap();
        assert!(
            matches!(&found, FindOutcome::Found(s) if s.provider_message_id == "M4V2"),
            "{found:?}"
        );
    }

    #[test]
    fn another_delivery_to_the_same_number_is_not_ours() {
        let _h = host(
            r#"{"startKey":null,"nextKey":null,"limit":100,"messageList":{
                "M4V1":{"messageId":"M4V1","to":"01012345678","customFields":{"sb_delivery_id":"dlv_other"}}}}"#,
        )
        .install();
        assert!(matches!(
            find_sent(&message(), window()).unwrap(),
            FindOutcome::NotFound
        ));
    }
}
