//! Wiring: open the store, load plugins, start the simulators when asked, and serve.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::connections::Connections;
use crate::dispatch::{DispatchConfig, Dispatcher};
use crate::metrics::Metrics;
use crate::runtime::{PluginRuntime, RuntimeError, RuntimeLimits};
use crate::store::{Store, StoreError};
use crate::{api, sandbox_setup};

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Base URL providers use to reach this gateway; default `http://<listen address>`.
    pub public_url: Option<String>,
    /// Create the sandbox workspace and point every bundled channel at the simulators.
    pub sandbox: bool,
    /// Use simulators already running there instead of starting them in process.
    pub sandbox_url: Option<String>,
    /// Extra plugins (`*.wasm` components) to load.
    pub plugins_dir: Option<PathBuf>,
    /// Routing policies shared by every workspace (a JSON array).
    pub policies_file: Option<PathBuf>,
    /// Prices shared by every workspace (a JSON array); the built-in list without it.
    pub prices_file: Option<PathBuf>,
    /// The card processor for wallet top-ups (Stripe Charges API format) and its secret key.
    /// In sandbox mode the simulators' processor is used.
    pub payments_url: Option<String>,
    pub payments_key: Option<String>,
    pub limits: RuntimeLimits,
    pub dispatch: DispatchConfig,
    pub max_body_bytes: usize,
}

impl GatewayConfig {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        GatewayConfig {
            data_dir: data_dir.into(),
            listen,
            public_url: None,
            sandbox: false,
            sandbox_url: None,
            plugins_dir: None,
            policies_file: None,
            prices_file: None,
            payments_url: None,
            payments_key: None,
            limits: RuntimeLimits::default(),
            dispatch: DispatchConfig::default(),
            max_body_bytes: 256 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{what}: {detail}")]
    Io { what: String, detail: String },
    #[error("data directory {0} is in use by another switchboard process")]
    Locked(PathBuf),
    #[error("policies: {0}")]
    Policies(String),
    #[error("prices: {0}")]
    Prices(String),
    #[error("payments: {0}")]
    Payments(String),
    #[error("sandbox: {0}")]
    Sandbox(String),
}

/// Everything a request handler or the dispatcher needs, shared behind one `Arc`.
pub struct Gateway {
    pub store: Arc<Store>,
    pub runtime: Arc<PluginRuntime>,
    pub connections: Arc<Connections>,
    pub dispatcher: Arc<Dispatcher>,
    pub metrics: Arc<Metrics>,
    pub public_url: String,
    pub max_body_bytes: usize,
    /// The simulators' base URL in sandbox mode (their clock follows the gateway's).
    pub sandbox_url: Option<String>,
    /// Policies from the config file (read-only at run time).
    pub config_policies: Vec<crate::routing::policy::Policy>,
    /// API key digest -> (workspace, scope); filled on first use so auth costs no query per
    /// request.
    pub(crate) key_cache: RwLock<HashMap<String, (String, String)>>,
    /// The card processor for top-ups, if one is configured.
    pub payments: Option<Arc<dyn crate::billing::payments::PaymentProcessor>>,
    pub(crate) billing_wake: tokio::sync::Notify,
}

/// A running gateway. Dropping it does not stop the server; call [`Running::serve`].
pub struct Running {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    /// The sandbox workspace's API key, in sandbox mode.
    pub sandbox_key: Option<String>,
    /// Its billing-scoped key (only `/v1/billing`).
    pub sandbox_billing_key: Option<String>,
    /// In-process simulators, when started here.
    pub sandbox: Option<switchboard_sandbox::SandboxHandle>,
    listener: tokio::net::TcpListener,
    _lock: std::fs::File,
}

pub async fn start(config: GatewayConfig) -> Result<Running, StartError> {
    let lock = lock_data_dir(&config.data_dir)?;
    let store = Arc::new(Store::open(&config.data_dir)?);
    // We hold the data-directory lock, so no other dispatcher can own these leases.
    let released = store.release_leases().await?;
    if released > 0 {
        tracing::info!(
            released,
            "recovered deliveries leased by a previous process"
        );
    }

    let runtime = PluginRuntime::new(
        config.limits.clone(),
        Some(config.data_dir.join("plugin-cache")),
    )?;
    for (name, wasm) in crate::bundled::PLUGINS {
        runtime
            .load(&format!("bundled:{name}"), wasm.to_vec())
            .await?;
    }
    if let Some(dir) = &config.plugins_dir {
        load_dir(&runtime, dir).await?;
    }
    let config_policies = match &config.policies_file {
        Some(path) => {
            let mut channels: Vec<String> = runtime
                .plugins()
                .iter()
                .map(|p| p.channel().to_string())
                .collect();
            channels.sort();
            channels.dedup();
            crate::routing::policies::load_file(path, &channels)
                .map_err(|e| StartError::Policies(e.to_string()))?
        }
        None => Vec::new(),
    };

    let prices = match &config.prices_file {
        Some(path) => (
            crate::billing::prices::load_file(path).map_err(StartError::Prices)?,
            "config",
        ),
        None => (crate::billing::prices::built_in(), "built-in"),
    };
    store.set_gateway_prices(prices.0, prices.1).await?;

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

    let mut sandbox_key = None;
    let mut sandbox_billing_key = None;
    let mut sandbox = None;
    let mut sandbox_url = None;
    if config.sandbox {
        let setup = sandbox_setup::prepare(
            &store,
            &runtime,
            &config.data_dir,
            config.sandbox_url.clone(),
            &public_url,
        )
        .await?;
        sandbox_key = Some(setup.api_key);
        sandbox_billing_key = Some(setup.billing_key);
        sandbox = setup.handle;
        sandbox_url = Some(setup.base_url);
    }

    use crate::billing::payments::{PaymentProcessor, StripeCharges};
    let processor = match (&config.payments_url, &config.payments_key, &sandbox_url) {
        (Some(url), Some(key), _) => Some(StripeCharges::new(url, key)),
        (Some(_), None, _) => {
            return Err(StartError::Payments(
                "--payments-url needs SWITCHBOARD_PAYMENTS_KEY".into(),
            ));
        }
        (None, _, Some(sim)) => Some(StripeCharges::new(
            sim,
            switchboard_sandbox::SANDBOX_PAYMENTS_SECRET_KEY,
        )),
        (None, _, None) => None,
    };
    let payments: Option<Arc<dyn PaymentProcessor>> = match processor {
        Some(p) => Some(Arc::new(
            p.map_err(|e| StartError::Payments(e.to_string()))?,
        )),
        None => None,
    };

    let connections = Arc::new(Connections::default());
    connections.reload(&store, &public_url).await?;
    let metrics = Arc::new(Metrics::default());
    let dispatcher = Dispatcher::new(
        store.clone(),
        runtime.clone(),
        connections.clone(),
        metrics.clone(),
        config.dispatch.clone(),
    );
    tokio::spawn(dispatcher.clone().run());
    tokio::spawn(crate::routing::Router::new(store.clone(), dispatcher.clone()).run());

    let gateway = Arc::new(Gateway {
        store,
        runtime,
        connections,
        dispatcher,
        metrics,
        public_url,
        max_body_bytes: config.max_body_bytes,
        sandbox_url,
        config_policies,
        key_cache: RwLock::new(HashMap::new()),
        payments,
        billing_wake: tokio::sync::Notify::new(),
    });
    tokio::spawn(crate::followup::run(gateway.clone()));
    tokio::spawn(crate::billing::run(gateway.clone()));
    Ok(Running {
        addr,
        gateway,
        sandbox_key,
        sandbox_billing_key,
        sandbox,
        listener,
        _lock: lock,
    })
}

impl Running {
    /// Serve the HTTP API until the process ends.
    pub async fn serve(self) -> Result<(), StartError> {
        let app = api::router(self.gateway.clone());
        axum::serve(self.listener, app)
            .await
            .map_err(|e| StartError::Io {
                what: "serve".into(),
                detail: e.to_string(),
            })
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
        runtime.load(&path.display().to_string(), wasm).await?;
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
