//! Wiring: open the store, load plugins, start the simulators when asked, and serve.

mod config;
mod services;
pub mod shared_caches;

pub use config::{GatewayConfig, KeyedLimiter, Rate, StartError};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::connections::Connections;
use crate::dispatch::Dispatcher;
use crate::events::worker::WebhookConfig;
use crate::metrics::Metrics;
use crate::netguard::NetPolicy;
use crate::runtime::{PluginRuntime, RuntimeError};
use crate::store::Store;
use crate::vault::Vault;

/// What the request handlers share, behind one `Arc`: the services they call and the
/// handles some of them still use directly (the store, the registries, the configuration).
pub struct Gateway {
    pub store: Arc<Store>,
    /// The delivery lifecycle: accepts, claims, attempts and status reports, each one commit.
    pub deliveries: crate::lifecycle::Deliveries,
    /// Routed messages: accepts them and carries their plans out.
    pub router: Arc<crate::routing::Router>,
    /// Provider callbacks.
    pub callbacks: crate::callbacks::Callbacks,
    /// The event feed and webhook endpoints.
    pub event_log: crate::events::EventLog,
    /// The apps' signed push receipts.
    pub receipts: crate::receipts::Receipts,
    /// From a parsed request to a planned delivery.
    pub intake: Arc<crate::intake::Intake>,
    /// Policy lookup: the workspace's own, the config file's, the built-in.
    pub policies: Arc<crate::routing::policies::Policies>,
    /// From a routed request to its plan.
    pub planner: Arc<crate::routing::plan::Planner>,
    /// Presence and the follow-ups it sends.
    pub followups: Arc<crate::followup::FollowUps>,
    /// Sender domains and the workspace's follow-up sender.
    pub sender_domains: Arc<crate::sender_domains::SenderDomains>,
    /// Importing a connection's conversations.
    pub contact_sync: crate::contact_sync::ContactSync,
    /// Balances, holds' reads, prices and top-ups.
    pub wallets: Arc<crate::billing::Wallets>,
    /// Charging top-ups through the card processor.
    pub topups: Arc<crate::billing::TopUps>,
    /// "Connect with Facebook" (the console's sign-in that connects pages).
    pub facebook: crate::facebook_login::FacebookLogin,
    pub runtime: Arc<PluginRuntime>,
    pub connections: Arc<Connections>,
    pub dispatcher: Arc<Dispatcher>,
    pub metrics: Arc<Metrics>,
    pub public_url: String,
    pub max_body_bytes: usize,
    /// The simulators' base URL in sandbox mode (their clock follows the gateway's).
    pub sandbox_url: Option<String>,
    // The API's authentication state, read by `switchboard-api`'s extractors: kept here
    // because it lives as long as the gateway and the limiters' pruning loop shares it.
    /// API key digest -> (workspace, scopes); filled on first use so auth costs no query per
    /// request, emptied of a key when it is revoked.
    pub key_cache: RwLock<HashMap<String, crate::model::KeyHolder>>,
    /// Counts revocations, so a lookup racing one does not cache the revoked key.
    pub key_revocations: std::sync::atomic::AtomicU64,
    pub operator_key_hash: Option<String>,
    pub key_limiter: Option<Arc<KeyedLimiter>>,
    pub callback_limiter: Option<Arc<KeyedLimiter>>,
    pub max_callback_bytes: usize,
    /// Opens and seals secrets at rest.
    pub vault: Arc<Vault>,
    /// Where outbound HTTP may go.
    pub net: Arc<NetPolicy>,
    pub webhooks: WebhookConfig,
}

/// A console member the sandbox made: `(email, role, password)`.
pub type ConsoleMember = (String, crate::model::Role, String);

/// A running gateway. Dropping it does not stop the server; call [`Running::serve`].
pub struct Running {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    /// The sandbox workspace's API key, in sandbox mode.
    pub sandbox_key: Option<String>,
    /// Its billing-scoped key (only `/v1/billing`).
    pub sandbox_billing_key: Option<String>,
    /// The console's sandbox members, in sandbox mode.
    pub sandbox_console: Vec<ConsoleMember>,
    /// In-process simulators, when started here.
    #[cfg(feature = "sandbox")]
    pub sandbox: Option<switchboard_sandbox::SandboxHandle>,
    /// Taken by the API when it starts serving.
    listener: Option<tokio::net::TcpListener>,
    _lock: std::fs::File,
}

pub async fn start(config: GatewayConfig) -> Result<Running, StartError> {
    let lock = lock_data_dir(&config.data_dir)?;
    let store = Arc::new(match &config.database {
        Some(url) => {
            let url = url.clone();
            tokio::task::spawn_blocking(move || Store::open_postgres(&url))
                .await
                .map_err(|e| StartError::Io {
                    what: "opening the database".into(),
                    detail: e.to_string(),
                })??
        }
        None => Store::open(&config.data_dir)?,
    });
    let wallets = Arc::new(crate::billing::Wallets::new(store.clone()));
    let node = read_or_create_secret_file(&config.data_dir.join("node.id"), || {
        format!("n{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
    })?;
    let net = config.limits.net.clone();
    for entry in &config.allow_private_net {
        net.allow(entry.clone());
    }
    // The simulators come first in sandbox mode: the runtime's HTTP clients are built with
    // the names and the CA they bring, and simulators in another process bring their clock,
    // which must be ours before the lease recovery below dates the attempts it ends.
    #[cfg(feature = "sandbox")]
    let simulators = if config.sandbox {
        Some(crate::sandbox_setup::start_simulators(config.sandbox_url.clone(), &net).await?)
    } else {
        None
    };
    let deliveries = crate::lifecycle::Deliveries::new(store.clone(), &node);
    // We hold the data-directory lock, so no other process of this node can own these.
    let released = deliveries.release_leases().await?;
    if released > 0 {
        tracing::info!(
            released,
            "recovered deliveries leased by a previous process"
        );
    }

    let vault = Arc::new(open_vault(&config)?);
    let event_log = crate::events::EventLog::new(store.clone());
    let resealed = crate::connections::reseal_secrets(&store, vault.clone()).await?
        + event_log.reseal_endpoint_secrets(vault.clone()).await?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            key = vault.primary_id(),
            "secrets sealed under the current master key"
        );
    }
    let operator_key = match &config.operator_key {
        Some(k) => k.clone(),
        None => read_or_create_secret_file(&config.data_dir.join("operator.key"), || {
            format!(
                "sk_operator_{}",
                crate::tenancy::new_api_key().trim_start_matches("sk_")
            )
        })?,
    };

    let runtime = PluginRuntime::new(
        config.limits.clone(),
        Some(config.data_dir.join("plugin-cache")),
    )?;
    for (name, wasm) in config.bundled {
        runtime
            .load(&format!("bundled:{name}"), wasm.to_vec())
            .await?;
    }
    if let Some(dir) = &config.plugins_dir {
        load_dir(&runtime, dir).await?;
    }
    let config_policies = services::config_policies(&config, &runtime)?;

    let prices = match &config.prices_file {
        Some(path) => (
            crate::billing::prices::load_file(path).map_err(StartError::Prices)?,
            "config",
        ),
        None => (crate::billing::prices::built_in(), "built-in"),
    };
    wallets.set_gateway_prices(prices.0, prices.1).await?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Io {
            what: format!("bind {}", config.listen),
            detail: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Io {
        what: "local_addr".into(),
        detail: e.to_string(),
    })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    // In sandbox mode: the sandbox workspace's keys, the simulators' address, and the
    // simulators themselves when they run in this process.
    #[cfg(feature = "sandbox")]
    let (sandbox_key, sandbox_billing_key, sandbox_url, sandbox, sandbox_console) =
        if let Some(simulators) = simulators {
            let setup = crate::sandbox_setup::prepare(
                &store,
                &runtime,
                &config.data_dir,
                simulators,
                &public_url,
                &vault,
            )
            .await?;
            crate::sandbox_setup::seed_wallet(&wallets).await?;
            (
                Some(setup.api_key),
                Some(setup.billing_key),
                Some(setup.base_url),
                setup.handle,
                setup.console_members,
            )
        } else {
            (None, None, None, None, Vec::new())
        };
    #[cfg(not(feature = "sandbox"))]
    let (sandbox_key, sandbox_billing_key, sandbox_url, sandbox_console): (
        Option<String>,
        Option<String>,
        Option<String>,
        Vec<ConsoleMember>,
    ) = if config.sandbox {
        return Err(StartError::Sandbox(
            "this build has no provider simulators: rebuild with the `sandbox` cargo feature (on by default)".into(),
        ));
    } else {
        (None, None, None, Vec::new())
    };

    let payments = services::payment_processor(&config, sandbox_url.as_ref())?;

    let webhook_client =
        crate::events::worker::client(&net, config.webhooks.timeout).map_err(|e| {
            StartError::Io {
                what: "webhook delivery HTTP client".into(),
                detail: e.to_string(),
            }
        })?;
    // After the simulators: in sandbox mode their address is on the allow-list by now.
    let media_probe = crate::media_probe::MediaProbe::new(net.clone(), config.media_probe.clone())
        .map_err(|e| StartError::Io {
            what: "media probe HTTP client".into(),
            detail: e.to_string(),
        })?;
    let connections = Arc::new(Connections::default());
    connections.reload(&store, &vault, &public_url).await?;
    let metrics = Arc::new(Metrics::default());
    let dispatcher = Dispatcher::new(
        deliveries.clone(),
        store.clone(),
        runtime.clone(),
        connections.clone(),
        metrics.clone(),
        config.dispatch.clone(),
    );
    tokio::spawn(dispatcher.clone().run());
    let router = crate::routing::Router::new(store.clone(), dispatcher.clone());
    tokio::spawn(router.clone().run());

    let core = services::Core {
        store,
        runtime,
        connections,
        deliveries,
        wallets,
        dispatcher,
        router,
        metrics,
        media_probe,
    };
    let services::Services {
        callbacks,
        receipts,
        intake,
        policies,
        planner,
        followups,
        sender_domains,
        topups,
        contact_sync,
    } = services::Services::build(&core, config_policies, payments);
    tokio::spawn(followups.clone().run());
    tokio::spawn(topups.clone().run());
    tokio::spawn(
        crate::status_lookup::StatusLookups::new(
            config.status_lookup.clone(),
            core.store.clone(),
            core.deliveries.clone(),
            core.connections.clone(),
            core.runtime.clone(),
        )
        .run(),
    );
    tokio::spawn(crate::events::worker::run(
        event_log.clone(),
        vault.clone(),
        net.clone(),
        config.webhooks.clone(),
        webhook_client,
    ));
    let key_limiter = config.key_rate.limiter().map(Arc::new);
    let callback_limiter = config.callback_rate.limiter().map(Arc::new);
    tokio::spawn(prune_limiters(
        [&key_limiter, &callback_limiter]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
    ));
    #[cfg(feature = "sandbox")]
    let facebook_app = config.facebook.clone().or_else(|| {
        sandbox_url
            .as_deref()
            .map(crate::sandbox_setup::facebook_app)
    });
    #[cfg(not(feature = "sandbox"))]
    let facebook_app = config.facebook.clone();
    let facebook = crate::facebook_login::FacebookLogin::new(
        facebook_app,
        core.store.clone(),
        vault.clone(),
        core.connections.clone(),
        core.runtime.clone(),
        public_url.clone(),
        sandbox_url.clone(),
    );
    let gateway = Arc::new(Gateway {
        facebook,
        event_log,
        callbacks,
        receipts,
        intake,
        policies,
        planner,
        followups,
        sender_domains,
        contact_sync,
        topups,
        store: core.store,
        deliveries: core.deliveries,
        router: core.router,
        wallets: core.wallets,
        runtime: core.runtime,
        connections: core.connections,
        dispatcher: core.dispatcher,
        metrics: core.metrics,
        public_url,
        max_body_bytes: config.max_body_bytes,
        sandbox_url,
        key_cache: RwLock::new(HashMap::new()),
        key_revocations: std::sync::atomic::AtomicU64::new(0),
        operator_key_hash: Some(crate::tenancy::hash_api_key(&operator_key)),
        key_limiter,
        callback_limiter,
        max_callback_bytes: config.max_callback_bytes,
        vault,
        net,
        webhooks: config.webhooks.clone(),
    });
    tokio::spawn(shared_caches::watch(gateway.clone()));
    tokio::spawn(crate::no_reply::run(gateway.clone()));
    tokio::spawn(crate::automations::engine::run(gateway.clone()));
    tokio::spawn(crate::rules::run(gateway.clone()));
    tokio::spawn(crate::digest::run(gateway.clone()));
    tokio::spawn(crate::chat_switch::auto_reply::run(gateway.clone()));
    Ok(Running {
        addr,
        gateway,
        sandbox_key,
        sandbox_billing_key,
        sandbox_console,
        #[cfg(feature = "sandbox")]
        sandbox,
        listener: Some(listener),
        _lock: lock,
    })
}

impl Running {
    /// The bound listener, for the API to serve on; the rest stays with the caller.
    pub fn take_listener(&mut self) -> Option<tokio::net::TcpListener> {
        self.listener.take()
    }
}

/// The master keys: configured, or the data directory's key file (created on first start).
fn open_vault(config: &GatewayConfig) -> Result<Vault, StartError> {
    let keys = match &config.master_keys {
        Some(keys) => keys.clone(),
        None => {
            let path = config.data_dir.join("master.key");
            let keys = crate::vault::load_or_create_key_file(&path)
                .map_err(|e| StartError::MasterKey(format!("{}: {e}", path.display())))?;
            tracing::warn!(
                path = %path.display(),
                "secrets are sealed with a master key kept in the data directory; in production pass SWITCHBOARD_MASTER_KEY from a secret store"
            );
            keys
        }
    };
    Vault::new(keys).map_err(|e| StartError::MasterKey(e.to_string()))
}

/// A secret kept in a 0600 file in the data directory, created on first start.
fn read_or_create_secret_file(
    path: &Path,
    make: impl FnOnce() -> String,
) -> Result<String, StartError> {
    let io = |e: std::io::Error| StartError::Io {
        what: format!("{}", path.display()),
        detail: e.to_string(),
    };
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Ok(_) => Err(StartError::Io {
            what: format!("{}", path.display()),
            detail: "is empty; delete it to have a new key made".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let value = make();
            crate::vault::write_private(path, &value).map_err(io)?;
            Ok(value)
        }
        Err(e) => Err(io(e)),
    }
}

/// Limiters keep a cell per key; drop the ones that have refilled, hourly.
async fn prune_limiters(limiters: Vec<Arc<KeyedLimiter>>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        for l in &limiters {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

async fn load_dir(runtime: &Arc<PluginRuntime>, dir: &Path) -> Result<(), StartError> {
    let io = |e: std::io::Error| StartError::Io {
        what: format!("plugins dir {}", dir.display()),
        detail: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    paths.sort();
    for path in paths {
        let wasm = std::fs::read(&path).map_err(io)?;
        match runtime.load(&path.display().to_string(), wasm).await {
            Ok(_) => {}
            // A third-party plugin built for another API version must not keep the
            // gateway's own channels down: it is logged, listed under `refused` in
            // `GET /v1/plugins`, and skipped. Other load failures still stop the start, as
            // a broken plugin is an operator error to fix before serving.
            Err(RuntimeError::Version(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One process per data directory: the dispatcher's crash recovery relies on it.
fn lock_data_dir(dir: &Path) -> Result<std::fs::File, StartError> {
    std::fs::create_dir_all(dir).map_err(|e| StartError::Io {
        what: format!("create {}", dir.display()),
        detail: e.to_string(),
    })?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(|e| StartError::Io {
            what: "open lock file".into(),
            detail: e.to_string(),
        })?;
    file.try_lock()
        .map_err(|_| StartError::Locked(dir.to_path_buf()))?;
    Ok(file)
}
