//! When to try again: exponential backoff with full jitter, never sooner than the provider
//! asked (Retry-After, up to a cap), and a bounded number of attempts.

use std::time::Duration;

use rand::Rng;

use crate::model::FailureReason;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    /// The longest a provider's Retry-After may hold a message back (`--max-retry-after-s`):
    /// a `Retry-After: 86400` from a confused or hostile endpoint would otherwise park it
    /// for a day.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 5,
            // Above every documented provider back-off (FCM's QUOTA_EXCEEDED asks for at
            // least 60 s), below anything a sender would call "delivered today".
            max_retry_after: Duration::from_secs(900),
        }
    }
}

impl RetryPolicy {
    /// The wait a failure asks for, capped by [`RetryPolicy::max_retry_after`]. AlimTalk's
    /// `outside_hours` is not capped: its wait is the provider's sending window (until
    /// 08:00 KST), and retrying inside the night would only spend the attempts.
    pub fn asked_wait(
        &self,
        reason: FailureReason,
        retry_after_ms: Option<u64>,
    ) -> Option<Duration> {
        let asked = Duration::from_millis(retry_after_ms?);
        Some(if reason == FailureReason::OutsideHours {
            asked
        } else {
            asked.min(self.max_retry_after)
        })
    }

    /// The wait after failed attempt number `attempt` (1-based), or `None` when that was the
    /// last one allowed. Full jitter: uniformly random in `[0, min(cap, base * 2^(attempt-1))]`,
    /// which spreads a burst of failures instead of retrying them in lockstep.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = self
            .base
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.cap);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=exp.as_millis() as u64));
        Some(match retry_after {
            Some(hint) => jittered.max(hint),
            None => jittered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_jittered_and_honours_retry_after() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            max_attempts: 5,
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            assert!(p.next_delay(1, None).unwrap() <= Duration::from_millis(100));
            assert!(p.next_delay(3, None).unwrap() <= Duration::from_millis(400));
            assert!(p.next_delay(4, None).unwrap() <= Duration::from_millis(800));
            assert!(
                p.next_delay(2, Some(Duration::from_secs(2))).unwrap() >= Duration::from_secs(2)
            );
        }
        assert_eq!(
            p.next_delay(5, None),
            None,
            "the fifth attempt was the last"
        );
        let huge = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 100,
            ..RetryPolicy::default()
        };
        assert!(huge.next_delay(60, None).unwrap() <= Duration::from_secs(300));
    }

    #[test]
    fn a_providers_wait_is_capped_except_the_sending_window() {
        let p = RetryPolicy {
            max_retry_after: Duration::from_secs(900),
            ..RetryPolicy::default()
        };
        let day = Some(86_400_000);
        assert_eq!(
            p.asked_wait(FailureReason::RateLimited, day),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            p.asked_wait(FailureReason::RateLimited, Some(2000)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.asked_wait(FailureReason::OutsideHours, Some(36_000_000)),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(p.asked_wait(FailureReason::Timeout, None), None);
    }
}
