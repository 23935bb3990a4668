//! Per-call state and the host side of every import a plugin may use.
//!
//! A fresh [`CallState`] is built for each call, scoped to one connection: `config.get` and
//! `secrets.*` only ever see that connection, and the HTTP budget resets per call. The
//! `webhook-auth` imports live in [`super::webhook_auth`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::switchboard::channel::{cache, clock, config, http, log, secrets, types};
use super::memo::ConnectionCache;
use super::outbound::{self, OriginPattern};
use super::webhook_auth::CallRecord;
use super::{ConnectionCtx, RuntimeLimits, signing};

/// What every call's imports share: limits, HTTP clients and the per-connection cache.
pub struct HostServices {
    pub limits: Arc<RuntimeLimits>,
    pub client: reqwest::Client,
    /// HTTP/2 with prior knowledge, for destinations that speak nothing else (APNs).
    pub client_h2: reqwest::Client,
    pub memo: ConnectionCache,
}

/// Records that the memory cap was hit, so a resulting trap is reported as what it is.
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub hit: bool,
    /// The largest size a memory of this instance was allowed to grow to: a warm instance
    /// that grew large is not kept.
    pub peak_bytes: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

pub struct CallState {
    pub plugin: Arc<str>,
    pub conn: Option<Arc<ConnectionCtx>>,
    pub allowed: Arc<[OriginPattern]>,
    pub services: Arc<HostServices>,
    pub requests_made: u32,
    /// A request of this call may have reached the provider while its answer was lost (a
    /// reset or timeout after it was sent): the "maybe sent" case.
    pub answer_lost: bool,
    pub limiter: MemoryLimiter,
    /// What `webhook-auth` proved during this call; judged after `handle-webhook` returns.
    pub webhook: CallRecord,
    /// When outbound requests must have answered for the plugin to still use the answer:
    /// the call's deadline less a margin to turn a provider timeout into its own error.
    http_deadline: Instant,
    /// When the call's wasm must stop: checked at each epoch yield.
    pub(crate) wasm_deadline: Instant,
    wasi: WasiCtx,
    table: ResourceTable,
    /// The instance's slot in the pool, given back when the instance is dropped.
    pub(crate) slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl CallState {
    pub fn new(
        plugin: Arc<str>,
        conn: Option<Arc<ConnectionCtx>>,
        allowed: Arc<[OriginPattern]>,
        services: Arc<HostServices>,
        deadline: Duration,
    ) -> Self {
        // std on wasm32-wasip2 imports WASI; give it nothing: no args, env, files or sockets.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let max_bytes = services.limits.memory_bytes;
        let (http_deadline, wasm_deadline) = deadlines(deadline);
        CallState {
            plugin,
            conn,
            allowed,
            services,
            requests_made: 0,
            answer_lost: false,
            limiter: MemoryLimiter {
                max_bytes,
                hit: false,
                peak_bytes: 0,
            },
            webhook: CallRecord::default(),
            http_deadline,
            wasm_deadline,
            wasi,
            table: ResourceTable::new(),
            slot: None,
        }
    }

    /// Ready a warm instance's state for its next call: what one call was allowed or proved
    /// never counts for another (see [`super::warm`]).
    pub(crate) fn rearm(&mut self, deadline: Duration) {
        self.requests_made = 0;
        self.answer_lost = false;
        self.limiter.hit = false;
        self.webhook = CallRecord::default();
        (self.http_deadline, self.wasm_deadline) = deadlines(deadline);
    }

    pub(crate) fn connection_id(&self) -> &str {
        self.conn.as_deref().map(|c| c.id.as_str()).unwrap_or("-")
    }
}

/// When a call starting now must have its outbound answers, and when its wasm must stop.
fn deadlines(deadline: Duration) -> (Instant, Instant) {
    let end = Instant::now() + deadline;
    (end - reply_margin(deadline), end)
}

/// Time kept back from a call's deadline for the plugin to map a provider timeout into its
/// answer: a tenth of the deadline, at most a second.
fn reply_margin(deadline: Duration) -> Duration {
    (deadline / 10).min(Duration::from_secs(1))
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for CallState {}

impl http::Host for CallState {
    async fn send(&mut self, req: http::Request) -> Result<http::Response, http::HttpError> {
        if self.requests_made >= self.services.limits.http_max_requests_per_call {
            return Err(http::HttpError::BudgetExhausted);
        }
        self.requests_made += 1;
        // A provider that does not answer must surface as the request's timeout, which the
        // plugin reports as a retryable `timeout`. Left to run into the call's deadline it
        // would end the whole call as `plugin_error`, which is never retried.
        let left = self.http_deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(http::HttpError::Timeout);
        }
        let client = if req.http2 {
            &self.services.client_h2
        } else {
            &self.services.client
        };
        let result = outbound::execute(
            client,
            &self.services.limits,
            &self.allowed,
            self.conn.as_deref(),
            req,
            left,
            &mut self.answer_lost,
        )
        .await;
        if let Err(http::HttpError::Denied(why)) = &result {
            tracing::warn!(plugin = %self.plugin, connection = %self.connection_id(), %why, "plugin request denied");
        }
        result
    }
}

impl config::Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self
            .conn
            .as_deref()
            .and_then(|c| c.config.get(&key).cloned()))
    }
}

impl secrets::Host for CallState {
    fn has(&mut self, name: String) -> wasmtime::Result<bool> {
        Ok(self
            .conn
            .as_deref()
            .is_some_and(|c| c.secrets.contains_key(&name)))
    }

    fn hmac(
        &mut self,
        algorithm: secrets::HmacAlgorithm,
        name: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let Some(secret) = self.conn.as_deref().and_then(|c| c.secrets.get(&name)) else {
            return Ok(Err(format!("connection has no secret `{name}`")));
        };
        let key = secret.expose().as_bytes();
        Ok(Ok(match algorithm {
            secrets::HmacAlgorithm::Sha1 => {
                let mut m =
                    Hmac::<sha1::Sha1>::new_from_slice(key).map_err(wasmtime::Error::msg)?;
                m.update(&data);
                m.finalize().into_bytes().to_vec()
            }
            secrets::HmacAlgorithm::Sha256 => {
                let mut m =
                    Hmac::<sha2::Sha256>::new_from_slice(key).map_err(wasmtime::Error::msg)?;
                m.update(&data);
                m.finalize().into_bytes().to_vec()
            }
        }))
    }

    fn sign(
        &mut self,
        algorithm: secrets::SignatureAlgorithm,
        name: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let Some(secret) = self.conn.as_deref().and_then(|c| c.secrets.get(&name)) else {
            return Ok(Err(format!("connection has no secret `{name}`")));
        };
        // The error names the secret, never its content.
        Ok(signing::sign(algorithm, secret.expose(), &data)
            .map_err(|why| format!("secret `{name}`: {why}")))
    }
}

impl cache::Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .as_deref()
            .and_then(|c| self.services.memo.get(&c.id, &key)))
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> wasmtime::Result<()> {
        if let Some(c) = self.conn.as_deref() {
            self.services.memo.set(&c.id, key, value, ttl_ms);
        }
        Ok(())
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        // Bound what one line can cost: a plugin cannot flood the log with a huge string.
        let message: String = message.chars().take(2048).collect();
        let (plugin, connection) = (&*self.plugin, self.connection_id());
        match level {
            log::Level::Trace => tracing::trace!(plugin, connection, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, connection, "{message}"),
            log::Level::Info => tracing::info!(plugin, connection, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, connection, "{message}"),
            log::Level::Error => tracing::error!(plugin, connection, "{message}"),
        }
        Ok(())
    }
}

impl clock::Host for CallState {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(switchboard_model::clock::now_ms().max(0) as u64)
    }
}
