//! The `secrets.sign` import: JWS signatures for provider JWTs, so private keys (an FCM
//! service account's RSA key, an APNs `.p8` key) never enter plugin memory.

use super::bindings::switchboard::channel::secrets::SignatureAlgorithm;

/// RS256 gives the PKCS#1 v1.5 signature; ES256 the 64-byte `r || s` a JWS carries (not DER).
pub fn sign(algorithm: SignatureAlgorithm, pem: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    match algorithm {
        SignatureAlgorithm::Rs256 => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            use rsa::pkcs8::DecodePrivateKey;
            use rsa::signature::{SignatureEncoding, Signer};
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                .map_err(|_| "the secret is not an RSA private key in PEM".to_string())?;
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
            Ok(signer.sign(data).to_vec())
        }
        SignatureAlgorithm::Es256 => {
            use p256::ecdsa::signature::Signer;
            use p256::pkcs8::DecodePrivateKey;
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
                .map_err(|_| "the secret is not a P-256 private key in PKCS#8 PEM".to_string())?;
            let sig: p256::ecdsa::Signature = key.sign(data);
            Ok(sig.to_bytes().to_vec())
        }
    }
}
