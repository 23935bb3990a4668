//! The simulators' clock: the wall clock plus an offset tests control.
//!
//! Time-dependent provider behaviour (Messenger's 24-hour window seen in webhook timestamps,
//! AlimTalk's sending hours, JWT `iat`/`exp` checks, signed-event timestamps) must be testable
//! without waiting for hours. `PUT /_sandbox/clock {"offset_ms": N}` moves every simulator's
//! notion of "now" by N milliseconds; the gateway's `serve --sandbox` clock endpoint moves its
//! own clock and this one together, so both sides agree on the time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct SimClock {
    offset_ms: AtomicI64,
}

impl SimClock {
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn set_offset_ms(&self, offset: i64) {
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// "Now" as the simulated providers see it.
    pub fn now(&self) -> SystemTime {
        let offset = self.offset_ms();
        let magnitude = Duration::from_millis(offset.unsigned_abs());
        if offset >= 0 {
            SystemTime::now() + magnitude
        } else {
            SystemTime::now()
                .checked_sub(magnitude)
                .unwrap_or(UNIX_EPOCH)
        }
    }

    /// Milliseconds since the Unix epoch, by [`SimClock::now`].
    pub fn now_ms(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// Seconds since the Unix epoch, by [`SimClock::now`].
    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_moves_now_both_ways() {
        let clock = SimClock::default();
        let base = clock.now_ms();
        clock.set_offset_ms(86_400_000);
        assert!(clock.now_ms() >= base + 86_400_000);
        clock.set_offset_ms(-86_400_000);
        assert!(clock.now_ms() < base);
    }
}
