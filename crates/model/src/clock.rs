//! The gateway's clock: the wall clock plus an offset that only sandbox mode can move.
//!
//! Business time (the Messenger window, "inactive for 24 h", receipt freshness, plugin
//! `clock.now-ms`, cache expiry) must be testable without waiting a day, so tests move it
//! with `PUT /v1/sandbox/clock`. Everything the store timestamps uses the same clock, so
//! relative order never breaks. Moving it backwards is refused: leases and retry times are
//! absolute, and a clock going back would stall them.

use std::sync::atomic::{AtomicI64, Ordering};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Milliseconds since the Unix epoch, by the gateway's clock.
pub fn now_ms() -> i64 {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    wall.saturating_add(OFFSET_MS.load(Ordering::Relaxed))
}

pub fn offset_ms() -> i64 {
    OFFSET_MS.load(Ordering::Relaxed)
}

/// Sets the offset from the wall clock. Only ever moves forward; returns the offset in force.
pub fn advance_to_offset(offset: i64) -> i64 {
    OFFSET_MS.fetch_max(offset, Ordering::Relaxed).max(offset)
}
