//! `serve --sandbox`: a workspace and a connection per loaded plugin, talking to the provider
//! simulators, so the gateway works end to end on a machine with no provider accounts. The
//! plugins keep their providers' real base URLs: the simulators serve TLS for those host
//! names with a CA made at start-up, and only in sandbox mode does the network policy resolve
//! the names to them and trust that CA.

use std::path::Path;
use std::sync::Arc;

use rand::Rng;

use crate::billing::Wallets;
use crate::connections::secrets_owner;
use crate::model::Role;
use crate::netguard::{AllowEntry, NetPolicy, SandboxTransport};
use crate::runtime::PluginRuntime;
use crate::store::{ConnectionRecord, Store};
use crate::tenancy::{Scope, Scopes};
use crate::vault::Vault;

/// Why sandbox mode could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Billing(#[from] crate::billing::BillingError),
    #[error("sandbox: {0}")]
    Setup(String),
    #[error("sealing a sandbox connection's secrets: {0}")]
    Seal(String),
    #[error("{what}: {detail}")]
    Io { what: String, detail: String },
}

pub const SANDBOX_WORKSPACE: &str = "ws_sandbox";

/// The sandbox wallet's opening paid balance: $100,000, enough for any benchmark.
pub const SANDBOX_SEED_MICROS: i64 = 100_000 * 1_000_000;

pub struct SandboxSetup {
    pub api_key: String,
    pub billing_key: String,
    /// The console's sandbox members: `(email, role, password)`.
    pub console_members: Vec<(String, Role, String)>,
    pub base_url: String,
    pub handle: Option<switchboard_sandbox::SandboxHandle>,
}

/// The simulators, running: their plain-HTTP address (control API, the recording receiver,
/// the stub provider) and, in this process, their handle.
pub struct Simulators {
    pub base_url: String,
    pub handle: Option<switchboard_sandbox::SandboxHandle>,
}

/// Starts the simulators in this process (or finds the ones at `sandbox_url`) and points
/// the providers' real host names at their TLS listener, trusting the CA they made. Runs
/// before the plugin runtime builds its HTTP clients, which take both from `net`.
pub async fn start_simulators(
    sandbox_url: Option<String>,
    net: &NetPolicy,
) -> Result<Simulators, SandboxError> {
    let (base_url, handle, transport) = match sandbox_url {
        Some(url) => {
            let base_url = url.trim_end_matches('/').to_string();
            let transport = remote_transport(&base_url).await?;
            adopt_clock(&base_url).await?;
            (base_url, None, transport)
        }
        None => {
            let listen = "127.0.0.1:0"
                .parse()
                .map_err(|e: std::net::AddrParseError| SandboxError::Setup(e.to_string()))?;
            let handle =
                switchboard_sandbox::start(listen, switchboard_sandbox::SandboxConfig::default())
                    .await
                    .map_err(|e| SandboxError::Setup(e.to_string()))?;
            let transport = SandboxTransport {
                hosts: switchboard_sandbox::PROVIDER_HOSTS
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
                addr: handle.tls_addr,
                ca_pem: handle.ca_pem().to_string(),
            };
            (handle.base_url(), Some(handle), transport)
        }
    };
    tracing::info!(tls = %transport.addr, hosts = transport.hosts.len(), "provider host names resolve to the simulators");
    net.use_sandbox_transport(transport);
    allow_simulators(&base_url, net).await?;
    Ok(Simulators { base_url, handle })
}

/// Simulators in another process outlive a gateway, and their clock with them: a gateway
/// that starts (or restarts after a crash) takes their offset before any work, or it would
/// time its attempts minutes away from the times the providers record, and a lookup of a
/// lost send by its time would miss it.
async fn adopt_clock(base_url: &str) -> Result<(), SandboxError> {
    #[derive(serde::Deserialize)]
    struct Clock {
        offset_ms: i64,
    }
    let clock: Clock = ask(&format!("{base_url}/_sandbox/clock"), "their clock").await?;
    crate::clock::advance_to_offset(clock.offset_ms);
    Ok(())
}

/// One answer of the simulators' control API.
async fn ask<T: serde::de::DeserializeOwned>(url: &str, what: &str) -> Result<T, SandboxError> {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| SandboxError::Setup(format!("asking the simulators for {what} ({url}): {e}")))?
        .json()
        .await
        .map_err(|e| SandboxError::Setup(format!("reading {url}: {e}")))
}

/// What a `switchboard sandbox` process in another process serves TLS on.
async fn remote_transport(base_url: &str) -> Result<SandboxTransport, SandboxError> {
    #[derive(serde::Deserialize)]
    struct Tls {
        addr: std::net::SocketAddr,
        ca_pem: String,
        hosts: Vec<String>,
    }
    let tls: Tls = ask(&format!("{base_url}/_sandbox/tls"), "their TLS listener").await?;
    Ok(SandboxTransport {
        hosts: tls.hosts,
        addr: tls.addr,
        ca_pem: tls.ca_pem,
    })
}

pub async fn prepare(
    store: &Store,
    runtime: &Arc<PluginRuntime>,
    data_dir: &Path,
    simulators: Simulators,
    public_url: &str,
    vault: &Vault,
) -> Result<SandboxSetup, SandboxError> {
    let Simulators { base_url, handle } = simulators;
    store.ensure_workspace(SANDBOX_WORKSPACE, "Sandbox").await?;
    let api_key = sandbox_key(
        store,
        data_dir,
        "sandbox.key",
        Scopes::of(&[Scope::Send, Scope::Read, Scope::Admin]),
    )
    .await?;
    let billing_key = sandbox_key(
        store,
        data_dir,
        "sandbox-billing.key",
        Scopes::of(&[Scope::Billing]),
    )
    .await?;
    let mut console_members = Vec::new();
    for (email, name, role, file) in [
        (
            "admin@sandbox.test",
            "Sandbox admin",
            Role::Admin,
            "sandbox-admin.password",
        ),
        (
            "billing@sandbox.test",
            "Sandbox billing",
            Role::Billing,
            "sandbox-billing.password",
        ),
    ] {
        let password = sandbox_secret(data_dir, file)?;
        crate::tenancy::members::ensure_member(
            store,
            SANDBOX_WORKSPACE,
            email,
            name,
            role,
            &password,
        )
        .await
        .map_err(|e| SandboxError::Setup(format!("console member {email}: {e}")))?;
        console_members.push((email.to_string(), role, password));
    }
    let mut settings = switchboard_sandbox::accounts::SimulatorSettings::default();
    for plugin in runtime.plugins() {
        for sc in switchboard_sandbox::accounts::connections(plugin.name(), &base_url) {
            let webhook = crate::connections::webhook_url(public_url, &sc.id);
            settings.add(plugin.name(), &sc, public_url, &webhook);
            store
                .put_connection(
                    ConnectionRecord {
                        sealed_secrets: vault
                            .seal_json(&secrets_owner(&sc.id), &sc.secrets)
                            .map_err(|e| SandboxError::Seal(e.to_string()))?,
                        id: sc.id,
                        workspace_id: SANDBOX_WORKSPACE.into(),
                        channel: plugin.channel().to_string(),
                        plugin: plugin.name().to_string(),
                        name: sc.name,
                        // Only a plugin pointed at the stub provider needs the plain
                        // simulators' origin; the bundled ones reach their providers' real
                        // names, which their manifests allow.
                        allowed_origins: if sc.config.values().any(|v| v.starts_with(&base_url)) {
                            vec![base_url.clone()]
                        } else {
                            Vec::new()
                        },
                        config: sc.config,
                        max_in_flight: 64,
                        status: "active".into(),
                        status_detail: None,
                        chat: Default::default(),
                        created_at: crate::model::now_ms(),
                        updated_at: crate::model::now_ms(),
                    },
                    true,
                )
                .await?;
        }
    }
    // Providers whose callback URL is an account setting, not part of each request: tell
    // the simulators where this gateway listens.
    for (url, body) in settings.requests(&base_url) {
        let resp = reqwest::Client::new()
            .put(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| SandboxError::Setup(format!("configuring a simulator ({url}): {e}")))?;
        if !resp.status().is_success() {
            return Err(SandboxError::Setup(format!(
                "configuring a simulator ({url}): HTTP {}",
                resp.status()
            )));
        }
    }
    // Facebook Login sends the browser back only to the app's registered redirect URIs.
    let redirect = serde_json::json!({
        "oauth_redirect_uris": [format!("{}/console/connections/facebook/callback", public_url.trim_end_matches('/'))]
    });
    let url = format!("{base_url}/_sandbox/messenger/config");
    let registered = reqwest::Client::new()
        .put(&url)
        .json(&redirect)
        .send()
        .await;
    if let Err(e) = registered.and_then(reqwest::Response::error_for_status) {
        return Err(SandboxError::Setup(format!(
            "configuring a simulator ({url}): {e}"
        )));
    }
    tracing::info!(simulators = %base_url, "sandbox ready");
    Ok(SandboxSetup {
        api_key,
        billing_key,
        console_members,
        base_url,
        handle,
    })
}

/// The simulator's Facebook app, for "Connect with Facebook" in sandbox mode: its dialog and
/// Graph both live at the simulators' address.
pub fn facebook_app(base_url: &str) -> crate::facebook_login::FacebookApp {
    crate::facebook_login::FacebookApp {
        app_id: switchboard_sandbox::SANDBOX_MESSENGER_APP_ID.to_string(),
        app_secret: switchboard_sandbox::SANDBOX_MESSENGER_APP_SECRET.into(),
        verify_token: switchboard_sandbox::SANDBOX_MESSENGER_VERIFY_TOKEN.into(),
        graph_url: base_url.trim_end_matches('/').to_string(),
        dialog_url: base_url.trim_end_matches('/').to_string(),
        api_version: crate::facebook_login::API_VERSION.into(),
    }
}

/// A paid plan (the monthly credit) and money to send with, once: the seed is an adjustment
/// with a fixed id, so restarts do not add to it. Runs after [`prepare`] made the workspace.
pub async fn seed_wallet(wallets: &Wallets) -> Result<(), SandboxError> {
    wallets
        .set_plan(SANDBOX_WORKSPACE.into(), "paid".into())
        .await?;
    wallets
        .adjust_wallet(
            SANDBOX_WORKSPACE.into(),
            "adjust:sandbox-seed".into(),
            SANDBOX_SEED_MICROS,
            "sandbox: opening balance".into(),
        )
        .await?;
    Ok(())
}

/// The simulators' plain-HTTP listener is on this machine: allow-list exactly its address
/// and port, so the private-address guard stays on for everything else. Plugins reach it only
/// where their connection names it (the stub provider, the generic webhook's receiver); the
/// providers' simulators are reached by their real names over TLS.
async fn allow_simulators(base_url: &str, net: &NetPolicy) -> Result<(), SandboxError> {
    let url = reqwest::Url::parse(base_url)
        .map_err(|e| SandboxError::Setup(format!("simulator URL {base_url}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| SandboxError::Setup(format!("simulator URL {base_url} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| SandboxError::Setup(format!("resolving {host}: {e}")))?;
    for addr in addrs {
        let entry =
            AllowEntry::parse(&addr.to_string()).map_err(|e| SandboxError::Setup(e.to_string()))?;
        net.allow(entry);
    }
    Ok(())
}

pub use switchboard_sandbox::accounts::{connection_id, messenger_connection_id};

/// A password made once and kept in `<data-dir>/<file>` (0600), like the sandbox keys.
fn sandbox_secret(data_dir: &Path, file: &str) -> Result<String, SandboxError> {
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= crate::tenancy::members::MIN_PASSWORD
    {
        return Ok(existing.trim().to_string());
    }
    let password = hex::encode(rand::rng().random::<[u8; 12]>());
    write_private(&path, &password).map_err(|e| SandboxError::Io {
        what: format!("write {}", path.display()),
        detail: e.to_string(),
    })?;
    Ok(password)
}

/// Keys are created once and kept in `<data-dir>/<file>`, so scripts keep working across
/// restarts.
async fn sandbox_key(
    store: &Store,
    data_dir: &Path,
    file: &str,
    scopes: Scopes,
) -> Result<String, SandboxError> {
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if crate::tenancy::workspace_for_key(store, &existing).await?
            == Some(crate::model::KeyHolder {
                workspace_id: SANDBOX_WORKSPACE.to_string(),
                scopes,
                member_id: None,
            })
        {
            return Ok(existing);
        }
    }
    let prefix = if scopes.has(Scope::Billing) {
        "sk_billing"
    } else {
        "sk_sandbox"
    };
    let key = format!("{prefix}_{}", hex::encode(rand::rng().random::<[u8; 16]>()));
    crate::tenancy::add_api_key(
        store,
        SANDBOX_WORKSPACE.into(),
        &key,
        format!("sandbox ({file})"),
        scopes,
        None,
    )
    .await?;
    write_private(&path, &key).map_err(|e| SandboxError::Io {
        what: format!("write {}", path.display()),
        detail: e.to_string(),
    })?;
    Ok(key)
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(true).write(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "{content}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_simulators_name_the_push_receipt_secret_as_the_host_reads_it() {
        assert_eq!(
            switchboard_sandbox::accounts::PUSH_RECEIPT_KEY_SECRET,
            crate::receipts::RECEIPT_KEY_SECRET
        );
    }
}
