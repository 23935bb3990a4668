//! Korea Standard Time for the simulator's ids and sending hours, on top of the ISO 8601
//! timestamps it shares with the AlimTalk plugin (re-exported here for the tests that sign
//! requests with the simulator's clock).

use switchboard_iso_time::{Civil, civil};
pub use switchboard_iso_time::{format_iso, parse_iso};

const HOUR_MS: u64 = 3_600_000;
const MS_PER_DAY: u64 = 24 * HOUR_MS;
/// KST is UTC+9 all year.
pub const KST_OFFSET_MS: u64 = 9 * HOUR_MS;

/// `yyyyMMddHHmmss` in KST, the timestamp inside Solapi's message and group ids.
pub fn kst_compact(ms: u64) -> String {
    let Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
        ..
    } = civil(ms + KST_OFFSET_MS);
    format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}")
}

/// The hour of the day in KST.
pub fn kst_hour(ms: u64) -> u64 {
    (ms + KST_OFFSET_MS) % MS_PER_DAY / HOUR_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_iso("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_iso("2023-11-15T07:13:20+09:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_iso("2023-11-14T22:13:20"), None);
        assert_eq!(kst_compact(1_700_000_000_000), "20231115071320");
        assert_eq!(kst_hour(1_700_000_000_000), 7);
    }
}
