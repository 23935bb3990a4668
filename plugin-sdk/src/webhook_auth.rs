//! Proving that a callback came from the provider. Mandatory in `handle_webhook`.
//!
//! The host refuses (HTTP 401, nothing applied) every callback a plugin accepts unless one of
//! the `verify_*` functions below returned true during that same call, and unless the time
//! declared with [`signed_at`], if any, lies within the host's replay window (five minutes by
//! default). So a plugin that forgets to check a signature fails closed instead of letting
//! anyone forge delivery statuses. The host does the checking with the connection's secrets
//! and keys, which the plugin only names.
//!
//! ```ignore
//! fn handle_webhook(req: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
//!     let mac = unhex(req.header("x-signature").unwrap_or_default());
//!     if !webhook_auth::verify_hmac(HmacAlgorithm::Sha256, "app_secret", &req.body, &mac) {
//!         return Err(WebhookError::Unauthorized("bad signature".into()));
//!     }
//!     // ... normalise the body into events
//! }
//! ```
//!
//! Declare [`signed_at`] only for a time the verified signature covers, and only when the
//! provider signs the time of the POST (SendGrid, Solapi): a provider that retries a stored
//! payload for hours (Messenger) would see its retries refused.

pub use crate::bindings::channel::secrets::HmacAlgorithm;

/// True when `signature` is the HMAC of `data` keyed by the named secret (constant-time).
pub fn verify_hmac(algorithm: HmacAlgorithm, secret: &str, data: &[u8], signature: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::webhook_auth::verify_hmac(algorithm, secret, data, signature)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.verify_hmac(algorithm, secret, data, signature))
    }
}

/// True when `signature_der` is a valid ECDSA P-256/SHA-256 signature of `data` under the
/// public key in config key `public_key_config` (base64 DER SubjectPublicKeyInfo, the form
/// SendGrid shows). False when that key is missing or malformed.
pub fn verify_ecdsa_p256(public_key_config: &str, data: &[u8], signature_der: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::webhook_auth::verify_ecdsa_p256(
            public_key_config,
            data,
            signature_der,
        )
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.verify_ecdsa_p256(public_key_config, data, signature_der))
    }
}

/// True when `presented` equals the named secret (constant-time), for handshakes that echo a
/// shared token. False when the secret is missing or empty.
pub fn verify_token(secret: &str, presented: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::webhook_auth::verify_token(secret, presented)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.verify_token(secret, presented))
    }
}

/// Declares the time (Unix ms) the provider's verified signature covers. False when it is
/// outside the host's replay window: the host will refuse the callback whatever the plugin
/// returns, so the plugin may as well answer `Unauthorized` at once.
pub fn signed_at(unix_ms: u64) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::webhook_auth::signed_at(unix_ms)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.declare_signed_at(unix_ms))
    }
}
