//! The `switchboard` binary: `serve` the gateway, run the `sandbox` simulators on their own,
//! regenerate `schemas`, or start a channel plugin with `plugin new`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

// mimalloc rather than glibc's malloc: the gateway allocates and frees small buffers on many
// threads (tokio workers, the blocking pool's readers, the store's writer), where glibc spent
// about 9 % of the CPU per message in malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults trade memory for speed: arenas committed up front and freed memory
/// kept for a second. Measured idle, that was 158 MiB resident against glibc's 57 MiB. Commit
/// on demand and give freed memory back at once (docs/benchmarks.md has the figures).
///
/// The options must be set before mimalloc's first allocation, which happens before `main`:
/// this runs from `.init_array`, ahead of the Rust runtime's own start-up.
extern "C" fn tune_allocator() {
    // mimalloc v3's `mi_option_e` (include/mimalloc.h): arena_eager_commit = 4,
    // purge_delay = 15.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: setting an option is a plain store into mimalloc's option table, and marks the
    // option as set so the environment is not read for it later.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

mod scaffold;
use switchboard_gateway::GatewayConfig;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Messaging gateway with sandboxed WebAssembly channel plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(Box<ServeArgs>),
    /// Run the provider simulators on their own.
    #[cfg(feature = "sandbox")]
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8025")]
        listen: SocketAddr,
    },
    /// Print a fresh master key (base64, 32 random bytes) for SWITCHBOARD_MASTER_KEY.
    NewMasterKey,
    /// Apply the PostgreSQL database's pending migrations and exit (`serve` also applies
    /// them at start-up; several nodes starting at once apply each one once).
    Migrate {
        #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
        database: String,
    },
    /// Rewrite the generated files under schemas/ (JSON Schema, OpenAPI).
    Schemas {
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
    /// Channel plugin tools.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a plugin crate: manifest, a send over HTTP, a signed-webhook parser and unit
    /// tests, delivering in `serve --sandbox --plugins-dir` as generated.
    New {
        /// Plugin, channel and crate name: lower-case letters, digits and `-`.
        name: String,
        /// Where to create it (default: ./<name>); must be absent or empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The plugin SDK to depend on (default: this build's repository's plugin-sdk).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user:pass@host:port/db`) that any number of
    /// gateway nodes share. Without it, the embedded SQLite file in --data-dir.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    database: Option<String>,
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Base URL providers use to call back, if not http://<listen>.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Create a sandbox workspace and point every bundled channel at the simulators.
    #[arg(long)]
    sandbox: bool,
    /// Simulators already running elsewhere (`switchboard sandbox`); implies --sandbox.
    #[arg(long)]
    sandbox_url: Option<String>,
    /// Load extra plugins (*.wasm components) from this directory.
    #[arg(long)]
    plugins_dir: Option<PathBuf>,
    /// Routing policies every workspace can use: a JSON array of policies.
    #[arg(long, env = "SWITCHBOARD_POLICIES")]
    policies: Option<PathBuf>,
    /// The price table every workspace starts from: a JSON array of prices (default: the
    /// built-in list).
    #[arg(long, env = "SWITCHBOARD_PRICES")]
    prices: Option<PathBuf>,
    /// The card processor for wallet top-ups (Stripe Charges API format). Its secret key is
    /// read from SWITCHBOARD_PAYMENTS_KEY only, so it never shows in a process list.
    #[arg(long, env = "SWITCHBOARD_PAYMENTS_URL")]
    payments_url: Option<String>,
    /// The Facebook app behind the console's "Connect with Facebook". Its secret and webhook
    /// verify token are read from SWITCHBOARD_FACEBOOK_APP_SECRET and
    /// SWITCHBOARD_FACEBOOK_VERIFY_TOKEN only. Sandbox mode uses the simulator's app.
    #[arg(long, env = "SWITCHBOARD_FACEBOOK_APP_ID")]
    facebook_app_id: Option<String>,
    /// First retry delay; later ones double, with full jitter.
    #[arg(long, default_value_t = 1000)]
    retry_base_ms: u64,
    #[arg(long, default_value_t = 5)]
    max_attempts: u32,
    /// The longest a provider's Retry-After may delay a retry (AlimTalk's sending hours
    /// excepted); a message whose attempts run out is a dead letter (`exhausted`).
    #[arg(long, default_value_t = 900)]
    max_retry_after_s: u64,
    /// Deadline for one plugin `send` call, provider round trips included.
    #[arg(long, default_value_t = 15_000)]
    send_deadline_ms: u64,
    /// Memory cap per plugin instance.
    #[arg(long, default_value_t = 64)]
    plugin_memory_mib: usize,
    /// Largest result a plugin call may hand back (and largest argument of one host call it
    /// makes); above it the call fails with `plugin_error` before anything is copied.
    #[arg(long, default_value_t = 8)]
    plugin_max_output_mib: usize,
    /// Quarantine a connection's plugin after this many faulting calls in a row (traps,
    /// deadlines, memory or output limits); 0 turns quarantine off.
    #[arg(long, default_value_t = 5)]
    quarantine_after: u32,
    /// The first quarantine period; each faulting probe doubles it.
    #[arg(long, default_value_t = 30)]
    quarantine_base_s: u64,
    /// The longest quarantine period.
    #[arg(long, default_value_t = 3600)]
    quarantine_cap_s: u64,
    /// How far a provider callback's signed time may be from the gateway's clock, either way.
    #[arg(long, default_value_t = 300)]
    callback_replay_window_s: u64,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 512)]
    max_in_flight: u32,
    /// Master keys sealing secrets at rest, one base64 key per line, the sealing one first.
    /// Without it (and without SWITCHBOARD_MASTER_KEY) `<data-dir>/master.key` is used.
    #[arg(long, env = "SWITCHBOARD_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Internal addresses plugins and webhook deliveries may reach: `10.0.0.0/8`,
    /// `10.1.2.3`, `127.0.0.1:9000`. Repeat, or separate with commas.
    #[arg(long, env = "SWITCHBOARD_ALLOW_PRIVATE_NET", value_delimiter = ',')]
    allow_private_net: Vec<String>,
    /// Origins (`scheme://host[:port]`) every plugin may reach beyond its manifest's, e.g.
    /// a provider's regional endpoint or an egress proxy. Repeat, or separate with commas.
    #[arg(long, env = "SWITCHBOARD_ALLOW_ORIGIN", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// Requests per second per API key (bursts of twice that); 0 turns the limit off.
    #[arg(long, default_value_t = 2000)]
    rate_limit_per_key: u32,
    /// Provider callbacks per second per connection (bursts of twice that); 0 turns it off.
    /// A provider posts two or three callbacks per send and does not retry one refused, so
    /// this stays well above the gateway's own send rate.
    #[arg(long, default_value_t = 10_000)]
    rate_limit_per_connection: u32,
    /// Disable a webhook endpoint whose deliveries have all failed for this many hours.
    #[arg(long, default_value_t = 120)]
    webhook_disable_after_hours: u64,
    /// Ask the provider for the status of a delivery still at `sent` after this long (its
    /// callbacks may have been lost), for channels that can be asked.
    #[arg(long, default_value_t = 900_000)]
    status_lookup_after_ms: u64,
    /// Lookups per delivery, each waiting twice as long as the one before; 0 turns them off.
    #[arg(long, default_value_t = 6)]
    status_lookups: u32,
    /// Deadline for asking one attachment's URL what it serves (HEAD, then a one-byte GET
    /// when needed) before a message is accepted; past it the attachment is refused as
    /// unreachable.
    #[arg(long, default_value_t = 3000)]
    media_probe_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { listen } => {
            let handle =
                switchboard_sandbox::start(listen, switchboard_sandbox::SandboxConfig::default())
                    .await?;
            println!("simulators listening on {}", handle.base_url());
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Migrate { database } => {
            let applied = tokio::task::spawn_blocking(move || {
                switchboard_gateway::store::Store::migrate_postgres(&database)
            })
            .await?
            .context("migrating the database")?;
            println!("applied {applied} migration(s)");
            Ok(())
        }
        Command::NewMasterKey => {
            println!(
                "{}",
                switchboard_gateway::vault::MasterKey::generate().to_base64()
            );
            Ok(())
        }
        Command::Plugin(PluginCommand::New {
            name,
            dir,
            sdk_path,
        }) => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let plugin = scaffold::NewPlugin {
                name,
                dir,
                sdk_path: sdk_path.unwrap_or_else(scaffold::default_sdk_path),
            };
            scaffold::generate(&plugin)?;
            let (d, n) = (plugin.dir.display(), plugin.name.replace('-', "_"));
            println!("created plugin `{}` in {d}", plugin.name);
            println!("  cd {d} && cargo test");
            println!("  cargo build --target wasm32-wasip2 --release");
            println!("  mkdir -p plugins && cp target/wasm32-wasip2/release/{n}.wasm plugins/");
            println!("  switchboard serve --sandbox --plugins-dir plugins");
            Ok(())
        }
        Command::Schemas { out } => {
            switchboard_api::schemas::write_all(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote generated schemas under {}", out.display());
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = GatewayConfig::new(&args.data_dir, args.listen);
    config.database = args.database;
    config.public_url = args.public_url;
    config.sandbox = args.sandbox || args.sandbox_url.is_some();
    config.sandbox_url = args.sandbox_url;
    config.bundled = switchboard_bundled_plugins::PLUGINS;
    config.plugins_dir = args.plugins_dir;
    config.policies_file = args.policies;
    config.prices_file = args.prices;
    config.payments_url = args.payments_url;
    config.payments_key = std::env::var("SWITCHBOARD_PAYMENTS_KEY").ok();
    if let Some(app_id) = args.facebook_app_id {
        let secret = |name: &str| {
            std::env::var(name).map_err(|_| anyhow::anyhow!("--facebook-app-id needs {name}"))
        };
        config.facebook = Some(switchboard_gateway::facebook_login::FacebookApp {
            app_id,
            app_secret: secret("SWITCHBOARD_FACEBOOK_APP_SECRET")?,
            verify_token: secret("SWITCHBOARD_FACEBOOK_VERIFY_TOKEN")?,
            graph_url: switchboard_gateway::facebook_login::GRAPH_URL.into(),
            dialog_url: switchboard_gateway::facebook_login::DIALOG_URL.into(),
            api_version: switchboard_gateway::facebook_login::API_VERSION.into(),
        });
    }
    config.dispatch.retry.base = Duration::from_millis(args.retry_base_ms);
    config.status_lookup.after = Duration::from_millis(args.status_lookup_after_ms.max(1));
    config.status_lookup.max_lookups = args.status_lookups;
    config.media_probe.timeout = Duration::from_millis(args.media_probe_timeout_ms.max(1));
    config.dispatch.retry.max_attempts = args.max_attempts.max(1);
    config.dispatch.retry.max_retry_after = Duration::from_secs(args.max_retry_after_s);
    config.dispatch.max_in_flight = args.max_in_flight.max(1);
    config.limits.send_deadline = Duration::from_millis(args.send_deadline_ms);
    config.limits.memory_bytes = args.plugin_memory_mib << 20;
    config.limits.max_output_bytes = args.plugin_max_output_mib.max(1) << 20;
    config.limits.quarantine = switchboard_gateway::runtime::quarantine::QuarantinePolicy {
        after: args.quarantine_after,
        base: Duration::from_secs(args.quarantine_base_s.max(1)),
        cap: Duration::from_secs(args.quarantine_cap_s.max(args.quarantine_base_s).max(1)),
    };
    config.master_keys = master_keys(args.master_key_file.as_deref())?;
    // From the environment only, so it never shows in a process list.
    config.operator_key = std::env::var("SWITCHBOARD_OPERATOR_KEY").ok();
    config.allow_private_net = args
        .allow_private_net
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| switchboard_gateway::netguard::AllowEntry::parse(s))
        .collect::<Result<_, _>>()
        .context("--allow-private-net")?;
    for origin in args.allow_origin.iter().filter(|s| !s.trim().is_empty()) {
        anyhow::ensure!(
            config.limits.net.allow_origin(origin),
            "--allow-origin {origin}: not scheme://host[:port]"
        );
    }
    config.key_rate = switchboard_gateway::app::Rate {
        per_second: args.rate_limit_per_key,
        burst: args.rate_limit_per_key.saturating_mul(2),
    };
    config.callback_rate = switchboard_gateway::app::Rate {
        per_second: args.rate_limit_per_connection,
        burst: args.rate_limit_per_connection.saturating_mul(2),
    };
    config.webhooks.disable_after = Duration::from_secs(args.webhook_disable_after_hours * 3600);
    config.limits.callback_replay_window = Duration::from_secs(args.callback_replay_window_s);

    let running = switchboard_gateway::start(config)
        .await
        .context("starting the gateway")?;
    println!("switchboard listening on http://{}", running.addr);
    if std::env::var_os("SWITCHBOARD_OPERATOR_KEY").is_none() {
        println!(
            "operator key (creates workspaces) in {}/operator.key",
            args.data_dir.display()
        );
    }
    if let Some(key) = &running.sandbox_key {
        println!("sandbox API key: {key}");
        println!("(also in {}/sandbox.key)", args.data_dir.display());
        if let Some(billing) = &running.sandbox_billing_key {
            println!("sandbox billing key: {billing}");
            println!("(also in {}/sandbox-billing.key)", args.data_dir.display());
        }
    }
    if !running.sandbox_console.is_empty() {
        println!("console: http://{}/console", running.addr);
        for (email, role, password) in &running.sandbox_console {
            println!("  sign in as {email} / {password} ({})", role.as_str());
        }
        println!(
            "  (passwords also in {}/sandbox-admin.password and sandbox-billing.password)",
            args.data_dir.display()
        );
    }
    #[cfg(feature = "sandbox")]
    if let Some(sim) = &running.sandbox {
        println!("simulators on {}", sim.base_url());
    }
    switchboard_api::serve(running).await.context("serving")
}

/// Master keys from SWITCHBOARD_MASTER_KEY (+ SWITCHBOARD_MASTER_KEY_PREVIOUS, comma
/// separated, for rotation) or a key file; `None` lets the gateway use its data directory.
fn master_keys(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<Vec<switchboard_gateway::vault::MasterKey>>> {
    use switchboard_gateway::vault::parse_keys;
    if let Ok(primary) = std::env::var("SWITCHBOARD_MASTER_KEY") {
        let mut text = primary;
        if let Ok(previous) = std::env::var("SWITCHBOARD_MASTER_KEY_PREVIOUS") {
            text.push(',');
            text.push_str(&previous);
        }
        return Ok(Some(parse_keys(&text).context("SWITCHBOARD_MASTER_KEY")?));
    }
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(Some(
                parse_keys(&text).with_context(|| format!("{}", path.display()))?,
            ))
        }
        None => Ok(None),
    }
}
