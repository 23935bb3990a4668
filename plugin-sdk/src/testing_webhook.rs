//! The mock side of [`crate::webhook_auth`], and the host's rule for accepting a callback, so
//! that plugin tests see what the real host would answer.

use hmac::{Hmac, Mac};

use super::native::{MockHost, with_host};
use crate::secrets::HmacAlgorithm;
use crate::{Connection, Plugin, WebhookError, WebhookOutcome, WebhookRequest};

impl MockHost {
    fn note(&mut self, ok: bool) -> bool {
        self.verified |= ok;
        ok
    }

    pub(crate) fn verify_hmac(
        &mut self,
        algorithm: HmacAlgorithm,
        name: &str,
        data: &[u8],
        signature: &[u8],
    ) -> bool {
        let ok = self.secrets.get(name).is_some_and(|key| {
            let key = key.as_bytes();
            match algorithm {
                HmacAlgorithm::Sha1 => {
                    Hmac::<sha1::Sha1>::new_from_slice(key).is_ok_and(|mut m| {
                        m.update(data);
                        m.verify_slice(signature).is_ok()
                    })
                }
                HmacAlgorithm::Sha256 => {
                    Hmac::<sha2::Sha256>::new_from_slice(key).is_ok_and(|mut m| {
                        m.update(data);
                        m.verify_slice(signature).is_ok()
                    })
                }
            }
        });
        self.note(ok)
    }

    pub(crate) fn verify_ecdsa_p256(&mut self, key: &str, data: &[u8], signature: &[u8]) -> bool {
        use base64::Engine as _;
        use p256::ecdsa::signature::Verifier;
        use p256::pkcs8::DecodePublicKey;
        let key = self
            .config
            .get(key)
            .and_then(|k| {
                base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .ok()
            })
            .and_then(|der| p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok());
        let ok = key.is_some_and(|key| {
            p256::ecdsa::Signature::from_der(signature).is_ok_and(|s| key.verify(data, &s).is_ok())
        });
        self.note(ok)
    }

    pub(crate) fn verify_token(&mut self, name: &str, presented: &str) -> bool {
        let ok = self
            .secrets
            .get(name)
            .is_some_and(|s| !s.is_empty() && s == presented);
        self.note(ok)
    }

    pub(crate) fn declare_signed_at(&mut self, t: u64) -> bool {
        let skew = |t: u64| self.now_ms.abs_diff(t);
        if self.signed_at.is_none_or(|old| skew(t) > skew(old)) {
            self.signed_at = Some(t);
        }
        skew(t) <= self.replay_window_ms
    }
}

/// One `handle-webhook` call as the host makes it: a fresh record of what the call proved,
/// the plugin's answer, then the host's rule. An `Ok` without a successful
/// `webhook_auth::verify_*`, or with a declared signed time outside the replay window,
/// becomes `Unauthorized`, exactly as the gateway answers 401 to it.
pub fn handle_webhook<P: Plugin>(
    req: WebhookRequest,
    conn: Connection,
) -> Result<WebhookOutcome, WebhookError> {
    with_host(|h| {
        h.verified = false;
        h.signed_at = None;
    });
    let answer = P::handle_webhook(req, conn)?;
    with_host(|h| {
        if !h.verified {
            return Err(WebhookError::Unauthorized(
                "the plugin accepted the callback without verifying a signature".into(),
            ));
        }
        match h.signed_at {
            Some(t) if h.now_ms.abs_diff(t) > h.replay_window_ms => {
                Err(WebhookError::Unauthorized(format!(
                    "the callback was signed at {t} (Unix ms), outside the {} s replay window",
                    h.replay_window_ms / 1000
                )))
            }
            _ => Ok(()),
        }
    })?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook_auth;
    use crate::{
        DeliveryState, Manifest, Message, Quote, SendError, Sent, StatusUpdate, Violation,
        WebhookEvent,
    };

    const NOW: u64 = 1_700_000_000_000;

    fn host() -> super::super::MockGuard {
        let mut h = MockHost::new().secret("s", "key");
        h.now_ms = NOW;
        h.install()
    }

    #[test]
    fn hmac_is_compared_for_real_and_only_success_counts() {
        let h = host();
        let mac = crate::secrets::hmac(HmacAlgorithm::Sha256, "s", b"data").unwrap();
        assert!(!webhook_auth::verify_hmac(
            HmacAlgorithm::Sha256,
            "s",
            b"datA",
            &mac
        ));
        assert!(!webhook_auth::verify_hmac(
            HmacAlgorithm::Sha1,
            "s",
            b"data",
            &mac
        ));
        assert!(!webhook_auth::verify_hmac(
            HmacAlgorithm::Sha256,
            "none",
            b"data",
            &mac
        ));
        assert!(!h.inspect(|h| h.verified));
        assert!(webhook_auth::verify_hmac(
            HmacAlgorithm::Sha256,
            "s",
            b"data",
            &mac
        ));
        assert!(h.inspect(|h| h.verified));
    }

    #[test]
    fn tokens_and_ecdsa_signatures_verify_for_real() {
        use base64::Engine as _;
        use p256::ecdsa::signature::Signer;
        use p256::pkcs8::EncodePublicKey;
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let der = key.verifying_key().to_public_key_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        let _h = MockHost::new()
            .secret("token", "vt")
            .secret("empty", "")
            .config("pk", &b64)
            .config("bad_pk", "bm90IGEga2V5")
            .install();
        assert!(webhook_auth::verify_token("token", "vt"));
        assert!(!webhook_auth::verify_token("token", "vt "));
        assert!(!webhook_auth::verify_token("empty", ""));
        assert!(!webhook_auth::verify_token("missing", ""));

        let sig: p256::ecdsa::Signature = key.sign(b"payload");
        let der_sig = sig.to_der();
        assert!(webhook_auth::verify_ecdsa_p256(
            "pk",
            b"payload",
            der_sig.as_bytes()
        ));
        assert!(!webhook_auth::verify_ecdsa_p256(
            "pk",
            b"payloaD",
            der_sig.as_bytes()
        ));
        assert!(!webhook_auth::verify_ecdsa_p256(
            "bad_pk",
            b"payload",
            der_sig.as_bytes()
        ));
        assert!(!webhook_auth::verify_ecdsa_p256(
            "pk",
            b"payload",
            &sig.to_bytes()
        ));
    }

    #[test]
    fn signed_at_judges_the_window_and_keeps_the_worst() {
        let h = host();
        assert!(webhook_auth::signed_at(NOW - 300_000));
        assert!(!webhook_auth::signed_at(NOW + 300_001));
        assert!(webhook_auth::signed_at(NOW));
        assert_eq!(h.inspect(|h| h.signed_at), Some(NOW + 300_001));
    }

    /// Accepts every callback, whatever its checks say: a `token` header is compared with
    /// secret `s` and a `signed-at` header declared, both answers ignored.
    struct Trusting;

    impl Plugin for Trusting {
        fn describe() -> Manifest {
            unimplemented!()
        }
        fn validate(_: &Message) -> Vec<Violation> {
            unimplemented!()
        }
        fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
            unimplemented!()
        }
        fn send(_: Message, _: Connection) -> Result<Sent, SendError> {
            unimplemented!()
        }
        fn handle_webhook(
            req: WebhookRequest,
            _: Connection,
        ) -> Result<WebhookOutcome, WebhookError> {
            if let Some(token) = req.header("token") {
                let _ignored = webhook_auth::verify_token("s", token);
            }
            if let Some(t) = req.header("signed-at") {
                let _ignored = webhook_auth::signed_at(t.parse().unwrap());
            }
            Ok(WebhookOutcome {
                events: vec![WebhookEvent::Status(StatusUpdate {
                    provider_message_id: "M".into(),
                    state: DeliveryState::Delivered,
                    provider_status: "delivered".into(),
                    failure: None,
                    timestamp_ms: None,
                })],
                reply: None,
            })
        }
    }

    fn call(headers: &[(&str, String)]) -> Result<WebhookOutcome, WebhookError> {
        let req = WebhookRequest {
            method: "POST".into(),
            url: "http://gw/hook".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: vec![],
        };
        let conn = Connection {
            id: "c".into(),
            name: "c".into(),
            webhook_url: "http://gw/hook".into(),
        };
        handle_webhook::<Trusting>(req, conn)
    }

    #[test]
    fn handle_webhook_refuses_like_the_host() {
        let _h = host();
        let refused = |r: Result<WebhookOutcome, WebhookError>| match r {
            Err(WebhookError::Unauthorized(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(call(&[])).contains("without verifying"));
        assert!(refused(call(&[("token", "wrong".into())])).contains("without verifying"));
        assert!(call(&[("token", "key".into())]).is_ok());
        // The record is per call: the previous success does not carry over.
        assert!(refused(call(&[])).contains("without verifying"));
        let stale = (NOW - 600_000).to_string();
        let m = refused(call(&[("token", "key".into()), ("signed-at", stale)]));
        assert!(m.contains("replay window"), "{m}");
        assert!(call(&[("token", "key".into()), ("signed-at", NOW.to_string())]).is_ok());
    }
}
