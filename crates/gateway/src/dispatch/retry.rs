//! When to try again: exponential backoff with full jitter, never sooner than the provider
//! asked (Retry-After), and a bounded number of attempts.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
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
        };
        assert!(huge.next_delay(60, None).unwrap() <= Duration::from_secs(300));
    }
}
