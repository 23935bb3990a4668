//! ISO 8601 UTC timestamps without a date library: milliseconds since the epoch to and from
//! the `2024-05-01T12:34:56.789Z` form Solapi signs and reports.
//!
//! The AlimTalk plugin (wasm32-wasip2) and the AlimTalk simulator (native) must write and
//! read these byte for byte alike, or signatures over the date stop matching; one copy keeps
//! them from drifting apart.

const MS_PER_DAY: u64 = 86_400_000;
const MS_PER_HOUR: u64 = 3_600_000;

/// A UTC instant broken into calendar fields (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millisecond: u32,
}

/// The calendar fields of `ms` milliseconds since the epoch. A time zone with a fixed offset
/// (KST is UTC+9 all year) is `civil(ms + offset)`.
pub fn civil(ms: u64) -> Civil {
    let (year, month, day) = civil_from_days((ms / MS_PER_DAY) as i64);
    let rem = ms % MS_PER_DAY;
    Civil {
        year,
        month,
        day,
        hour: (rem / MS_PER_HOUR) as u32,
        minute: (rem / 60_000 % 60) as u32,
        second: (rem / 1000 % 60) as u32,
        millisecond: (rem % 1000) as u32,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An RFC 2822 date as Twilio writes `date_created` (`Mon, 07 Dec 2026 03:15:09 +0000`), in
/// milliseconds since the epoch; the day name is optional and any numeric offset applies.
pub fn parse_rfc2822(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest.trim(),
        None => s,
    };
    let mut parts = s.split_ascii_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second: i64 = hms.next().unwrap_or("0").parse().ok()?;
    let zone = parts.next().unwrap_or("+0000");
    if parts.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let offset_min: i64 = match zone {
        "GMT" | "UT" | "UTC" | "Z" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let h: i64 = z[1..3].parse().ok()?;
            let m: i64 = z[3..5].parse().ok()?;
            let v = h * 60 + m;
            if z.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, as JavaScript's `toISOString` (and Solapi's SDKs) write it.
pub fn format_iso(ms: u64) -> String {
    let Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
        millisecond,
    } = civil(ms);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millisecond:03}Z")
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|±HH:MM)` into epoch milliseconds. The
/// space separator is RFC 3339's allowance for readability; reports may use it.
pub fn parse_iso(s: &str) -> Option<u64> {
    parse_iso_signed(s).and_then(|ms| u64::try_from(ms).ok())
}

/// [`parse_iso`] for any year from 0000 to 9999: milliseconds before the epoch are
/// negative. An API that takes a time range takes any RFC 3339 time, not only those after
/// 1970.
pub fn parse_iso_signed(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, se) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=days_in_month(y, mo)).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0u64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &rest[1..=n];
        // Only the first three digits matter; pad shorter fractions to milliseconds.
        for i in 0..3 {
            millis = millis * 10 + frac.get(i).map_or(0, |c| u64::from(c - b'0'));
        }
        rest = &rest[n + 1..];
    }
    let offset_ms: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let oh = i64::from(digits(&[*oh1, *oh2])?);
            let om = i64::from(digits(&[*om1, *om2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let v = (oh * 60 + om) * 60_000;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let ms = days_from_civil(i64::from(y), mo, d) * MS_PER_DAY as i64
        + i64::from(h) * MS_PER_HOUR as i64
        + i64::from(mi) * 60_000
        + i64::from(se) * 1000
        + millis as i64
        - offset_ms;
    Some(ms)
}

/// Days in `month` of `year` (proleptic Gregorian).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_twilios_rfc2822_dates() {
        let iso = parse_iso("2026-12-07T03:15:09.000Z").unwrap();
        assert_eq!(parse_rfc2822("Mon, 07 Dec 2026 03:15:09 +0000"), Some(iso));
        assert_eq!(parse_rfc2822("07 Dec 2026 03:15:09 GMT"), Some(iso));
        assert_eq!(parse_rfc2822("Mon, 07 Dec 2026 12:15:09 +0900"), Some(iso));
        assert_eq!(parse_rfc2822("Sun, 06 Dec 2026 22:15:09 -0500"), Some(iso));
        for bad in [
            "",
            "Mon, 07 Foo 2026 03:15:09 +0000",
            "07 Dec 2026",
            "07 Dec 2026 25:00:00 +0000",
            "07 Dec 2026 03:15:09 +0000 x",
        ] {
            assert_eq!(parse_rfc2822(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(format_iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_iso("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_iso("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_iso("2023-11-14 22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            parse_iso("2023-11-15T07:13:20+09:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_iso("2024-02-29T00:00:00.5Z"), Some(1_709_164_800_500));
        for ms in [0, 951_782_400_000, 1_709_164_800_000, 4_102_444_800_999] {
            assert_eq!(parse_iso(&format_iso(ms)), Some(ms));
        }
        for bad in [
            "",
            "2023-11-14",
            "2023-13-14T00:00:00Z",
            "2023-11-14T22:13:20",
            "x023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_fields_and_a_fixed_offset() {
        assert_eq!(
            civil(1_700_000_000_123),
            Civil {
                year: 2023,
                month: 11,
                day: 14,
                hour: 22,
                minute: 13,
                second: 20,
                millisecond: 123,
            }
        );
        // 22:13:20 UTC is 07:13:20 KST on the next day.
        let kst = civil(1_700_000_000_000 + 9 * MS_PER_HOUR);
        assert_eq!((kst.day, kst.hour), (15, 7));
        // Leap day, and the day after the last day of a leap February.
        assert_eq!(civil(1_709_164_800_000).day, 29);
        assert_eq!(civil(1_709_251_200_000).month, 3);
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    #[test]
    fn impossible_days_and_offsets_are_refused() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+01:60",
        ] {
            assert_eq!(parse_iso_signed(bad), None, "{bad}");
        }
        assert!(parse_iso_signed("2024-02-29T00:00:00Z").is_some());
        assert!(parse_iso_signed("2000-02-29T00:00:00Z").is_some());
        assert_eq!(parse_iso_signed("1900-02-29T00:00:00Z"), None);
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        assert_eq!(parse_iso_signed("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(parse_iso("1969-12-31T23:59:59Z"), None);
        assert_eq!(
            parse_iso_signed("0001-01-01T00:00:00Z"),
            Some(-62_135_596_800_000)
        );
    }
}
