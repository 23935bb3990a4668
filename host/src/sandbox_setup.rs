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
    pub base_url: String,
    pub handle: Option<switchboard_sandbox::SandboxHandle>,
}

pub async fn prepare(
    store: &Store,
    runtime: &Arc<PluginRuntime>,
    data_dir: &Path,
    sandbox_url: Option<String>,
    public_url: &str,
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
                id: connection_id(plugin.name()),
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
    // SendGrid's event webhook is set per account, not per message: tell the simulator
    // where this gateway listens.
    if runtime.plugin("sendgrid-email").is_some() {
        let events = crate::connections::webhook_url(public_url, &connection_id("sendgrid-email"));
        let body = serde_json::json!({ "email": { "event_webhook_url": events } });
        let resp = reqwest::Client::new()
            .put(format!("{base_url}/_sandbox/config"))
            .json(&body)
            .send()
            .await
            .map_err(|e| StartError::Sandbox(format!("configuring the email simulator: {e}")))?;
        if !resp.status().is_success() {
            return Err(StartError::Sandbox(format!(
                "configuring the email simulator: HTTP {}",
                resp.status()
            )));
        }
    }
    tracing::info!(simulators = %base_url, "sandbox ready");
    Ok(SandboxSetup {
        api_key,
        base_url,
        handle,
    })
}

/// Sandbox connections have stable ids, so webhook URLs survive restarts.
pub fn connection_id(plugin: &str) -> String {
    format!("con_sandbox_{}", plugin.replace('-', "_"))
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
    match plugin {
        "twilio-sms" => {
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
        "sendgrid-email" => {
            config.insert(
                "from_email".into(),
                switchboard_sandbox::SANDBOX_EMAIL_FROM.into(),
            );
            config.insert("from_name".into(), "Switchboard Sandbox".into());
            config.insert(
                "webhook_public_key".into(),
                switchboard_sandbox::sendgrid_webhook_public_key(),
            );
            secrets.insert(
                "api_key".into(),
                switchboard_sandbox::SANDBOX_SENDGRID_API_KEY.into(),
            );
        }
        _ => {}
    }
    (config, secrets)
}
