//! SendGrid's Signed Event Webhook: ECDSA P-256 over SHA-256 of `timestamp + raw body`, the
//! DER signature base64-encoded in `X-Twilio-Email-Event-Webhook-Signature`, verified with the
//! account's public key, which SendGrid shows as base64 DER SubjectPublicKeyInfo.
//!
//! The simulator's key pair is derived from a constant scalar rather than generated at start:
//! a gateway can then be configured with [`sendgrid_webhook_public_key`] without talking to
//! the simulator, whether it runs in-process or standalone, and across restarts. The key
//! protects nothing; it only has to be the same everywhere.

use std::sync::LazyLock;

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;

/// Header carrying the base64 DER signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
/// Header carrying the unix-seconds timestamp that is signed along with the body.
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// SHA-256 of "switchboard sandbox sendgrid event webhook signing key": any value in 1..n
/// works, this one is just reproducible. Public by design (see the module docs).
const SIGNING_SCALAR: [u8; 32] = [
    0xd0, 0xce, 0x66, 0x67, 0x00, 0x80, 0x92, 0x66, 0xa9, 0xc0, 0x6a, 0xc5, 0x74, 0x9b, 0x61, 0x7e,
    0xe9, 0x5e, 0x3c, 0x1c, 0x22, 0xd0, 0xed, 0x64, 0x31, 0xeb, 0x07, 0x79, 0x37, 0xdf, 0xc8, 0x84,
];

// The scalar is a constant checked by a unit test, so this cannot fail on any input.
static SIGNING_KEY: LazyLock<SigningKey> = LazyLock::new(|| {
    SigningKey::from_bytes(&SIGNING_SCALAR.into()).expect("constant scalar is a valid P-256 key")
});

/// Base64 (standard, padded) DER SubjectPublicKeyInfo of the simulator's event-webhook key,
/// in the form SendGrid's settings page shows and verification libraries take.
pub fn sendgrid_webhook_public_key() -> String {
    let der = SIGNING_KEY
        .verifying_key()
        .to_public_key_der()
        .expect("a P-256 public key always encodes as SPKI DER");
    base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
}

/// `base64(DER(ECDSA-P256-SHA256(timestamp + body)))` with the simulator's key, exactly what
/// the simulator puts in [`SIGNATURE_HEADER`]; public so tests can forge good callbacks.
pub fn sendgrid_event_signature(timestamp: &str, body: &[u8]) -> String {
    let mut payload = Vec::with_capacity(timestamp.len() + body.len());
    payload.extend_from_slice(timestamp.as_bytes());
    payload.extend_from_slice(body);
    let signature: Signature = SIGNING_KEY.sign(&payload);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

/// The [`crate::callbacks::Signer`] for event posts: signs with the time of the POST.
pub(super) fn sign_event_post(body: &[u8]) -> Vec<(String, String)> {
    let timestamp = crate::email::unix_secs().to_string();
    let signature = sendgrid_event_signature(&timestamp, body);
    vec![
        (TIMESTAMP_HEADER.to_owned(), timestamp),
        (SIGNATURE_HEADER.to_owned(), signature),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;

    fn verify(public_key: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = VerifyingKey::from_public_key_der(&b64.decode(public_key).unwrap()).unwrap();
        let sig = Signature::from_der(&b64.decode(signature).unwrap()).unwrap();
        let mut payload = timestamp.as_bytes().to_vec();
        payload.extend_from_slice(body);
        key.verify(&payload, &sig).is_ok()
    }

    #[test]
    fn signature_round_trip() {
        let key = sendgrid_webhook_public_key();
        let body = br#"[{"email":"a@b.co","event":"delivered"}]"#;
        let sig = sendgrid_event_signature("1700000000", body);
        assert!(verify(&key, "1700000000", body, &sig));
        assert!(!verify(&key, "1700000001", body, &sig));
        assert!(!verify(
            &key,
            "1700000000",
            br#"[{"email":"a@b.co","event":"open"}]"#,
            &sig
        ));
    }

    #[test]
    fn key_is_fixed_and_published_as_spki() {
        // Stable across calls (and processes: it only depends on the constant).
        assert_eq!(sendgrid_webhook_public_key(), sendgrid_webhook_public_key());
        // P-256 SPKI with an uncompressed point is 91 bytes, base64 "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…".
        let key = sendgrid_webhook_public_key();
        assert!(
            key.starts_with("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"),
            "{key}"
        );
        assert_eq!(key.len(), 124);
    }

    #[test]
    fn post_signer_signs_the_time_of_the_post() {
        let body = b"[]";
        let headers = sign_event_post(body);
        let ts = &headers[0].1;
        assert_eq!(headers[0].0, TIMESTAMP_HEADER);
        assert!(ts.parse::<u64>().is_ok_and(|t| t > 1_700_000_000));
        assert!(verify(
            &sendgrid_webhook_public_key(),
            ts,
            body,
            &headers[1].1
        ));
    }
}
