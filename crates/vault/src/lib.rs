//! Secrets at rest: connection credentials and webhook signing secrets are sealed with an
//! AEAD before they reach the database, and opened only in memory.
//!
//! A crate of its own because two services seal (connections, the event log) and neither the
//! store nor the API should: the store keeps envelopes it cannot open, and key handling stays
//! in one small place that depends on nothing of ours.
//!
//! - XChaCha20-Poly1305 with a random 192-bit nonce per seal: random nonces of that size
//!   never collide in practice, so nothing about nonces has to survive a restart.
//! - The associated data names the owner (`connection:con_…`), so a sealed value copied into
//!   another row does not open there.
//! - Every envelope names the master key that sealed it (`v1.<key id>.<base64>`), so keys
//!   can rotate: configure the new key first and the old ones after it, start the gateway,
//!   and every value is resealed under the new key ([`Vault::needs_reseal`]); then the old
//!   key can be dropped. A value sealed under a key that is not configured stops start-up
//!   rather than turning every send on that connection into an auth failure.
//!
//! ```
//! use switchboard_vault::{MasterKey, Vault};
//! let vault = Vault::new(vec![MasterKey::generate()]).unwrap();
//! let sealed = vault.seal("connection:con_1", b"EAAG-token").unwrap();
//! assert_eq!(&*vault.open("connection:con_1", &sealed).unwrap(), b"EAAG-token");
//! assert!(vault.open("connection:con_2", &sealed).is_err());
//! ```

mod keys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use keys::write_private;
pub use keys::{MasterKey, load_or_create_key_file, parse_keys};

const VERSION: &str = "v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("no master key configured")]
    NoKeys,
    #[error("master key {index}: {detail}")]
    BadKey { index: usize, detail: String },
    #[error("sealed with master key `{0}`, which is not configured")]
    UnknownKey(String),
    #[error("not a sealed value")]
    Malformed,
    #[error("the sealed value does not open: wrong key or tampered with")]
    Tampered,
    #[error("cannot seal the value: {0}")]
    Seal(&'static str),
}

/// The configured master keys; the first seals, all of them open.
pub struct Vault {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Vault").field("key_ids", &ids).finish()
    }
}

impl Vault {
    pub fn new(keys: Vec<MasterKey>) -> Result<Vault, VaultError> {
        if keys.is_empty() {
            return Err(VaultError::NoKeys);
        }
        Ok(Vault {
            keys: keys
                .into_iter()
                .map(|k| (key_id(k.bytes()), XChaCha20Poly1305::new(k.bytes().into())))
                .collect(),
        })
    }

    /// The id of the key new values are sealed with.
    pub fn primary_id(&self) -> &str {
        &self.keys[0].0
    }

    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> Result<String, VaultError> {
        let (id, cipher) = &self.keys[0];
        let nonce: [u8; 24] = rand::rng().random();
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Seal("the AEAD refused the plaintext"))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Ok(format!("{VERSION}.{id}.{}", B64.encode(blob)))
    }

    pub fn open(&self, owner: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let (id, body) = envelope(sealed)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_string()))?;
        let blob = B64.decode(body).map_err(|_| VaultError::Malformed)?;
        if blob.len() < 24 + 16 {
            return Err(VaultError::Malformed);
        }
        let (nonce, ct) = blob.split_at(24);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: owner.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Tampered)
    }

    /// Seal a JSON value (a map of secret names to values).
    pub fn seal_json<T: serde::Serialize>(
        &self,
        owner: &str,
        value: &T,
    ) -> Result<String, VaultError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(value).map_err(|_| VaultError::Seal("not serialisable"))?,
        );
        self.seal(owner, &plain)
    }

    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        owner: &str,
        sealed: &str,
    ) -> Result<T, VaultError> {
        let plain = self.open(owner, sealed)?;
        serde_json::from_slice(&plain).map_err(|_| VaultError::Malformed)
    }

    /// Whether `stored` is plaintext from before sealing, or sealed under an older key.
    pub fn needs_reseal(&self, stored: &str) -> bool {
        match envelope(stored) {
            Ok((id, _)) => id != self.primary_id(),
            Err(_) => true,
        }
    }

    /// Whether `stored` is a sealed envelope at all (rows from before sealing are not).
    pub fn is_sealed(stored: &str) -> bool {
        envelope(stored).is_ok()
    }
}

fn envelope(sealed: &str) -> Result<(&str, &str), VaultError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(id), Some(body)) if !id.is_empty() => Ok((id, body)),
        _ => Err(VaultError::Malformed),
    }
}

/// A short public fingerprint of a key, so an envelope can say which key sealed it without
/// revealing anything about the key.
fn key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"switchboard master key id\0");
    h.update(key);
    hex::encode(&h.finalize()[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(keys: &[&MasterKey]) -> Vault {
        Vault::new(keys.iter().map(|k| (*k).clone()).collect()).unwrap()
    }

    #[test]
    fn seals_open_only_for_their_owner_and_hide_the_plaintext() {
        let k = MasterKey::generate();
        let v = vault(&[&k]);
        let sealed = v.seal("connection:a", b"top-secret-value").unwrap();
        assert!(!sealed.contains("top-secret"));
        assert_ne!(
            sealed,
            v.seal("connection:a", b"top-secret-value").unwrap(),
            "nonce reuse"
        );
        assert_eq!(
            &*v.open("connection:a", &sealed).unwrap(),
            b"top-secret-value"
        );
        assert_eq!(v.open("connection:b", &sealed), Err(VaultError::Tampered));
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(v.open("connection:a", &flipped).is_err());
        assert_eq!(
            v.open("connection:a", "{\"a\":1}"),
            Err(VaultError::Malformed)
        );
    }

    #[test]
    fn rotation_opens_old_values_and_reseals_under_the_new_key() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let before = vault(&[&old]);
        let sealed = before.seal("o", b"x").unwrap();
        let after = vault(&[&new, &old]);
        assert!(after.needs_reseal(&sealed));
        assert_eq!(&*after.open("o", &sealed).unwrap(), b"x");
        let resealed = after.seal("o", b"x").unwrap();
        assert!(!after.needs_reseal(&resealed));
        let only_new = vault(&[&new]);
        assert_eq!(
            only_new.open("o", &sealed),
            Err(VaultError::UnknownKey(before.primary_id().to_string()))
        );
        assert!(only_new.needs_reseal("{\"legacy\":\"plaintext\"}"));
    }
}
