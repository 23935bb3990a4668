//! JSON numbers written with a fraction or an exponent that are whole (`5.0`, `1e3`) are
//! rewritten as integers before a body is parsed.
//!
//! Why: JSON Schema, and so the API document, counts `5.0` as an integer, and clients that
//! hold every number as a double (JavaScript, many generated clients) send it that way. serde
//! refuses `5.0` for a `u32`. The rewrite works on the literal text, digit by digit, never
//! through a float, so `0.1e1` becomes `1` while `9007199254740993.0` stays exact and
//! `1.5` is left for the parser to refuse: an amount of money is never rounded.

use std::borrow::Cow;

/// Longest integer the rewrite produces: past `u64`, the parser refuses it anyway.
const MAX_DIGITS: usize = 40;

/// `body` with every whole number written as an integer; borrowed when none needed it.
pub fn integral_numbers(body: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    let mut in_string = false;
    while i < body.len() {
        let b = body[i];
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < body.len()
                && matches!(body[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            {
                i += 1;
            }
            let token = &body[start..i];
            if token.iter().any(|c| matches!(c, b'.' | b'e' | b'E'))
                && let Some(integer) = whole(token)
            {
                let buf = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
                buf.extend_from_slice(&body[copied..start]);
                buf.extend_from_slice(integer.as_bytes());
                copied = i;
            }
            continue;
        }
        i += 1;
    }
    match out {
        Some(mut buf) => {
            buf.extend_from_slice(&body[copied..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(body),
    }
}

/// The integer a number token denotes, if it is whole and well formed.
fn whole(token: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(token).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty()
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || (mantissa.contains('.') && frac.is_empty())
        || (int.len() > 1 && int.starts_with('0'))
        || exponent.unsigned_abs() as usize > MAX_DIGITS
    {
        return None;
    }
    let digits: String = [int, frac].concat();
    let point = int.len() as i64 + i64::from(exponent);
    let integer = if point >= digits.len() as i64 {
        let zeros = (point - digits.len() as i64) as usize;
        format!("{digits}{}", "0".repeat(zeros))
    } else {
        let point = point.max(0) as usize;
        if !digits[point..].bytes().all(|c| c == b'0') {
            return None;
        }
        digits[..point].to_string()
    };
    let integer = integer.trim_start_matches('0');
    if integer.len() > MAX_DIGITS {
        return None;
    }
    Some(match (integer.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{integer}"),
        (false, false) => integer.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(s: &str) -> String {
        String::from_utf8(integral_numbers(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn whole_numbers_become_integers_and_nothing_else_changes() {
        for (given, want) in [
            (r#"{"limit": 1856.0}"#, r#"{"limit": 1856}"#),
            (
                r#"[1e3, 1.5e1, 0.1e1, -2.00, 0.0, -0e5]"#,
                r#"[1000, 15, 1, -2, 0, 0]"#,
            ),
            (
                r#"{"micros": 9007199254740993.0}"#,
                r#"{"micros": 9007199254740993}"#,
            ),
            (
                r#"[1.5, 1e-1, 2.50e0, 7, -3]"#,
                r#"[1.5, 1e-1, 2.50e0, 7, -3]"#,
            ),
            (
                r#"{"text": "1.0 and \"2.0\"", "n": 3.0}"#,
                r#"{"text": "1.0 and \"2.0\"", "n": 3}"#,
            ),
            (r#"[1e999, 01.0, 1., -]"#, r#"[1e999, 01.0, 1., -]"#),
        ] {
            assert_eq!(rewrite(given), want, "{given}");
        }
    }

    #[test]
    fn a_body_without_whole_floats_is_borrowed() {
        let body = br#"{"a": 1, "b": "2.0", "c": 2.5}"#;
        assert!(matches!(integral_numbers(body), Cow::Borrowed(_)));
    }
}
