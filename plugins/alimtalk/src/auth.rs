//! Solapi's `Authorization: HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…` scheme.
//!
//! The signature is lowercase hex HMAC-SHA256 of `date + salt`, keyed by the API secret; the
//! host computes it, so the secret never enters the plugin. Webhooks from our sandbox provider
//! use the same header but sign `date + salt + raw body` (see [`crate::webhook`]).
//!
//! # The salt
//!
//! Solapi wants a random salt per request and refuses a `(date, salt)` pair it has seen
//! (`DuplicatedSignature`), so a captured header cannot be replayed. Plugins have no RNG, so
//! the salt is derived: the first 16 bytes (32 hex digits) of HMAC-SHA256 over the delivery's
//! idempotency key and the current time in milliseconds, keyed by the API secret. Every attempt
//! of a delivery is made at a different millisecond, so its salt differs; two deliveries at the
//! same millisecond differ by key; and without the secret nobody can predict a salt. Should an
//! attempt ever repeat a millisecond, the provider answers DuplicatedSignature, which maps to a
//! retryable error, and the retry happens at a later millisecond.

use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::secrets::HmacAlgorithm;

/// The secret that signs requests (and, for the sandbox provider, webhooks).
pub const SECRET: &str = "api_secret";
pub const SCHEME: &str = "HMAC-SHA256";

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

fn hmac_error(e: String) -> SendError {
    SendError::permanent(
        FailureReason::PermissionDenied,
        None,
        format!("cannot sign with `{SECRET}`: {e}"),
    )
}

/// The per-attempt salt (see the module docs for why it is derived this way).
pub fn salt(idempotency_key: &str, now_ms: u64) -> Result<String, SendError> {
    let data = format!("switchboard-alimtalk-salt\n{idempotency_key}\n{now_ms}");
    let mac = secrets::hmac(HmacAlgorithm::Sha256, SECRET, data.as_bytes()).map_err(hmac_error)?;
    Ok(to_hex(&mac[..16.min(mac.len())]))
}

/// The complete `Authorization` value for a request made at `now_ms`.
pub fn request_header(
    api_key: &str,
    idempotency_key: &str,
    now_ms: u64,
) -> Result<String, SendError> {
    let date = switchboard_iso_time::format_iso(now_ms);
    let salt = salt(idempotency_key, now_ms)?;
    let mac = secrets::hmac(
        HmacAlgorithm::Sha256,
        SECRET,
        format!("{date}{salt}").as_bytes(),
    )
    .map_err(hmac_error)?;
    Ok(format!(
        "{SCHEME} apiKey={api_key}, date={date}, salt={salt}, signature={}",
        to_hex(&mac)
    ))
}

/// The parts of an `Authorization: HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub api_key: String,
    pub date: String,
    pub salt: String,
    pub signature: String,
}

/// Parses the header; parameter order is free and names compare case-insensitively.
pub fn parse(value: &str) -> Option<AuthHeader> {
    let (scheme, params) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let (mut api_key, mut date, mut salt, mut signature) = (None, None, None, None);
    for part in params.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let slot = match k.trim().to_ascii_lowercase().as_str() {
            "apikey" => &mut api_key,
            "date" => &mut date,
            "salt" => &mut salt,
            "signature" => &mut signature,
            _ => continue,
        };
        *slot = Some(v.trim().to_string());
    }
    Some(AuthHeader {
        api_key: api_key?,
        date: date?,
        salt: salt?,
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use switchboard_plugin_sdk::testing::MockHost;

    fn hmac_hex(key: &str, data: &str) -> String {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        m.update(data.as_bytes());
        to_hex(&m.finalize().into_bytes())
    }

    #[test]
    fn header_is_solapi_shaped_and_signed_over_date_and_salt() {
        let _h = MockHost::new().secret(SECRET, "s3cret").install();
        let value = request_header("NCSKEY", "dlv_1", 1_700_000_000_123).unwrap();
        let parsed = parse(&value).unwrap();
        assert!(
            value.starts_with("HMAC-SHA256 apiKey=NCSKEY, date=2023-11-14T22:13:20.123Z, salt=")
        );
        assert_eq!(parsed.api_key, "NCSKEY");
        assert_eq!(parsed.date, "2023-11-14T22:13:20.123Z");
        assert_eq!(parsed.salt.len(), 32);
        assert!(
            parsed
                .salt
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            parsed.signature,
            hmac_hex("s3cret", &format!("{}{}", parsed.date, parsed.salt))
        );
    }

    #[test]
    fn salt_differs_per_attempt_and_per_delivery() {
        let _h = MockHost::new().secret(SECRET, "s3cret").install();
        let a = salt("dlv_1", 1000).unwrap();
        assert_eq!(a, salt("dlv_1", 1000).unwrap());
        assert_ne!(a, salt("dlv_1", 1001).unwrap());
        assert_ne!(a, salt("dlv_2", 1000).unwrap());
    }

    #[test]
    fn missing_secret_is_a_configuration_error() {
        let _h = MockHost::new().install();
        let e = request_header("NCSKEY", "dlv_1", 0).unwrap_err();
        assert_eq!(
            (e.reason, e.retryable),
            (FailureReason::PermissionDenied, false)
        );
    }

    #[test]
    fn parse_rejects_other_schemes_and_missing_parts() {
        assert!(parse("Bearer x").is_none());
        assert!(parse("HMAC-SHA256 apiKey=a, date=b, salt=c").is_none());
        let p = parse("hmac-sha256 signature=d,salt=c, DATE=b, apikey=a").unwrap();
        assert_eq!((p.api_key.as_str(), p.signature.as_str()), ("a", "d"));
        assert_eq!(from_hex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
    }
}
