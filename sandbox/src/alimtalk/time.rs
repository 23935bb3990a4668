//! ISO 8601 UTC timestamps (`2024-05-01T12:34:56.789Z`) and Korea Standard Time, without a
//! date library.

const MS_PER_DAY: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;
/// KST is UTC+9 all year.
pub const KST_OFFSET_MS: u64 = 9 * HOUR_MS;

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

/// `(year, month, day, hour, minute, second)` of epoch milliseconds, in UTC.
fn fields(ms: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (y, m, d) = civil_from_days((ms / MS_PER_DAY) as i64);
    let rem = ms % MS_PER_DAY;
    (y, m, d, rem / HOUR_MS, rem / 60_000 % 60, rem / 1000 % 60)
}

pub fn format_iso(ms: u64) -> String {
    let (y, m, d, h, mi, s) = fields(ms);
    format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        ms % 1000
    )
}

/// `yyyyMMddHHmmss` in KST, the timestamp inside Solapi's message and group ids.
pub fn kst_compact(ms: u64) -> String {
    let (y, m, d, h, mi, s) = fields(ms + KST_OFFSET_MS);
    format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// The hour of the day in KST.
pub fn kst_hour(ms: u64) -> u64 {
    (ms + KST_OFFSET_MS) % MS_PER_DAY / HOUR_MS
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → epoch milliseconds.
pub fn parse_iso(s: &str) -> Option<u64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
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
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0u64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for i in 0..3 {
            millis = millis * 10 + rest[1..=n].get(i).map_or(0, |c| u64::from(c - b'0'));
        }
        rest = &rest[n + 1..];
    }
    let offset_ms: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let v =
                (i64::from(digits(&[*h1, *h2])?) * 60 + i64::from(digits(&[*m1, *m2])?)) * 60_000;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let ms = days_from_civil(i64::from(y), mo, d) * MS_PER_DAY as i64
        + i64::from(h) * HOUR_MS as i64
        + i64::from(mi) * 60_000
        + i64::from(se) * 1000
        + millis as i64
        - offset_ms;
    u64::try_from(ms).ok()
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
