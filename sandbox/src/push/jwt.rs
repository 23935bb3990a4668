//! Compact JWS parsing and verification for the OAuth assertion (RS256) and the APNs provider
//! token (ES256, `r || s`).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use super::keys::{SANDBOX_APNS_PUBLIC_KEY_PEM, SANDBOX_FCM_PUBLIC_KEY_PEM};

/// A JWT split into its parts; nothing verified yet.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl Jwt {
    /// `None` unless there are three base64url parts and the first two are JSON objects.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.trim().split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let json = |p: &str| -> Option<Value> {
            let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
            v.is_object().then_some(v)
        };
        Some(Self {
            header: json(h)?,
            claims: json(c)?,
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    pub fn header_str(&self, key: &str) -> Option<&str> {
        self.header.get(key).and_then(Value::as_str)
    }

    pub fn claim_str(&self, key: &str) -> Option<&str> {
        self.claims.get(key).and_then(Value::as_str)
    }

    pub fn claim_u64(&self, key: &str) -> Option<u64> {
        self.claims.get(key).and_then(Value::as_u64)
    }

    /// RS256 with the sandbox service account's public key.
    pub fn verify_rs256(&self) -> bool {
        use rsa::signature::Verifier as _;
        let Some(key) = fcm_key() else {
            return false;
        };
        let Ok(sig) = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice()) else {
            return false;
        };
        key.verify(self.signing_input.as_bytes(), &sig).is_ok()
    }

    /// ES256 (64-byte `r || s`) with the sandbox APNs key's public half.
    pub fn verify_es256(&self) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        let Some(key) = apns_key() else {
            return false;
        };
        let Ok(sig) = p256::ecdsa::Signature::from_slice(&self.signature) else {
            return false;
        };
        key.verify(self.signing_input.as_bytes(), &sig).is_ok()
    }
}

/// The base64 body of a PEM block, decoded.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(b64).ok()
}

fn fcm_key() -> Option<&'static rsa::pkcs1v15::VerifyingKey<sha2::Sha256>> {
    static KEY: OnceLock<Option<rsa::pkcs1v15::VerifyingKey<sha2::Sha256>>> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::DecodePublicKey as _;
        let der = pem_der(SANDBOX_FCM_PUBLIC_KEY_PEM)?;
        let key = rsa::RsaPublicKey::from_public_key_der(&der).ok()?;
        Some(rsa::pkcs1v15::VerifyingKey::new(key))
    })
    .as_ref()
}

fn apns_key() -> Option<&'static p256::ecdsa::VerifyingKey> {
    static KEY: OnceLock<Option<p256::ecdsa::VerifyingKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        use p256::pkcs8::DecodePublicKey as _;
        let der = pem_der(SANDBOX_APNS_PUBLIC_KEY_PEM)?;
        p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok()
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_public_keys_parse() {
        assert!(fcm_key().is_some());
        assert!(apns_key().is_some());
    }

    #[test]
    fn garbage_is_not_a_jwt() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "e30.e30",
            "bm90IGpzb24.e30.AA",
            "W10.e30.AA",
        ] {
            assert!(Jwt::parse(bad).is_none(), "{bad}");
        }
        let ok = Jwt::parse("e30.e30.AA").expect("{}.{}");
        assert!(!ok.verify_rs256() && !ok.verify_es256());
    }
}
