//! `serve`: the gateway configuration from the effective settings, the logs, the start-up
//! banner, and the server.

use std::time::Duration;

use anyhow::Context;
use switchboard_gateway::GatewayConfig;

use crate::settings::{LogFormat, Settings};

/// Install the `tracing` subscriber: text (coloured on a terminal) or one JSON object per
/// line, on standard error, filtered by `RUST_LOG` (default `info`).
pub fn init_logs(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Everything `serve` would refuse, found before anything starts (also what `config check`
/// runs). Errors name the setting.
pub fn gateway_config(s: &Settings) -> anyhow::Result<GatewayConfig> {
    let mut config = GatewayConfig::new(&s.data_dir, s.listen);
    config.database = s.database.clone();
    config.public_url = s.public_url.clone();
    config.sandbox = s.sandbox || s.sandbox_url.is_some();
    config.sandbox_url = s.sandbox_url.clone();
    config.bundled = switchboard_bundled_plugins::PLUGINS;
    config.plugins_dir = s.plugins_dir.clone();
    config.policies_file = s.policies.clone();
    config.prices_file = s.prices.clone();
    config.payments_url = s.payments_url.clone();
    config.payments_key = s.payments_key.clone();
    if let Some(app_id) = &s.facebook_app_id {
        let needed = |value: &Option<String>, key: &str| {
            value.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "facebook_app_id needs {key} (in the config file or SWITCHBOARD_{})",
                    key.to_ascii_uppercase()
                )
            })
        };
        config.facebook = Some(switchboard_gateway::facebook_login::FacebookApp {
            app_id: app_id.clone(),
            app_secret: needed(&s.facebook_app_secret, "facebook_app_secret")?,
            verify_token: needed(&s.facebook_verify_token, "facebook_verify_token")?,
            graph_url: switchboard_gateway::facebook_login::GRAPH_URL.into(),
            dialog_url: switchboard_gateway::facebook_login::DIALOG_URL.into(),
            api_version: switchboard_gateway::facebook_login::API_VERSION.into(),
        });
    }
    config.dispatch.retry.base = Duration::from_millis(s.retry_base_ms);
    config.status_lookup.after = Duration::from_millis(s.status_lookup_after_ms.max(1));
    config.status_lookup.max_lookups = s.status_lookups;
    config.media_probe.timeout = Duration::from_millis(s.media_probe_timeout_ms.max(1));
    config.dispatch.retry.max_attempts = s.max_attempts.max(1);
    config.dispatch.retry.max_retry_after = Duration::from_secs(s.max_retry_after_s);
    config.dispatch.max_in_flight = s.max_in_flight.max(1);
    config.limits.send_deadline = Duration::from_millis(s.send_deadline_ms);
    config.limits.memory_bytes = s.plugin_memory_mib << 20;
    config.limits.max_output_bytes = s.plugin_max_output_mib.max(1) << 20;
    config.limits.quarantine = switchboard_gateway::runtime::quarantine::QuarantinePolicy {
        after: s.quarantine_after,
        base: Duration::from_secs(s.quarantine_base_s.max(1)),
        cap: Duration::from_secs(s.quarantine_cap_s.max(s.quarantine_base_s).max(1)),
    };
    config.master_keys = master_keys(s)?;
    config.operator_key = s.operator_key.clone();
    config.allow_private_net = s
        .allow_private_net
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| switchboard_gateway::netguard::AllowEntry::parse(e))
        .collect::<Result<_, _>>()
        .context("allow_private_net")?;
    for origin in s.allow_origin.iter().filter(|o| !o.trim().is_empty()) {
        anyhow::ensure!(
            config.limits.net.allow_origin(origin),
            "allow_origin {origin}: not scheme://host[:port]"
        );
    }
    config.key_rate = switchboard_gateway::app::Rate {
        per_second: s.rate_limit_per_key,
        burst: s.rate_limit_per_key.saturating_mul(2),
    };
    config.callback_rate = switchboard_gateway::app::Rate {
        per_second: s.rate_limit_per_connection,
        burst: s.rate_limit_per_connection.saturating_mul(2),
    };
    config.webhooks.disable_after =
        Duration::from_secs(s.webhook_disable_after_hours.saturating_mul(3600));
    config.limits.callback_replay_window = Duration::from_secs(s.callback_replay_window_s);
    Ok(config)
}

/// Master keys from `master_key` (+ `master_key_previous`, comma separated, while rotating)
/// or `master_key_file`; `None` lets the gateway use its data directory. `master_key` wins
/// over the file, as the environment variable always did.
fn master_keys(s: &Settings) -> anyhow::Result<Option<Vec<switchboard_gateway::vault::MasterKey>>> {
    use switchboard_gateway::vault::parse_keys;
    if let Some(primary) = &s.master_key {
        let mut text = primary.clone();
        if let Some(previous) = &s.master_key_previous {
            text.push(',');
            text.push_str(previous);
        }
        // The parser's message never quotes the key.
        return Ok(Some(parse_keys(&text).context("master_key")?));
    }
    match &s.master_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("master_key_file: reading {}", path.display()))?;
            Ok(Some(parse_keys(&text).with_context(|| {
                format!("master_key_file {}", path.display())
            })?))
        }
        None => Ok(None),
    }
}

/// Run the gateway until the process ends. In JSON mode a failure is logged as JSON too,
/// so every line the process writes parses.
pub async fn run(settings: &Settings, config: GatewayConfig) -> anyhow::Result<()> {
    match start_and_serve(settings, config).await {
        Err(e) if settings.log_format == LogFormat::Json => {
            tracing::error!(error = format!("{e:#}"), "switchboard stopped");
            std::process::exit(1);
        }
        other => other,
    }
}

async fn start_and_serve(settings: &Settings, config: GatewayConfig) -> anyhow::Result<()> {
    let running = switchboard_gateway::start(config)
        .await
        .context("starting the gateway")?;
    if settings.log_format == LogFormat::Json {
        json_banner(settings, &running);
    } else {
        text_banner(settings, &running);
    }
    switchboard_api::serve(running).await.context("serving")
}

/// What a person starting the gateway needs to know, on standard output.
fn text_banner(settings: &Settings, running: &switchboard_gateway::Running) {
    let dir = settings.data_dir.display();
    println!("switchboard listening on http://{}", running.addr);
    if settings.operator_key.is_none() {
        println!("operator key (creates workspaces) in {dir}/operator.key");
    }
    if let Some(key) = &running.sandbox_key {
        println!("sandbox API key: {key}");
        println!("(also in {dir}/sandbox.key)");
        if let Some(billing) = &running.sandbox_billing_key {
            println!("sandbox billing key: {billing}");
            println!("(also in {dir}/sandbox-billing.key)");
        }
    }
    if !running.sandbox_console.is_empty() {
        println!("console: http://{}/console", running.addr);
        for (email, role, password) in &running.sandbox_console {
            println!("  sign in as {email} / {password} ({})", role.as_str());
        }
        println!("  (passwords also in {dir}/sandbox-admin.password and sandbox-billing.password)");
    }
    #[cfg(feature = "sandbox")]
    if let Some(sim) = &running.sandbox {
        println!("simulators on {}", sim.base_url());
    }
}

/// The same as log events, so that every line is JSON. A key or password is named by the
/// file that holds it: a log is no place for a secret.
fn json_banner(settings: &Settings, running: &switchboard_gateway::Running) {
    let file = |name: &str| settings.data_dir.join(name).display().to_string();
    tracing::info!(
        url = format!("http://{}", running.addr),
        "switchboard listening"
    );
    if settings.operator_key.is_none() {
        tracing::info!(
            file = file("operator.key"),
            "operator key (creates workspaces)"
        );
    }
    if running.sandbox_key.is_some() {
        tracing::info!(file = file("sandbox.key"), "sandbox API key");
    }
    if running.sandbox_billing_key.is_some() {
        tracing::info!(file = file("sandbox-billing.key"), "sandbox billing key");
    }
    if !running.sandbox_console.is_empty() {
        tracing::info!(url = format!("http://{}/console", running.addr), "console");
        for (email, role, _) in &running.sandbox_console {
            let password = file(&format!("sandbox-{}.password", role.as_str()));
            tracing::info!(
                email,
                role = role.as_str(),
                password_file = password,
                "console member"
            );
        }
    }
    #[cfg(feature = "sandbox")]
    if let Some(sim) = &running.sandbox {
        tracing::info!(url = sim.base_url(), "simulators");
    }
}
