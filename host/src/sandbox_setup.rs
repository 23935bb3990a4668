//! `serve --sandbox`: a workspace and a connection per loaded plugin, pointed at the provider
//! simulators, so the gateway works end to end on a machine with no provider accounts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::Rng;

use crate::app::StartError;
use crate::netguard::{AllowEntry, NetPolicy};
use crate::runtime::PluginRuntime;
use crate::store::{ConnectionRecord, Store, secrets_owner};
use crate::tenancy::{Scope, Scopes};
use crate::vault::Vault;

pub const SANDBOX_WORKSPACE: &str = "ws_sandbox";

/// The sandbox wallet's opening paid balance: $100,000, enough for any benchmark.
pub const SANDBOX_SEED_MICROS: i64 = 100_000 * 1_000_000;

pub struct SandboxSetup {
    pub api_key: String,
    pub billing_key: String,
    pub base_url: String,
    pub handle: Option<switchboard_sandbox::SandboxHandle>,
}

pub async fn prepare(
    store: &Store,
    runtime: &Arc<PluginRuntime>,
    data_dir: &Path,
    sandbox_url: Option<String>,
    public_url: &str,
    vault: &Vault,
    net: &NetPolicy,
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
    allow_simulators(&base_url, net).await?;
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
    // A paid plan (the monthly credit) and money to send with, once: the seed is an
    // adjustment with a fixed id, so restarts do not add to it.
    store
        .set_plan(SANDBOX_WORKSPACE.into(), "paid".into())
        .await?;
    store
        .adjust_wallet(
            SANDBOX_WORKSPACE.into(),
            "adjust:sandbox-seed".into(),
            SANDBOX_SEED_MICROS,
            "sandbox: opening balance".into(),
        )
        .await?;

    let mut sim_config = serde_json::Map::new();
    for plugin in runtime.plugins() {
        for sc in simulator_connections(plugin.name(), &base_url) {
            configure_simulator(&mut sim_config, plugin.name(), &sc, public_url);
            store
                .put_connection(
                    ConnectionRecord {
                        sealed_secrets: vault
                            .seal_json(&secrets_owner(&sc.id), &sc.secrets)
                            .map_err(|e| StartError::MasterKey(e.to_string()))?,
                        id: sc.id,
                        workspace_id: SANDBOX_WORKSPACE.into(),
                        channel: plugin.channel().to_string(),
                        plugin: plugin.name().to_string(),
                        name: sc.name,
                        config: sc.config,
                        allowed_origins: vec![base_url.clone()],
                        max_in_flight: 64,
                        status: "active".into(),
                        status_detail: None,
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
    for (channel, body) in sim_config {
        // The email simulator's settings live in the shared config document.
        let (url, body) = if channel == "email" {
            (
                format!("{base_url}/_sandbox/config"),
                serde_json::json!({ "email": body }),
            )
        } else {
            (format!("{base_url}/_sandbox/{channel}/config"), body)
        };
        let resp = reqwest::Client::new()
            .put(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                StartError::Sandbox(format!("configuring the {channel} simulator: {e}"))
            })?;
        if !resp.status().is_success() {
            return Err(StartError::Sandbox(format!(
                "configuring the {channel} simulator: HTTP {}",
                resp.status()
            )));
        }
    }
    tracing::info!(simulators = %base_url, "sandbox ready");
    Ok(SandboxSetup {
        api_key,
        billing_key,
        base_url,
        handle,
    })
}

/// The simulators listen on this machine: allow-list exactly their address (and port), so
/// the private-address guard stays on for everything else.
async fn allow_simulators(base_url: &str, net: &NetPolicy) -> Result<(), StartError> {
    let url = reqwest::Url::parse(base_url)
        .map_err(|e| StartError::Sandbox(format!("simulator URL {base_url}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| StartError::Sandbox(format!("simulator URL {base_url} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| StartError::Sandbox(format!("resolving {host}: {e}")))?;
    // Every plugin may reach the simulators, so connections a workspace creates in sandbox
    // mode (pointing `base_url` at them) work like the built-in ones.
    net.allow_origin(base_url);
    for addr in addrs {
        let entry =
            AllowEntry::parse(&addr.to_string()).map_err(|e| StartError::Sandbox(e.to_string()))?;
        net.allow(entry);
    }
    Ok(())
}

/// Sandbox connections have stable ids, so webhook URLs survive restarts.
pub fn connection_id(plugin: &str) -> String {
    format!("con_sandbox_{}", plugin.replace('-', "_"))
}

/// Keys are created once and kept in `<data-dir>/<file>`, so scripts keep working across
/// restarts.
async fn sandbox_key(
    store: &Store,
    data_dir: &Path,
    file: &str,
    scopes: Scopes,
) -> Result<String, StartError> {
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if store.workspace_for_key(&existing).await?
            == Some((SANDBOX_WORKSPACE.to_string(), scopes))
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
    store
        .add_api_key(
            SANDBOX_WORKSPACE.into(),
            key.clone(),
            format!("sandbox ({file})"),
            scopes,
        )
        .await?;
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

/// One sandbox connection of a bundled plugin, pointed at its simulator.
struct SimConnection {
    id: String,
    name: String,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The connections that make a bundled plugin talk to its simulator: one per plugin, and
/// one per sandbox page for Messenger (contact sync and PSIDs are per page).
fn simulator_connections(plugin: &str, base_url: &str) -> Vec<SimConnection> {
    use switchboard_sandbox as sb;
    let one = |config: &[(&str, &str)], secrets: &[(&str, &str)]| {
        let mut config = map(config);
        config.insert("base_url".into(), base_url.to_string());
        vec![SimConnection {
            id: connection_id(plugin),
            name: format!("{plugin} (sandbox)"),
            config,
            secrets: map(secrets),
        }]
    };
    match plugin {
        "twilio-sms" => one(
            &[
                ("account_sid", sb::SANDBOX_ACCOUNT_SID),
                ("from", sb::SANDBOX_FROM_NUMBER),
            ],
            &[("auth_token", sb::SANDBOX_AUTH_TOKEN)],
        ),
        "sendgrid-email" => one(
            &[
                ("from_email", sb::SANDBOX_EMAIL_FROM),
                ("from_name", "Switchboard Sandbox"),
                ("webhook_public_key", &sb::sendgrid_webhook_public_key()),
            ],
            &[("api_key", sb::SANDBOX_SENDGRID_API_KEY)],
        ),
        "facebook-messenger" => sb::SANDBOX_MESSENGER_PAGES
            .iter()
            .enumerate()
            .map(|(i, page)| SimConnection {
                id: messenger_connection_id(i),
                name: format!("{} (sandbox page)", page.name),
                config: map(&[("base_url", base_url), ("page_id", page.id)]),
                secrets: map(&[
                    ("page_access_token", page.access_token),
                    ("app_secret", sb::SANDBOX_MESSENGER_APP_SECRET),
                    ("verify_token", sb::SANDBOX_MESSENGER_VERIFY_TOKEN),
                ]),
            })
            .collect(),
        "fcm-apns-push" => {
            let mut c = one(
                &[
                    ("fcm_project_id", sb::SANDBOX_FCM_PROJECT_ID),
                    ("fcm_client_email", sb::SANDBOX_FCM_CLIENT_EMAIL),
                    ("apns_team_id", sb::SANDBOX_APNS_TEAM_ID),
                    ("apns_key_id", sb::SANDBOX_APNS_KEY_ID),
                    ("apns_topic", sb::SANDBOX_APNS_TOPIC),
                ],
                &[
                    ("fcm_private_key", sb::SANDBOX_FCM_PRIVATE_KEY_PEM),
                    ("apns_private_key", sb::SANDBOX_APNS_PRIVATE_KEY_PEM),
                    (
                        crate::receipts::RECEIPT_KEY_SECRET,
                        sb::SANDBOX_PUSH_RECEIPT_KEY,
                    ),
                ],
            );
            for conn in &mut c {
                conn.config
                    .insert("fcm_token_uri".into(), format!("{base_url}/token"));
                conn.config
                    .insert("fcm_base_url".into(), base_url.to_string());
                conn.config
                    .insert("apns_base_url".into(), base_url.to_string());
            }
            c
        }
        "solapi-alimtalk" => one(
            &[
                ("api_key", sb::SANDBOX_ALIMTALK_API_KEY),
                ("pf_id", sb::SANDBOX_ALIMTALK_PF_ID),
                ("sender", sb::SANDBOX_ALIMTALK_SENDER),
            ],
            &[("api_secret", sb::SANDBOX_ALIMTALK_API_SECRET)],
        ),
        // The generic webhook posts to the simulators' recording receiver.
        "generic-webhook" => vec![SimConnection {
            id: connection_id(plugin),
            name: format!("{plugin} (sandbox)"),
            config: map(&[("url", &format!("{base_url}/webhook/receive"))]),
            secrets: map(&[("signing_secret", sb::SANDBOX_WEBHOOK_SIGNING_SECRET)]),
        }],
        // Plugins from --plugins-dir get a connection too, pointed at the simulators with
        // no credentials: enough to exercise them (the hostile test plugins rely on it).
        _ => one(&[], &[]),
    }
}

/// The first page keeps the plain id, so the channel's default connection is stable.
pub fn messenger_connection_id(page: usize) -> String {
    let base = connection_id("facebook-messenger");
    if page == 0 {
        base
    } else {
        format!("{base}_{}", page + 1)
    }
}

/// What each simulator must know about the gateway: the account-level callback URLs.
fn configure_simulator(
    sim: &mut serde_json::Map<String, serde_json::Value>,
    plugin: &str,
    conn: &SimConnection,
    public_url: &str,
) {
    use serde_json::{Value, json};
    let webhook = crate::connections::webhook_url(public_url, &conn.id);
    match plugin {
        "sendgrid-email" => {
            sim.insert("email".into(), json!({ "event_webhook_url": webhook }));
        }
        "facebook-messenger" => {
            let entry = sim
                .entry("messenger")
                .or_insert_with(|| json!({ "webhooks": {} }));
            if let (Some(page), Some(hooks)) = (
                conn.config.get("page_id"),
                entry.get_mut("webhooks").and_then(Value::as_object_mut),
            ) {
                hooks.insert(page.clone(), Value::String(webhook));
            }
        }
        "fcm-apns-push" => {
            sim.insert(
                "push".into(),
                json!({
                    "receipt_url": format!("{}/v1/receipts", public_url.trim_end_matches('/')),
                    "receipt_key": switchboard_sandbox::SANDBOX_PUSH_RECEIPT_KEY,
                    "connection_id": conn.id,
                }),
            );
        }
        "solapi-alimtalk" => {
            sim.insert("alimtalk".into(), json!({ "webhook_url": webhook }));
        }
        _ => {}
    }
}
