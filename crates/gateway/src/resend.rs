//! Resend rules: when a failed message may be sent again, decided per failure reason.
//!
//! | reason | resend |
//! |---|---|
//! | `invalid_format`, `recipient_invalid`, `opted_out`, `blocked`, `file_too_large`, `content_rejected` | never: the same message fails the same way |
//! | `url_blocked` | once none of its URLs is on the connection's block list |
//! | `window_closed` | once the contact has interacted again after the failure |
//! | `token_expired` | once the connection has been reconnected after the failure |
//! | `outside_hours` | from the next 08:00 KST |
//! | anything else | now |
//!
//! A message is resent once: the resend is a new message (`resend_of` points back), and the
//! original then reports `already_resent`.
//!
//! The rules are a pure function of [`ResendFacts`] so they are tested without a database;
//! the store gathers the facts in the same read that builds the message view.

use crate::model::{FailureReason, Millis, ResendView, ResendWhen, rfc3339};

pub use crate::model::ResendFacts;

const KST_OFFSET_MS: Millis = 9 * 3_600_000;
const DAY_MS: Millis = 86_400_000;

/// The first 08:00 in Korea (UTC+9, no daylight saving) strictly after `t`.
pub fn next_kst_morning(t: Millis) -> Millis {
    let local = t + KST_OFFSET_MS;
    let day_start = local.div_euclid(DAY_MS) * DAY_MS;
    let mut eight = day_start + 8 * 3_600_000;
    if eight <= local {
        eight += DAY_MS;
    }
    eight - KST_OFFSET_MS
}

pub fn verdict(reason: FailureReason, facts: &ResendFacts, now: Millis) -> ResendView {
    use FailureReason::*;
    if let Some(id) = &facts.resent_as {
        return view(
            false,
            ResendWhen::AlreadyResent,
            None,
            format!("already resent as {id}"),
        );
    }
    let failed_at = facts.failed_at.unwrap_or(0);
    match reason {
        InvalidFormat | RecipientInvalid | OptedOut | Blocked | FileTooLarge | ContentRejected => {
            view(
                false,
                ResendWhen::Never,
                None,
                format!(
                    "{} fails the same way every time; fix the message or the recipient and send a new one",
                    reason.as_str()
                ),
            )
        }
        UrlBlocked => {
            if facts.blocked_urls.is_empty() {
                view(
                    true,
                    ResendWhen::AfterUrlUnblocked,
                    None,
                    "no URL of this message is blocked any more".into(),
                )
            } else {
                view(
                    false,
                    ResendWhen::AfterUrlUnblocked,
                    None,
                    format!(
                        "blocked on this connection: {}; remove them from the block list first",
                        facts.blocked_urls.join(", ")
                    ),
                )
            }
        }
        WindowClosed => match facts.last_inbound_at {
            Some(at) if at > failed_at => view(
                true,
                ResendWhen::AfterUserInteraction,
                None,
                format!("the contact wrote again at {}", rfc3339(at)),
            ),
            _ => view(
                false,
                ResendWhen::AfterUserInteraction,
                None,
                "the messaging window is closed until the contact writes again".into(),
            ),
        },
        TokenExpired => match facts.reconnected_at {
            Some(at) if facts.connection_active && at > failed_at => view(
                true,
                ResendWhen::AfterReconnect,
                None,
                format!("the connection was reconnected at {}", rfc3339(at)),
            ),
            _ => view(
                false,
                ResendWhen::AfterReconnect,
                None,
                "the connection's credentials were revoked; reconnect it first".into(),
            ),
        },
        OutsideHours => {
            let from = next_kst_morning(failed_at);
            view(
                now >= from,
                ResendWhen::AfterTime,
                Some(rfc3339(from)),
                "AlimTalk delivers between 08:00 and 20:00 KST".into(),
            )
        }
        OutcomeUnknown => view(
            true,
            ResendWhen::Now,
            None,
            "the provider may already have it (its answer was lost and it cannot be asked): a resend may arrive as a second message".into(),
        ),
        _ => view(
            true,
            ResendWhen::Now,
            None,
            "a new attempt may succeed".into(),
        ),
    }
}

fn view(allowed: bool, when: ResendWhen, not_before: Option<String>, detail: String) -> ResendView {
    ResendView {
        allowed,
        when,
        not_before,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;

    #[test]
    fn permanent_reasons_are_never_resendable() {
        for r in [
            FailureReason::InvalidFormat,
            FailureReason::RecipientInvalid,
            FailureReason::OptedOut,
        ] {
            let v = verdict(r, &ResendFacts::default(), 0);
            assert!(!v.allowed);
            assert_eq!(v.when, ResendWhen::Never);
        }
    }

    #[test]
    fn window_closed_needs_an_interaction_after_the_failure() {
        let mut f = ResendFacts {
            failed_at: Some(10 * H),
            last_inbound_at: Some(9 * H),
            ..Default::default()
        };
        assert!(!verdict(FailureReason::WindowClosed, &f, 11 * H).allowed);
        f.last_inbound_at = Some(10 * H + 1);
        assert!(verdict(FailureReason::WindowClosed, &f, 11 * H).allowed);
    }

    #[test]
    fn token_expired_needs_a_reconnect_after_the_failure() {
        let mut f = ResendFacts {
            failed_at: Some(10 * H),
            connection_active: false,
            ..Default::default()
        };
        assert!(!verdict(FailureReason::TokenExpired, &f, 11 * H).allowed);
        f.connection_active = true;
        f.reconnected_at = Some(9 * H);
        assert!(!verdict(FailureReason::TokenExpired, &f, 11 * H).allowed);
        f.reconnected_at = Some(11 * H);
        assert!(verdict(FailureReason::TokenExpired, &f, 11 * H).allowed);
    }

    #[test]
    fn url_blocked_waits_for_the_block_list() {
        let mut f = ResendFacts {
            blocked_urls: vec!["https://x.test/a".into()],
            ..Default::default()
        };
        assert!(!verdict(FailureReason::UrlBlocked, &f, 0).allowed);
        f.blocked_urls.clear();
        assert!(verdict(FailureReason::UrlBlocked, &f, 0).allowed);
    }

    #[test]
    fn a_message_is_resent_once() {
        let f = ResendFacts {
            resent_as: Some("msg_2".into()),
            ..Default::default()
        };
        let v = verdict(FailureReason::RateLimited, &f, 0);
        assert_eq!((v.allowed, v.when), (false, ResendWhen::AlreadyResent));
    }

    #[test]
    fn kst_mornings() {
        // 2026-11-21 21:00 KST = 12:00 UTC; next 08:00 KST is 2026-11-21 23:00 UTC.
        let t = 1_795_262_400_000; // 2026-11-21T12:00:00Z
        assert_eq!(next_kst_morning(t), t + 11 * H);
        // 07:59 KST -> 08:00 the same day.
        let early = t + 11 * H - 60_000;
        assert_eq!(next_kst_morning(early), t + 11 * H);
    }
}
