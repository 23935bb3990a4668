//! The Messenger messaging window, decided before any request so a message Graph would refuse
//! with 10/2018278 never costs an API call.
//!
//! - Within 24 h (inclusive) of the contact's last inbound activity on the page, anything
//!   goes; the default messaging type is RESPONSE.
//! - Later, the message must be MESSAGE_TAG with a tag from the connection's `allowed_tags`:
//!   HUMAN_AGENT up to 7 days (inclusive) after the last inbound activity, other allowed tags
//!   without limit.
//! - A contact that never wrote (`last_inbound_ms` None) is outside every window.

use switchboard_plugin_sdk::prelude::*;

use crate::validate::Options;

pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
pub const STANDARD_WINDOW_MS: u64 = DAY_MS;
pub const HUMAN_AGENT_WINDOW_MS: u64 = 7 * DAY_MS;

/// What `send` puts on the wire: `messaging_type` and `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub messaging_type: String,
    pub tag: Option<String>,
}

fn closed(detail: String) -> SendError {
    SendError::permanent(FailureReason::WindowClosed, None, detail)
}

pub fn decide(
    opts: &Options,
    last_inbound_ms: Option<u64>,
    now_ms: u64,
    allowed_tags: &[String],
) -> Result<Decision, SendError> {
    let messaging_type = opts.effective_type().to_string();
    let tag = opts.tag.clone();
    let tag_allowed = tag
        .as_deref()
        .is_some_and(|t| allowed_tags.iter().any(|a| a == t));
    // A last activity in the future (clock skew) counts as just now.
    let elapsed = last_inbound_ms.map(|t| now_ms.saturating_sub(t));
    if elapsed.is_some_and(|e| e <= STANDARD_WINDOW_MS) {
        if tag.is_some() && !tag_allowed {
            return Err(SendError::permanent(
                FailureReason::PermissionDenied,
                None,
                format!(
                    "tag {} is not in this connection's allowed_tags ({})",
                    tag.unwrap_or_default(),
                    allowed_tags.join(",")
                ),
            ));
        }
        return Ok(Decision {
            messaging_type,
            tag,
        });
    }
    let since = match elapsed {
        Some(e) => format!("the contact last wrote {} min ago", e / 60_000),
        None => "the contact never wrote to this page".to_string(),
    };
    let Some(t) = tag.as_deref().filter(|_| messaging_type == "MESSAGE_TAG") else {
        return Err(closed(format!(
            "outside the 24 h messaging window ({since}); only MESSAGE_TAG messages with an allowed tag may be sent"
        )));
    };
    if !tag_allowed {
        return Err(closed(format!(
            "outside the 24 h messaging window ({since}) and tag {t} is not in allowed_tags ({})",
            allowed_tags.join(",")
        )));
    }
    if t == "HUMAN_AGENT" && elapsed.is_none_or(|e| e > HUMAN_AGENT_WINDOW_MS) {
        return Err(closed(format!(
            "HUMAN_AGENT is limited to 7 days after the contact's last message ({since})"
        )));
    }
    Ok(Decision {
        messaging_type,
        tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const MIN: u64 = 60_000;

    fn opts(t: Option<&str>, tag: Option<&str>) -> Options {
        Options {
            messaging_type: t.map(str::to_string),
            tag: tag.map(str::to_string),
        }
    }

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    fn reason(r: Result<Decision, SendError>) -> Option<(FailureReason, bool)> {
        r.err().map(|e| (e.reason, e.retryable))
    }

    #[test]
    fn inside_24h_anything_goes_and_defaults_to_response() {
        let human = tags(&["HUMAN_AGENT"]);
        let d = decide(&opts(None, None), Some(NOW - (DAY_MS - MIN)), NOW, &human).unwrap();
        assert_eq!(
            d,
            Decision {
                messaging_type: "RESPONSE".into(),
                tag: None
            }
        );
        // Exactly 24 h is still inside.
        assert!(decide(&opts(None, None), Some(NOW - DAY_MS), NOW, &human).is_ok());
        let d = decide(&opts(Some("UPDATE"), None), Some(NOW - MIN), NOW, &human).unwrap();
        assert_eq!(d.messaging_type, "UPDATE");
        // Future activity (skew) counts as now.
        assert!(decide(&opts(None, None), Some(NOW + MIN), NOW, &human).is_ok());
    }

    #[test]
    fn after_24h_needs_an_allowed_tag() {
        let human = tags(&["HUMAN_AGENT"]);
        let late = Some(NOW - (DAY_MS + MIN));
        let closed = Some((FailureReason::WindowClosed, false));
        assert_eq!(reason(decide(&opts(None, None), late, NOW, &human)), closed);
        assert_eq!(
            reason(decide(&opts(Some("UPDATE"), None), late, NOW, &human)),
            closed
        );
        let d = decide(
            &opts(Some("MESSAGE_TAG"), Some("HUMAN_AGENT")),
            late,
            NOW,
            &human,
        )
        .unwrap();
        assert_eq!(
            d,
            Decision {
                messaging_type: "MESSAGE_TAG".into(),
                tag: Some("HUMAN_AGENT".into())
            }
        );
        // A tag not configured for the connection does not open the window.
        assert_eq!(
            reason(decide(
                &opts(Some("MESSAGE_TAG"), Some("ACCOUNT_UPDATE")),
                late,
                NOW,
                &human
            )),
            closed
        );
        assert_eq!(reason(decide(&opts(None, None), None, NOW, &human)), closed);
    }

    #[test]
    fn human_agent_ends_after_7_days_other_tags_do_not() {
        let both = tags(&["HUMAN_AGENT", "ACCOUNT_UPDATE"]);
        let ha = opts(Some("MESSAGE_TAG"), Some("HUMAN_AGENT"));
        assert!(decide(&ha, Some(NOW - HUMAN_AGENT_WINDOW_MS), NOW, &both).is_ok());
        assert_eq!(
            reason(decide(
                &ha,
                Some(NOW - HUMAN_AGENT_WINDOW_MS - MIN),
                NOW,
                &both
            )),
            Some((FailureReason::WindowClosed, false))
        );
        assert_eq!(
            reason(decide(&ha, None, NOW, &both)),
            Some((FailureReason::WindowClosed, false))
        );
        let account = opts(Some("MESSAGE_TAG"), Some("ACCOUNT_UPDATE"));
        assert!(decide(&account, Some(NOW - 30 * DAY_MS), NOW, &both).is_ok());
        assert!(decide(&account, None, NOW, &both).is_ok());
    }

    #[test]
    fn unconfigured_tag_inside_the_window_is_a_permission_problem() {
        let human = tags(&["HUMAN_AGENT"]);
        let r = decide(
            &opts(Some("MESSAGE_TAG"), Some("ACCOUNT_UPDATE")),
            Some(NOW - MIN),
            NOW,
            &human,
        );
        assert_eq!(reason(r), Some((FailureReason::PermissionDenied, false)));
    }
}
