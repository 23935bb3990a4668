//! Secrets by name. The plugin asks the host to use a secret (sign, authenticate) and never
//! holds its value, so a compromised or buggy plugin cannot leak it in a log line or a body.
//!
//! To check a provider's signature on a callback, use [`crate::webhook_auth`], not [`hmac()`]
//! and a comparison of your own: the host only accepts callbacks verified through it.

pub use crate::bindings::channel::secrets::{HmacAlgorithm, SignatureAlgorithm};

pub fn has(name: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::secrets::has(name)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.secrets.contains_key(name))
    }
}

/// HMAC of `data` keyed by the named secret, computed by the host: for signing what the
/// plugin sends (an outbound auth header). Verifying a callback is
/// [`crate::webhook_auth::verify_hmac`]'s job.
pub fn hmac(algorithm: HmacAlgorithm, name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::secrets::hmac(algorithm, name, data)
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
        crate::bindings::channel::secrets::sign(algorithm, name, data)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.sign(algorithm, name, data))
    }
}
