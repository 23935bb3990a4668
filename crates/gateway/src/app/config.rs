//! What the operator configures a gateway with, and what can stop it starting.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::dispatch::DispatchConfig;
use crate::events::worker::WebhookConfig;
use crate::netguard::AllowEntry;
use crate::runtime::{RuntimeError, RuntimeLimits};
use crate::store::StoreError;
use crate::vault::MasterKey;

/// A keyed GCRA limiter (per API key digest, per connection id).
pub type KeyedLimiter = governor::DefaultKeyedRateLimiter<String>;

/// A rate: sustained requests per second and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub(super) fn limiter(self) -> Option<KeyedLimiter> {
        let per_second = std::num::NonZeroU32::new(self.per_second)?;
        let burst = std::num::NonZeroU32::new(self.burst.max(self.per_second))?;
        Some(governor::RateLimiter::keyed(
            governor::Quota::per_second(per_second).allow_burst(burst),
        ))
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// This node's own files: the plugin cache, its lock, and (on SQLite) the database.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL: the database several nodes share. `None` keeps the embedded SQLite
    /// file under `data_dir`.
    pub database: Option<String>,
    pub listen: SocketAddr,
    /// Base URL providers use to reach this gateway; default `http://<listen address>`.
    pub public_url: Option<String>,
    /// Create the sandbox workspace and point every bundled channel at the simulators.
    pub sandbox: bool,
    /// Use simulators already running there instead of starting them in process.
    pub sandbox_url: Option<String>,
    /// The plugins that ship with the binary, `(name, component bytes)`; the binary passes
    /// `switchboard_bundled_plugins::PLUGINS`, so the host library never embeds a plugin.
    pub bundled: &'static [(&'static str, &'static [u8])],
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
    /// The Facebook app behind the console's "Connect with Facebook"; in sandbox mode, the
    /// simulator's.
    pub facebook: Option<crate::facebook_login::FacebookApp>,
    pub limits: RuntimeLimits,
    pub dispatch: DispatchConfig,
    pub max_body_bytes: usize,
    /// Provider callbacks may be larger (batched events), still bounded.
    pub max_callback_bytes: usize,
    /// Master keys sealing secrets at rest, the sealing one first; `None` reads (or
    /// creates) `<data-dir>/master.key`.
    pub master_keys: Option<Vec<MasterKey>>,
    /// The operator key (creates workspaces); `None` reads (or creates)
    /// `<data-dir>/operator.key`.
    pub operator_key: Option<String>,
    /// Internal addresses plugins and webhook deliveries may reach.
    pub allow_private_net: Vec<AllowEntry>,
    /// Per API key; `per_second` 0 turns it off.
    pub key_rate: Rate,
    /// Per connection, on provider callbacks; `per_second` 0 turns it off.
    pub callback_rate: Rate,
    pub webhooks: WebhookConfig,
    pub status_lookup: crate::status_lookup::StatusLookupConfig,
    /// How attachments' URLs are asked what they serve before a message is accepted.
    pub media_probe: crate::media_probe::ProbeConfig,
}

impl GatewayConfig {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        GatewayConfig {
            data_dir: data_dir.into(),
            database: None,
            listen,
            public_url: None,
            sandbox: false,
            sandbox_url: None,
            bundled: &[],
            plugins_dir: None,
            policies_file: None,
            prices_file: None,
            payments_url: None,
            payments_key: None,
            facebook: None,
            limits: RuntimeLimits::default(),
            dispatch: DispatchConfig::default(),
            max_body_bytes: 256 * 1024,
            max_callback_bytes: 1024 * 1024,
            master_keys: None,
            operator_key: None,
            allow_private_net: Vec::new(),
            key_rate: Rate {
                per_second: 2_000,
                burst: 4_000,
            },
            callback_rate: Rate {
                per_second: 10_000,
                burst: 20_000,
            },
            webhooks: WebhookConfig::default(),
            status_lookup: Default::default(),
            media_probe: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Billing(#[from] crate::billing::BillingError),
    #[error(transparent)]
    Connections(#[from] crate::connections::ConnectionsError),
    #[error(transparent)]
    EndpointSecrets(#[from] crate::events::log::EndpointSecretError),
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
    #[cfg(feature = "sandbox")]
    #[error(transparent)]
    SandboxSetup(#[from] crate::sandbox_setup::SandboxError),
    #[error("master key: {0}")]
    MasterKey(String),
}
