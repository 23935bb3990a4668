//! Solapi's request authentication, `Authorization: HMAC-SHA256 apiKey=…, date=…, salt=…,
//! signature=…` with `signature = hex(HMAC-SHA256(secret, date + salt))`, and the same header
//! on the simulator's delivery reports, whose signature also covers the raw body.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::time;

/// How far a request's date may be from the simulator's clock before Solapi refuses it.
pub const MAX_SKEW_MS: u64 = 15 * 60 * 1000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// The complete `Authorization` value: `HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…`.
/// With `body`, the signature covers `date + salt + body` (the sandbox's delivery reports);
/// without, `date + salt` (Solapi's request auth).
pub fn alimtalk_auth_header(
    api_key: &str,
    secret: &str,
    date: &str,
    salt: &str,
    body: Option<&[u8]>,
) -> String {
    let mut m = mac(secret);
    m.update(date.as_bytes());
    m.update(salt.as_bytes());
    if let Some(body) = body {
        m.update(body);
    }
    let signature = hex(&m.finalize().into_bytes());
    format!("HMAC-SHA256 apiKey={api_key}, date={date}, salt={salt}, signature={signature}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub api_key: String,
    pub date: String,
    pub salt: String,
    pub signature: String,
}

pub fn parse(value: &str) -> Option<Parsed> {
    let (scheme, params) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("HMAC-SHA256") {
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
        *slot = Some(v.trim().to_owned());
    }
    Some(Parsed {
        api_key: api_key?,
        date: date?,
        salt: salt?,
        signature: signature?,
    })
}

/// Why a request's authentication failed, as Solapi's `errorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No header, or not an HMAC-SHA256 header.
    Missing,
    InvalidApiKey,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
    DuplicatedSignature,
}

impl AuthError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "Unauthorized",
            Self::InvalidApiKey => "InvalidAPIKey",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::DuplicatedSignature => "DuplicatedSignature",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "Authorization header is missing or not HMAC-SHA256",
            Self::InvalidApiKey => "Invalid API Key",
            Self::RequestTimeTooSkewed => {
                "The difference between the request time and the current time is too large (15 minutes)"
            }
            Self::SignatureDoesNotMatch => "Signature does not match",
            Self::DuplicatedSignature => "Duplicated signature (date and salt already used)",
        }
    }
}

/// Checks key, date and signature of a request header; the replay check (a `(date, salt)`
/// pair seen before) needs the simulator's memory and is the caller's.
pub fn verify(
    header: Option<&str>,
    api_key: &str,
    secret: &str,
    now_ms: u64,
) -> Result<(Parsed, u64), AuthError> {
    let parsed = header.and_then(parse).ok_or(AuthError::Missing)?;
    if parsed.api_key != api_key {
        return Err(AuthError::InvalidApiKey);
    }
    let date = time::parse_iso(&parsed.date).ok_or(AuthError::RequestTimeTooSkewed)?;
    if date.abs_diff(now_ms) > MAX_SKEW_MS {
        return Err(AuthError::RequestTimeTooSkewed);
    }
    let given = unhex(&parsed.signature).ok_or(AuthError::SignatureDoesNotMatch)?;
    let mut m = mac(secret);
    m.update(parsed.date.as_bytes());
    m.update(parsed.salt.as_bytes());
    m.verify_slice(&given)
        .map_err(|_| AuthError::SignatureDoesNotMatch)?;
    Ok((parsed, date))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;
    const DATE: &str = "2023-11-14T22:13:20.000Z";

    #[test]
    fn header_round_trips_and_checks_in_order() {
        let h = alimtalk_auth_header("NCSK", "sec", DATE, "salt12345678", None);
        assert!(h.starts_with(
            "HMAC-SHA256 apiKey=NCSK, date=2023-11-14T22:13:20.000Z, salt=salt12345678, signature="
        ));
        let (p, date) = verify(Some(&h), "NCSK", "sec", NOW).unwrap();
        assert_eq!((p.salt.as_str(), date), ("salt12345678", NOW));
        assert_eq!(verify(None, "NCSK", "sec", NOW), Err(AuthError::Missing));
        assert_eq!(
            verify(Some("Bearer x"), "NCSK", "sec", NOW),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify(Some(&h), "NCSX", "sec", NOW),
            Err(AuthError::InvalidApiKey)
        );
        assert_eq!(
            verify(Some(&h), "NCSK", "sec", NOW + MAX_SKEW_MS + 1),
            Err(AuthError::RequestTimeTooSkewed)
        );
        assert_eq!(
            verify(Some(&h), "NCSK", "other", NOW),
            Err(AuthError::SignatureDoesNotMatch)
        );
        // A body signature is not a request signature.
        let with_body = alimtalk_auth_header("NCSK", "sec", DATE, "salt12345678", Some(b"[]"));
        assert_eq!(
            verify(Some(&with_body), "NCSK", "sec", NOW),
            Err(AuthError::SignatureDoesNotMatch)
        );
    }
}
