//! `serve --sandbox`: a workspace and a connection per loaded plugin, pointed at the provider
//! simulators, so the gateway works end to end on a machine with no provider accounts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::Rng;

use crate::app::StartError;
use crate::runtime::PluginRuntime;
use crate::store::{ConnectionRecord, Store};

pub const SANDBOX_WORKSPACE: &str = "ws_sandbox";

pub struct SandboxSetup {
    pub api_key: String,
    pub handle: Option<switchboard_sandbox::SandboxHandle>,
}

pub async fn prepare(
    store: &Store,
    runtime: &Arc<PluginRuntime>,
    data_dir: &Path,
    sandbox_url: Option<String>,
) -> Result<SandboxSetup, StartError> {
    let (base_url, handle) = match sandbox_url {
        Some(url) => (url.trim_end_matches('/').to_string(), None),
        None => {
            let listen = "127.0.0.1:0"
                .parse()
                .map_err(|e: std::net::AddrParseError| StartError::Sandbox(e.to_string()))?;
            let handle =
                switchboard_sandbox::start(listen, switchboard_sandbox::SandboxConfig::default())
                    .await
                    .map_err(|e| StartError::Sandbox(e.to_string()))?;
            (handle.base_url(), Some(handle))
        }
    };
    store.ensure_workspace(SANDBOX_WORKSPACE, "Sandbox").await?;
    let api_key = sandbox_key(store, data_dir).await?;

    for plugin in runtime.plugins() {
        let (config, secrets) = simulator_settings(plugin.name(), &base_url);
        store
            .upsert_connection(ConnectionRecord {
                id: format!("con_sandbox_{}", plugin.name().replace('-', "_")),
                workspace_id: SANDBOX_WORKSPACE.into(),
                channel: plugin.channel().to_string(),
                plugin: plugin.name().to_string(),
                name: format!("{} (sandbox)", plugin.name()),
                config,
                secrets,
                allowed_origins: vec![base_url.clone()],
                max_in_flight: 64,
                status: "active".into(),
            })
            .await?;
    }
    tracing::info!(simulators = %base_url, "sandbox ready");
    Ok(SandboxSetup { api_key, handle })
}

/// The key is created once and kept in `<data-dir>/sandbox.key`, so scripts keep working
/// across restarts.
async fn sandbox_key(store: &Store, data_dir: &Path) -> Result<String, StartError> {
    let path = data_dir.join("sandbox.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if store.workspace_for_key(&existing).await?.as_deref() == Some(SANDBOX_WORKSPACE) {
            return Ok(existing);
        }
    }
    let key = format!(
        "sk_sandbox_{}",
        hex::encode(rand::rng().random::<[u8; 16]>())
    );
    store.add_api_key(SANDBOX_WORKSPACE, &key).await?;
    write_private(&path, &key).map_err(|e| StartError::Io {
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

/// Config and secrets that make a bundled plugin talk to its simulator.
fn simulator_settings(
    plugin: &str,
    base_url: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut config = BTreeMap::from([("base_url".to_string(), base_url.to_string())]);
    let mut secrets = BTreeMap::new();
    if plugin == "twilio-sms" {
        config.insert(
            "account_sid".into(),
            switchboard_sandbox::SANDBOX_ACCOUNT_SID.into(),
        );
        config.insert(
            "from".into(),
            switchboard_sandbox::SANDBOX_FROM_NUMBER.into(),
        );
        secrets.insert(
            "auth_token".into(),
            switchboard_sandbox::SANDBOX_AUTH_TOKEN.into(),
        );
    }
    (config, secrets)
}
