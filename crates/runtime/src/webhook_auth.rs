//! The `webhook-auth` import, and the rule it exists for: no callback is accepted unless the
//! plugin proved, through the host, that the provider sent it.
//!
//! If plugins compared signatures themselves and the host trusted whatever `handle-webhook`
//! returned, a plugin that forgot the check would let anyone who knows a webhook URL forge
//! delivery statuses. So each call keeps a [`CallRecord`]: every
//! `verify-*` that succeeds marks the call verified, `signed-at` records the provider's signed
//! time, and [`CallRecord::verdict`] refuses an accepted callback that was never verified or
//! whose signed time is outside the replay window. The runtime applies the verdict before the
//! outcome leaves it, so no caller can forget it either.
//!
//! What it cannot prove is that the verified bytes were this request's: a plugin could verify
//! something else. That would be a deliberate lie, not an omission, and a plugin able to lie
//! could as well misreport the events it normalises; the rule is there to make the honest
//! mistake impossible.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};

use super::bindings::switchboard::channel::{secrets::HmacAlgorithm, webhook_auth};
use super::imports::CallState;

/// What one call proved about its callback.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CallRecord {
    /// A `verify-*` import returned true during this call.
    pub verified: bool,
    /// The provider's signed time, as the plugin declared it (Unix ms). Of several
    /// declarations the one furthest from the clock is kept, so a fresh declaration cannot
    /// cover for a stale one.
    pub signed_at: Option<u64>,
}

/// Why the host refuses a callback the plugin accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the plugin accepted the callback without verifying a signature")]
    Unverified,
    #[error(
        "the callback was signed at {signed_at_ms} (Unix ms), {skew_s} s from the gateway's clock, outside the {window_s} s replay window"
    )]
    OutsideReplayWindow {
        signed_at_ms: u64,
        skew_s: u64,
        window_s: u64,
    },
}

fn skew_ms(now_ms: i64, t: u64) -> u64 {
    (now_ms.max(0) as u64).abs_diff(t)
}

fn in_window(now_ms: i64, t: u64, window: Duration) -> bool {
    u128::from(skew_ms(now_ms, t)) <= window.as_millis()
}

impl CallRecord {
    pub fn declare_signed_at(&mut self, t: u64, now_ms: i64) {
        let worse = self
            .signed_at
            .is_none_or(|old| skew_ms(now_ms, t) > skew_ms(now_ms, old));
        if worse {
            self.signed_at = Some(t);
        }
    }

    /// Whether an `ok` from `handle-webhook` may stand, judged at `now_ms`.
    pub fn verdict(&self, now_ms: i64, window: Duration) -> Result<(), Refusal> {
        if !self.verified {
            return Err(Refusal::Unverified);
        }
        match self.signed_at {
            Some(t) if !in_window(now_ms, t, window) => Err(Refusal::OutsideReplayWindow {
                signed_at_ms: t,
                skew_s: skew_ms(now_ms, t) / 1000,
                window_s: window.as_secs(),
            }),
            _ => Ok(()),
        }
    }
}

fn hmac_matches(algorithm: HmacAlgorithm, key: &[u8], data: &[u8], signature: &[u8]) -> bool {
    // `verify_slice` compares in constant time; HMAC takes a key of any length.
    match algorithm {
        HmacAlgorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key).is_ok_and(|mut m| {
            m.update(data);
            m.verify_slice(signature).is_ok()
        }),
        HmacAlgorithm::Sha256 => Hmac::<sha2::Sha256>::new_from_slice(key).is_ok_and(|mut m| {
            m.update(data);
            m.verify_slice(signature).is_ok()
        }),
    }
}

/// Equal tokens, without leaking where they differ or how long the expected one is: both are
/// reduced to fixed-length MACs first, then compared in constant time.
fn same_token(expected: &[u8], presented: &[u8]) -> bool {
    const LABEL: &[u8] = b"switchboard webhook-auth verify-token";
    let tag = |v: &[u8]| {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(LABEL).expect("HMAC takes any key");
        m.update(v);
        m
    };
    let want = tag(expected).finalize().into_bytes();
    tag(presented).verify_slice(&want).is_ok()
}

/// SendGrid shows its verification key as base64 DER SubjectPublicKeyInfo.
fn p256_key(base64_der: &str) -> Option<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der.trim())
        .ok()?;
    p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok()
}

impl CallState {
    fn note(&mut self, ok: bool) -> bool {
        self.webhook.verified |= ok;
        ok
    }
}

impl webhook_auth::Host for CallState {
    fn verify_hmac(
        &mut self,
        algorithm: HmacAlgorithm,
        secret_name: String,
        data: Vec<u8>,
        signature: Vec<u8>,
    ) -> wasmtime::Result<bool> {
        let ok = self
            .conn
            .as_deref()
            .and_then(|c| c.secrets.get(&secret_name))
            .is_some_and(|s| hmac_matches(algorithm, s.expose().as_bytes(), &data, &signature));
        Ok(self.note(ok))
    }

    fn verify_ecdsa_p256(
        &mut self,
        public_key_config: String,
        data: Vec<u8>,
        signature_der: Vec<u8>,
    ) -> wasmtime::Result<bool> {
        use p256::ecdsa::signature::Verifier;
        let Some(value) = self
            .conn
            .as_deref()
            .and_then(|c| c.config.get(&public_key_config))
        else {
            return Ok(false);
        };
        let Some(key) = p256_key(value) else {
            // An operator's mistake, not an attacker's: say so where the operator looks.
            tracing::warn!(plugin = %self.plugin, connection = %self.connection_id(), key = %public_key_config,
                "config key is not a base64 DER P-256 public key; callbacks cannot verify");
            return Ok(false);
        };
        let ok = p256::ecdsa::Signature::from_der(&signature_der)
            .is_ok_and(|sig| key.verify(&data, &sig).is_ok());
        Ok(self.note(ok))
    }

    fn verify_token(&mut self, secret_name: String, presented: String) -> wasmtime::Result<bool> {
        let ok = self
            .conn
            .as_deref()
            .and_then(|c| c.secrets.get(&secret_name))
            .filter(|s| !s.expose().is_empty())
            .is_some_and(|s| same_token(s.expose().as_bytes(), presented.as_bytes()));
        Ok(self.note(ok))
    }

    fn signed_at(&mut self, unix_ms: u64) -> wasmtime::Result<bool> {
        let now = switchboard_model::clock::now_ms();
        self.webhook.declare_signed_at(unix_ms, now);
        Ok(in_window(
            now,
            unix_ms,
            self.services.limits.callback_replay_window,
        ))
    }
}

#[cfg(test)]
#[path = "webhook_auth_tests.rs"]
mod tests;
