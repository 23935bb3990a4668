//! Secrets by name. The plugin asks the host to use a secret (sign, authenticate) and never
//! holds its value, so a compromised or buggy plugin cannot leak it in a log line or a body.

pub use crate::bindings::switchboard::channel::secrets::{HmacAlgorithm, SignatureAlgorithm};

pub fn has(name: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::switchboard::channel::secrets::has(name)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.secrets.contains_key(name))
    }
}

/// HMAC of `data` keyed by the named secret, computed by the host.
pub fn hmac(algorithm: HmacAlgorithm, name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::switchboard::channel::secrets::hmac(algorithm, name, data)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.hmac(algorithm, name, data))
    }
}

/// A JWS signature over `data` with the named private key, computed by the host: RS256 gives
/// the PKCS#1 v1.5 signature, ES256 the 64-byte `r || s`. Used for provider JWTs (FCM
/// service accounts, APNs `.p8` keys) without the key ever entering the plugin.
pub fn sign(algorithm: SignatureAlgorithm, name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::switchboard::channel::secrets::sign(algorithm, name, data)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.sign(algorithm, name, data))
    }
}

/// Compare a provider's signature with ours in constant time.
pub fn verify_hmac(algorithm: HmacAlgorithm, name: &str, data: &[u8], expected: &[u8]) -> bool {
    match hmac(algorithm, name, data) {
        Ok(mac) => constant_time_eq(&mac, expected),
        Err(_) => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
