//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), so a business can verify
//! our deliveries with any of the published libraries instead of code we invent.
//!
//! - The secret is `whsec_` + base64 of 32 random bytes; the HMAC key is the decoded bytes.
//! - The signed content is `{webhook-id}.{webhook-timestamp}.{body}`.
//! - `webhook-signature` is `v1,` + base64 HMAC-SHA256; several space-separated signatures
//!   may be sent, which is how a secret rotates without dropping deliveries: for a day after
//!   a rotation every delivery is signed with both the new and the previous secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret is `whsec_` followed by base64")]
pub struct BadSecret;

/// A fresh secret.
pub fn new_secret() -> String {
    format!(
        "{PREFIX}{}",
        STANDARD.encode(rand::rng().random::<[u8; 32]>())
    )
}

fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    STANDARD
        .decode(secret.strip_prefix(PREFIX).unwrap_or(secret))
        .map_err(|_| BadSecret)
        .and_then(|k| if k.is_empty() { Err(BadSecret) } else { Ok(k) })
}

/// Check a secret can sign before storing it.
pub fn validate(secret: &str) -> Result<(), BadSecret> {
    key(secret).map(|_| ())
}

/// One `v1,<base64>` signature.
pub fn sign(secret: &str, id: &str, timestamp_s: i64, body: &[u8]) -> Result<String, BadSecret> {
    let key = key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header value: one signature per secret in force.
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let sigs = secrets
        .iter()
        .map(|s| sign(s, id, timestamp_s, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sigs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_specification_test_vector() {
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_fresh_and_rotation_signs_with_both() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        let h = signature_header(&[&a, &b], "msg_1", 1, b"{}").unwrap();
        assert_eq!(h.split(' ').count(), 2);
        assert_eq!(validate("whsec_***"), Err(BadSecret));
    }
}
