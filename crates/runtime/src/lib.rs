//! The plugin runtime: untrusted channel plugins (WebAssembly components) run here.
//!
//! Why a crate of its own: it is the one place that touches wasmtime and the only door a
//! plugin has to the world (the host imports in [`imports`], outbound HTTP through
//! [`outbound`] and the [`netguard`]). It knows the schema ([`switchboard_model`]) and the
//! plugin contract ([`bindings`], one module per supported WIT version, and [`api_version`]),
//! and nothing of storage, billing or routing: the gateway's services call it with a message
//! and a connection and get an answer or a [`CallError`].
//!
//! Why it is shaped this way:
//! - **One shared [`Engine`]**, with the pooling allocator when the address space allows it
//!   (instantiation in tens of microseconds) and the on-demand allocator otherwise.
//! - **Instances from a pre-instantiated component** ([`ChannelPluginPre`]), fresh for
//!   `sync-contacts` and `lookup-status`. `validate`, `quote`, `send` and callbacks reuse a
//!   warm instance of the same connection and kind ([`warm`], which says exactly what
//!   isolation that keeps: never across connections or workspaces, and never after a fault).
//! - **Every call is bounded**: a deadline per export, checked at every epoch tick (the
//!   engine's epoch ticks every [`EPOCH_TICK`]), where the call also yields its thread to the
//!   executor, so a spinning plugin cannot hold a worker; a memory cap through a store
//!   limiter, a tokio timeout around the whole call
//!   (epochs do not interrupt a host call that is waiting on the network), and a budget of
//!   outbound requests. A trap, an endless loop, a memory bomb, a stack overflow or an
//!   oversized result becomes a [`CallError`] for that call; the host keeps serving
//!   ([`output`] bounds what a result may cost the host).
//! - **A connection whose plugin keeps faulting is quarantined** with growing backoff
//!   ([`quarantine`]), so a broken plugin stops costing CPU while the rest carry on.
//! - **Compiled artifacts are cached** on disk ([`cache`]), so a restart does not recompile.
//! - **No global lock around calls**: plugins are looked up through a read-mostly map and
//!   concurrency is bounded by a semaphore sized to the instance pool.

pub mod api_version;
pub mod bindings;
pub mod cache;
mod calls;
pub use bindings::{AttemptWindow, FindOutcome};
pub use calls::SendAnswer;
pub mod convert;
mod engine;
pub mod imports;
mod instances;
mod manifest;
pub mod memo;
pub mod netguard;
pub mod outbound;
pub mod output;
pub mod quarantine;
mod signing;
mod warm;
pub use warm::instances_used;
pub mod webhook_auth;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use bindings::wit;
use bindings::{ChannelPlugin, PluginPre};
use calls::finish;
use imports::{CallState, HostServices};
use outbound::OriginPattern;
use quarantine::{Quarantine, QuarantinePolicy, Verdict};
pub use switchboard_vocab::{Capabilities, Capability};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every plugin call.
#[derive(Debug, Clone)]
pub struct RuntimeLimits {
    /// Linear memory cap per instance.
    pub memory_bytes: usize,
    /// Deadline for `describe`, `validate` and `quote`: pure functions, no I/O.
    pub pure_deadline: Duration,
    /// Deadline for `send`, including the provider round trips it makes.
    pub send_deadline: Duration,
    /// Deadline for `handle-webhook`.
    pub webhook_deadline: Duration,
    /// How far from the gateway's clock a callback's signed time (`webhook-auth.signed-at`)
    /// may be, either way, before the callback is refused as a possible replay.
    pub callback_replay_window: Duration,
    /// Cap on one outbound request.
    pub http_timeout: Duration,
    pub http_max_requests_per_call: u32,
    pub http_max_response_bytes: usize,
    /// Instances alive at once (sizes the pooling allocator).
    pub max_instances: u32,
    /// Bytes one call may copy out of the guest: its result, or the arguments of one host
    /// call (wasmtime's hostcall fuel).
    pub max_output_bytes: usize,
    pub quarantine: QuarantinePolicy,
    /// Which internal addresses plugin requests may reach (none unless allow-listed).
    pub net: Arc<crate::netguard::NetPolicy>,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits {
            memory_bytes: 64 << 20,
            pure_deadline: Duration::from_millis(500),
            send_deadline: Duration::from_secs(15),
            webhook_deadline: Duration::from_secs(2),
            // Providers sign the time of the POST, so a genuine callback is seconds old; five
            // minutes leaves room for clock skew and a slow queue.
            callback_replay_window: Duration::from_secs(300),
            http_timeout: Duration::from_secs(10),
            http_max_requests_per_call: 4,
            http_max_response_bytes: 1 << 20,
            max_instances: 256,
            // Above the largest legitimate transfer (an email body going out through `http`),
            // far below wasmtime's default of 128 MiB, which times 256 instances is 32 GiB.
            max_output_bytes: 8 << 20,
            quarantine: QuarantinePolicy::default(),
            net: crate::netguard::NetPolicy::new(Vec::new()),
        }
    }
}

/// A secret value. Its `Debug` is redacted so it cannot reach a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The connection a call runs for: the only config and secrets the plugin can reach.
#[derive(Debug, Clone)]
pub struct ConnectionCtx {
    pub id: String,
    pub name: String,
    pub webhook_url: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
    /// Origins the operator allows beyond the manifest's (e.g. a sandbox simulator).
    pub allowed_origins: Vec<String>,
}

/// Why a plugin call failed as a call (as opposed to the plugin returning an error).
/// Every variant surfaces as failure reason `plugin_error` with this text as the detail.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` {export} exceeded its {ms} ms deadline")]
    Deadline {
        plugin: String,
        export: &'static str,
        ms: u128,
    },
    #[error("plugin `{plugin}` {export} exceeded its memory limit of {limit_mib} MiB")]
    Memory {
        plugin: String,
        export: &'static str,
        limit_mib: usize,
    },
    #[error("plugin `{plugin}` {export} trapped: {detail}")]
    Trap {
        plugin: String,
        export: &'static str,
        detail: String,
    },
    #[error("plugin `{plugin}` could not be instantiated: {detail}")]
    Instantiate { plugin: String, detail: String },
    #[error("plugin `{plugin}` {export} returned too much: {detail}")]
    Output {
        plugin: String,
        export: &'static str,
        detail: String,
    },
    /// Not a failure of this call: the call was not made. Surfaces as `plugin_quarantined`.
    #[error(
        "plugin `{plugin}` {calls} is quarantined on connection {connection} after repeated faults; next try in {} s (last fault: {last_fault})",
        retry_in_ms.div_ceil(1000)
    )]
    Quarantined {
        plugin: String,
        connection: String,
        calls: &'static str,
        retry_in_ms: u64,
        last_fault: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("wasmtime engine: {0}")]
    Engine(String),
    #[error("plugin {source_name}: {detail}")]
    Load { source_name: String, detail: String },
    #[error("plugin {source_name}: invalid manifest: {detail}")]
    Manifest { source_name: String, detail: String },
    #[error(transparent)]
    Call(#[from] CallError),
    /// Built against a plugin API this host does not support: refused before compiling.
    #[error(transparent)]
    Version(#[from] api_version::VersionError),
}

/// A plugin that was refused at load, kept so operators can see why (`GET /v1/plugins`).
#[derive(Debug, Clone)]
pub struct RefusedPlugin {
    pub source: String,
    pub error: String,
}

/// A compiled, linked plugin ready to instantiate.
pub struct LoadedPlugin {
    pub manifest: wit::Manifest,
    /// The plugin API version it was built against.
    pub api_version: api_version::ApiVersion,
    /// The manifest's capability strings, parsed once at load; host code checks these flags,
    /// never the strings.
    pub capabilities: Capabilities,
    /// Where it came from: `bundled` or a file path.
    pub source: String,
    pub from_cache: bool,
    pre: PluginPre,
    allowed_without_connection: Arc<[OriginPattern]>,
    /// Which load this is, so a warm instance of an earlier load is never used for it.
    generation: u64,
}

impl LoadedPlugin {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }
    pub fn channel(&self) -> &str {
        &self.manifest.channel
    }
    pub fn has(&self, c: Capability) -> bool {
        self.capabilities.contains(c)
    }
}

pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<CallState>,
    plugins: RwLock<HashMap<String, Arc<LoadedPlugin>>>,
    refused: RwLock<Vec<RefusedPlugin>>,
    limits: Arc<RuntimeLimits>,
    services: Arc<HostServices>,
    cache: cache::ArtifactCache,
    /// One permit per instance that may exist at once, held by the instance (in its
    /// [`imports::CallState`]) for as long as it lives, kept warm or not: the pooling
    /// allocator refuses an instance past `max_instances`, so a call waits for a permit
    /// instead of failing.
    slots: Arc<Semaphore>,
    allocator: &'static str,
    quarantine: Quarantine,
    warm: warm::WarmPool,
}

/// Load generations ([`LoadedPlugin::generation`]).
static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl PluginRuntime {
    pub fn new(
        limits: RuntimeLimits,
        cache_dir: Option<PathBuf>,
    ) -> Result<Arc<Self>, RuntimeError> {
        let (engine, allocator) = engine::build(&limits)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        ChannelPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;

        engine::start_epoch_ticker(&engine)?;

        let net = limits.net.clone();
        let client = |http2: bool| {
            let builder = net.guard(
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_max_idle_per_host(256),
            );
            // A plugin that asks for HTTP/2 gets it (ALPN over TLS, prior knowledge over
            // cleartext); one that does not speaks HTTP/1.1, one request per connection, as
            // it did over cleartext: reqwest would otherwise offer h2 by ALPN and put every
            // send to a provider on one multiplexed connection, whose loss is every answer's.
            let builder = if http2 {
                builder.http2_prior_knowledge()
            } else {
                builder.http1_only()
            };
            builder
                .build()
                .map_err(|e| RuntimeError::Engine(e.to_string()))
        };
        let slots = Arc::new(Semaphore::new(limits.max_instances as usize));
        let quarantine = Quarantine::new(limits.quarantine.clone());
        let limits = Arc::new(limits);
        let services = Arc::new(HostServices {
            limits: limits.clone(),
            client: client(false)?,
            client_h2: client(true)?,
            memo: memo::ConnectionCache::default(),
        });
        tracing::info!(allocator, "plugin runtime ready");
        Ok(Arc::new(PluginRuntime {
            engine,
            linker,
            plugins: RwLock::new(HashMap::new()),
            refused: RwLock::new(Vec::new()),
            limits,
            services,
            cache: cache::ArtifactCache::new(cache_dir),
            slots,
            allocator,
            quarantine,
            warm: warm::WarmPool::default(),
        }))
    }

    /// Drop what plugins cached for a connection (after its credentials change).
    pub fn forget_cached(&self, connection_id: &str) {
        self.services.memo.clear_connection(connection_id);
        self.warm.forget_connection(connection_id);
    }

    /// Idle warm instances kept for a connection ([`warm`]).
    pub fn warm_instances(&self, connection_id: &str) -> usize {
        self.warm.idle_for(connection_id)
    }

    /// `pooling` or `on-demand`: which instance allocator the engine ended up with.
    pub fn allocator(&self) -> &'static str {
        self.allocator
    }

    pub fn limits(&self) -> &RuntimeLimits {
        &self.limits
    }

    /// The connection's quarantined calls for this plugin.
    pub fn quarantine_state(
        &self,
        plugin: &str,
        connection: &str,
    ) -> Vec<quarantine::QuarantineState> {
        self.quarantine.state(plugin, connection)
    }

    /// Connections with a quarantined call now.
    pub fn quarantined(&self) -> usize {
        self.quarantine.count()
    }

    /// Run one call for a connection through its quarantine: refused while quarantined,
    /// and its outcome counted.
    pub(crate) async fn guarded<T>(
        &self,
        plugin: &LoadedPlugin,
        connection: &str,
        calls: &'static str,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        self.quarantine.admit(
            plugin.name(),
            connection,
            calls,
            switchboard_model::clock::now_ms(),
        )?;
        let r = call.await;
        self.quarantine.record(
            plugin.name(),
            connection,
            calls,
            Verdict::of(&r),
            switchboard_model::clock::now_ms(),
        );
        r
    }

    /// Compile (or load from cache), link, smoke-test with `describe`, then register.
    /// A plugin with the same name replaces the old one; calls already running finish on the
    /// old instance-pre.
    pub async fn load(
        self: &Arc<Self>,
        source: &str,
        wasm: Vec<u8>,
    ) -> Result<Arc<LoadedPlugin>, RuntimeError> {
        let api_version = match api_version::check(source, &wasm) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(source, error = %e, "plugin refused");
                self.refused
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(RefusedPlugin {
                        source: source.to_string(),
                        error: e.to_string(),
                    });
                return Err(e.into());
            }
        };
        let this = self.clone();
        let source_name = source.to_string();
        let (component, from_cache) =
            tokio::task::spawn_blocking(move || this.cache.load(&this.engine, &wasm))
                .await
                .map_err(|e| RuntimeError::Load {
                    source_name: source_name.clone(),
                    detail: e.to_string(),
                })?
                .map_err(|e| RuntimeError::Load {
                    source_name: source_name.clone(),
                    detail: format!("{e:#}"),
                })?;
        let load_err = |e: wasmtime::Error| RuntimeError::Load {
            source_name: source_name.clone(),
            detail: format!("{e:#}"),
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(load_err)?;
        let pre = PluginPre::new(api_version, instance_pre).map_err(load_err)?;

        let manifest = {
            let (mut store, inst) = self
                .instantiate(&pre, source, None, Arc::from([]), self.limits.pure_deadline)
                .await?;
            let started = Instant::now();
            let r = tokio::time::timeout(self.limits.pure_deadline, inst.call_describe(&mut store))
                .await;
            finish(
                source,
                "describe",
                &store,
                started,
                self.limits.pure_deadline,
                r,
            )?
        };
        manifest::check(&manifest).map_err(|detail| RuntimeError::Manifest {
            source_name: source_name.clone(),
            detail,
        })?;
        let allowed: Arc<[OriginPattern]> =
            outbound::allow_list(&manifest.outbound_hosts, None).into();
        let mut capabilities = manifest::capabilities(&manifest);
        // Senders came with API 0.4: an older plugin cannot be given one, whatever it says.
        if api_version < api_version::ApiVersion::new(0, 4, 0) {
            capabilities.remove(Capability::SenderDomains);
        }
        let plugin = Arc::new(LoadedPlugin {
            manifest,
            api_version,
            capabilities,
            source: source_name,
            from_cache,
            pre,
            allowed_without_connection: allowed,
            generation: NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        });
        self.plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(plugin.name().to_string(), plugin.clone());
        self.quarantine.forget_plugin(plugin.name());
        self.warm.forget_plugin(plugin.name());
        tracing::info!(
            plugin = plugin.name(),
            channel = plugin.channel(),
            from_cache,
            api_version = %plugin.api_version,
            "plugin loaded"
        );
        Ok(plugin)
    }

    pub fn plugin(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Plugins refused at load because of their API version, in load order.
    pub fn refused(&self) -> Vec<RefusedPlugin> {
        self.refused
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loaded plugins, sorted by name.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        let mut all: Vec<_> = self
            .plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }
}
