//! Native unit tests for plugin logic, without wasmtime.
//!
//! Install a [`MockHost`] on the test thread with [`MockHost::install`]; the SDK's host
//! helpers ([`crate::http`], [`crate::config`], [`crate::secrets`], ...) then talk to it. HMACs
//! are computed the way the real host computes them, so signature checks are tested for real.
//!
//! ```ignore
//! let host = MockHost::new().config("account_sid", "AC1").secret("auth_token", "t0k");
//! host.on_http(|req| Ok(Response { status: 201, headers: vec![], body: b"{}".to_vec() }));
//! let _guard = host.install();
//! ```
//!
//! The [`crate::webhook_auth`] checks are real too (HMAC, ECDSA P-256, token compare, the
//! replay window against `now_ms`), and the mock records what a call proved
//! ([`MockHost::verified`], [`MockHost::signed_at`]). Run a callback through
//! [`handle_webhook`] to get the answer the real host would give, refusals included.

#[cfg(not(target_arch = "wasm32"))]
pub use native::*;
#[cfg(not(target_arch = "wasm32"))]
pub use webhook::handle_webhook;

#[cfg(not(target_arch = "wasm32"))]
#[path = "testing_webhook.rs"]
mod webhook;

#[cfg(all(not(target_arch = "wasm32"), feature = "proptest"))]
#[path = "testing_json.rs"]
pub mod json;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use crate::http::{HttpError, Request, Response};
    use crate::log::Level;
    use crate::secrets::HmacAlgorithm;

    type HttpHandler = Box<dyn FnMut(&Request) -> Result<Response, HttpError>>;

    /// The state a plugin call sees in native tests.
    pub struct MockHost {
        pub config: HashMap<String, String>,
        pub secrets: HashMap<String, String>,
        pub now_ms: u64,
        /// Every request the plugin sent, in order.
        pub requests: Vec<Request>,
        pub logs: Vec<(Level, String)>,
        /// The per-connection cache: value and expiry (by `now_ms`).
        pub cache: HashMap<String, (Vec<u8>, u64)>,
        /// A `webhook_auth::verify_*` call succeeded (reset by [`super::handle_webhook`]).
        pub verified: bool,
        /// The signed time declared with `webhook_auth::signed_at`, the one furthest from
        /// `now_ms` if several (reset by [`super::handle_webhook`]).
        pub signed_at: Option<u64>,
        /// The host's replay window for `signed_at`; five minutes, the host's default.
        pub replay_window_ms: u64,
        handler: Option<HttpHandler>,
    }

    thread_local! {
        static HOST: RefCell<Option<MockHost>> = const { RefCell::new(None) };
    }

    impl Default for MockHost {
        fn default() -> Self {
            Self::new()
        }
    }

    impl MockHost {
        pub fn new() -> Self {
            MockHost {
                config: HashMap::new(),
                secrets: HashMap::new(),
                now_ms: 1_700_000_000_000,
                requests: Vec::new(),
                logs: Vec::new(),
                cache: HashMap::new(),
                verified: false,
                signed_at: None,
                replay_window_ms: 5 * 60 * 1000,
                handler: None,
            }
        }
        pub fn config(mut self, key: &str, value: &str) -> Self {
            self.config.insert(key.into(), value.into());
            self
        }
        pub fn secret(mut self, key: &str, value: &str) -> Self {
            self.secrets.insert(key.into(), value.into());
            self
        }
        /// Answer every outbound request with `f`.
        pub fn on_http(
            mut self,
            f: impl FnMut(&Request) -> Result<Response, HttpError> + 'static,
        ) -> Self {
            self.handler = Some(Box::new(f));
            self
        }
        /// Make this the host for SDK calls on this thread until the guard drops.
        pub fn install(self) -> MockGuard {
            HOST.with(|h| *h.borrow_mut() = Some(self));
            MockGuard(())
        }

        pub(crate) fn http(&mut self, req: Request) -> Result<Response, HttpError> {
            self.requests.push(req.clone());
            match self.handler.as_mut() {
                Some(f) => f(&req),
                None => Err(HttpError::Denied("no http handler in MockHost".into())),
            }
        }

        pub(crate) fn hmac(
            &self,
            algorithm: HmacAlgorithm,
            name: &str,
            data: &[u8],
        ) -> Result<Vec<u8>, String> {
            use hmac::{Hmac, Mac};
            let key = self
                .secrets
                .get(name)
                .ok_or_else(|| format!("no secret `{name}`"))?;
            Ok(match algorithm {
                HmacAlgorithm::Sha1 => {
                    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes())
                        .map_err(|e| e.to_string())?;
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                HmacAlgorithm::Sha256 => {
                    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
                        .map_err(|e| e.to_string())?;
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
            })
        }
    }

    impl MockHost {
        pub(crate) fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
            match self.cache.get(key) {
                Some((v, expires)) if *expires > self.now_ms => Some(v.clone()),
                _ => None,
            }
        }

        pub(crate) fn cache_set(&mut self, key: &str, value: &[u8], ttl_ms: u64) {
            if key.len() <= crate::cache::MAX_KEY_BYTES
                && value.len() <= crate::cache::MAX_VALUE_BYTES
            {
                let expires = self.now_ms.saturating_add(ttl_ms);
                self.cache.insert(key.into(), (value.to_vec(), expires));
            }
        }

        /// Signs as the real host does (same key formats, same output shapes).
        pub(crate) fn sign(
            &self,
            algorithm: crate::secrets::SignatureAlgorithm,
            name: &str,
            data: &[u8],
        ) -> Result<Vec<u8>, String> {
            let pem = self
                .secrets
                .get(name)
                .ok_or_else(|| format!("no secret `{name}`"))?;
            match algorithm {
                crate::secrets::SignatureAlgorithm::Rs256 => {
                    use rsa::pkcs1::DecodeRsaPrivateKey;
                    use rsa::pkcs8::DecodePrivateKey;
                    use rsa::signature::{SignatureEncoding, Signer};
                    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                        .map_err(|e| format!("secret `{name}` is not an RSA private key: {e}"))?;
                    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
                    Ok(signer.sign(data).to_vec())
                }
                crate::secrets::SignatureAlgorithm::Es256 => {
                    use p256::ecdsa::signature::Signer;
                    use p256::pkcs8::DecodePrivateKey;
                    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
                        .map_err(|e| format!("secret `{name}` is not a P-256 private key: {e}"))?;
                    let sig: p256::ecdsa::Signature = key.sign(data);
                    Ok(sig.to_bytes().to_vec())
                }
            }
        }
    }

    /// Removes the mock host when dropped, and gives access to what the plugin did.
    pub struct MockGuard(());

    impl MockGuard {
        /// Look at the host's state, e.g. the requests the plugin sent.
        pub fn inspect<R>(&self, f: impl FnOnce(&mut MockHost) -> R) -> R {
            with_host(f)
        }
    }

    impl Drop for MockGuard {
        fn drop(&mut self) {
            HOST.with(|h| *h.borrow_mut() = None);
        }
    }

    pub(crate) fn with_host<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
        HOST.with(|h| {
            let mut h = h.borrow_mut();
            let host = h.as_mut().expect(
                "no MockHost installed on this thread: call MockHost::install() in the test",
            );
            f(host)
        })
    }
}
