//! When a failed delivery is tried again: immediately, then after 5 s, 5 min, 30 min, 2 h,
//! 5 h, 10 h and 10 h (the Standard Webhooks / Svix schedule), each delay stretched or
//! shrunk by up to 20 % so that an endpoint coming back up is not hit by every queued event
//! in the same second. After the last attempt the delivery has failed; it can be replayed.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `n + 1`, after attempt `n` (1-based) failed; `None` after the last.
pub const DELAYS_S: [u64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// How many attempts a delivery gets.
pub const ATTEMPTS: u32 = DELAYS_S.len() as u32 + 1;

/// The delay after failed attempt `attempt` (1-based), without jitter.
pub fn base_delay(attempt: u32) -> Option<Duration> {
    DELAYS_S
        .get(attempt.checked_sub(1)? as usize)
        .map(|s| Duration::from_secs(*s))
}

/// The delay after failed attempt `attempt`, with ±20 % jitter.
pub fn delay(attempt: u32) -> Option<Duration> {
    let base = base_delay(attempt)?;
    let factor = rand::rng().random_range(0.8..=1.2);
    Some(base.mul_f64(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_within_the_jitter() {
        assert_eq!(ATTEMPTS, 8);
        let expected = [5u64, 300, 1800, 7200, 18000, 36000, 36000];
        for (i, s) in expected.iter().enumerate() {
            let d = delay(i as u32 + 1).unwrap().as_secs_f64();
            assert!(d >= *s as f64 * 0.8 && d <= *s as f64 * 1.2, "{i}: {d}");
        }
        assert_eq!(delay(8), None);
        assert_eq!(delay(0), None);
    }
}
