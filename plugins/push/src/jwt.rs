//! Compact JWS tokens signed by the host, and the name-based UUID used as `apns-id`.
//!
//! The private keys stay in the host: the plugin builds `base64url(header).base64url(claims)`
//! and asks `secrets::sign` for the signature over it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha1::{Digest, Sha1};
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::secrets::SignatureAlgorithm;

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.claims`, both base64url without padding.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// A signed JWT. A signing failure means the secret is missing or not a key of the right
/// kind: the connection needs fixing, so it is permanent.
pub fn sign(
    algorithm: SignatureAlgorithm,
    secret: &str,
    header: &Value,
    claims: &Value,
) -> Result<String, SendError> {
    let input = signing_input(header, claims);
    let sig = secrets::sign(algorithm, secret, input.as_bytes()).map_err(|e| {
        SendError::permanent(
            FailureReason::PermissionDenied,
            None,
            format!("cannot sign the provider JWT with secret `{secret}`: {e}"),
        )
    })?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// Namespace of the `apns-id` UUIDs (a fixed random v4 UUID, so they collide with no other
/// name-based scheme).
const APNS_ID_NAMESPACE: [u8; 16] = [
    0x5b, 0x0e, 0x3c, 0x61, 0x2a, 0x4d, 0x4f, 0x1e, 0x9a, 0x57, 0x0c, 0x8f, 0x6d, 0x31, 0xe2, 0x74,
];

/// RFC 9562 version 5 UUID of `name`: every attempt of one delivery gets the same `apns-id`.
pub fn uuid_v5(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(APNS_ID_NAMESPACE);
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_stable_versioned_and_canonical() {
        let a = uuid_v5("dlv_1");
        assert_eq!(a, uuid_v5("dlv_1"));
        assert_ne!(a, uuid_v5("dlv_2"));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('5'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn signing_input_is_unpadded_base64url() {
        let s = signing_input(
            &serde_json::json!({"a": 1}),
            &serde_json::json!({"b": "?>"}),
        );
        assert!(!s.contains('='));
        let (h, c) = s.split_once('.').unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(h).unwrap(), br#"{"a":1}"#);
        assert_eq!(URL_SAFE_NO_PAD.decode(c).unwrap(), br#"{"b":"?>"}"#);
    }
}
