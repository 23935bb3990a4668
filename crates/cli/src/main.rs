//! The `switchboard` binary: `serve` the gateway (its settings from flags, environment and a
//! config file: `settings/`), `config check` them, run the `sandbox` simulators on their own,
//! regenerate `schemas`, or start a channel plugin with `plugin new`.

use std::path::PathBuf;

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

mod args;
mod scaffold;
mod serve;
mod settings;

use args::ServeArgs;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Messaging gateway with sandboxed WebAssembly channel plugins"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(Box<ServeArgs>),
    /// The settings `serve` would run with.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the provider simulators on their own.
    #[cfg(feature = "sandbox")]
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8025")]
        listen: std::net::SocketAddr,
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
enum ConfigCommand {
    /// Print the effective settings (the same flags, environment and file as `serve`) and
    /// where each came from, secrets redacted; exit non-zero on anything `serve` would refuse.
    Check(Box<ServeArgs>),
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    // `serve` knows its log format only once its settings are read.
    if !matches!(command, Command::Serve(_)) {
        serve::init_logs(settings::LogFormat::Text);
    }
    match command {
        Command::Serve(args) => {
            let resolved = settings::resolve(&args).unwrap_or_else(|e| refuse(e));
            let config = serve::gateway_config(&resolved.settings)
                .unwrap_or_else(|e| refuse(format!("{e:#}")));
            serve::init_logs(resolved.settings.log_format);
            serve::run(&resolved.settings, config).await
        }
        Command::Config(ConfigCommand::Check(args)) => {
            let resolved = settings::resolve(&args).unwrap_or_else(|e| refuse(e));
            settings::print_check(&resolved, &mut std::io::stdout().lock())?;
            if let Err(e) = serve::gateway_config(&resolved.settings) {
                refuse(format!("{e:#}"));
            }
            Ok(())
        }
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

/// A setting `serve` cannot run with: said on standard error, without the backtrace an
/// internal error would carry, and exit 2 (as for a bad flag).
fn refuse(error: impl std::fmt::Display) -> ! {
    eprintln!("switchboard: {error}");
    std::process::exit(2)
}
