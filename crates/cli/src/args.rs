//! `serve`'s flags. Each is optional here: a flag given overrides the environment and the
//! config file, one not given leaves them be (defaults live in `settings::Settings`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;

use crate::settings::LogFormat;

#[derive(clap::Args, Serialize, Default, Debug)]
pub struct ServeArgs {
    /// A TOML file of settings (see switchboard.example.toml). Flags, then SWITCHBOARD_*
    /// environment variables, override it; secrets may be given here or in the environment,
    /// never as flags.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// This node's files: the SQLite database, the compiled-plugin cache, keys
    /// [default: ./switchboard-data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user:pass@host:port/db`) that any number of
    /// gateway nodes share (env SWITCHBOARD_DATABASE_URL). Without it, the embedded SQLite
    /// file in --data-dir.
    #[arg(long)]
    pub database: Option<String>,
    /// The API's address [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Base URL providers use to call back, if not http://<listen>.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Create a sandbox workspace and point every bundled channel at the simulators
    /// (`--sandbox=false` turns off one set in the file or environment).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sandbox: Option<bool>,
    /// Simulators already running elsewhere (`switchboard sandbox`); implies --sandbox.
    #[arg(long)]
    pub sandbox_url: Option<String>,
    /// Load extra plugins (*.wasm components) from this directory.
    #[arg(long)]
    pub plugins_dir: Option<PathBuf>,
    /// Routing policies every workspace can use: a JSON array of policies.
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// The price table every workspace starts from: a JSON array of prices (default: the
    /// built-in list).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// The card processor for wallet top-ups (Stripe Charges API format). Its secret key,
    /// `payments_key`, comes from the config file or SWITCHBOARD_PAYMENTS_KEY only, so it
    /// never shows in a process list.
    #[arg(long)]
    pub payments_url: Option<String>,
    /// The Facebook app behind the console's "Connect with Facebook". Its secret and webhook
    /// verify token (`facebook_app_secret`, `facebook_verify_token`) come from the config
    /// file or the environment only. Sandbox mode uses the simulator's app.
    #[arg(long)]
    pub facebook_app_id: Option<String>,
    /// First retry delay; later ones double, with full jitter [default: 1000].
    #[arg(long)]
    pub retry_base_ms: Option<u64>,
    /// Attempts per delivery; a message whose attempts run out is a dead letter
    /// (`exhausted`) [default: 5].
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// The longest a provider's Retry-After may delay a retry (AlimTalk's sending hours
    /// excepted) [default: 900].
    #[arg(long)]
    pub max_retry_after_s: Option<u64>,
    /// Deadline for one plugin `send` call, provider round trips included [default: 15000].
    #[arg(long)]
    pub send_deadline_ms: Option<u64>,
    /// Memory cap per plugin instance [default: 64].
    #[arg(long)]
    pub plugin_memory_mib: Option<usize>,
    /// Largest result a plugin call may hand back (and largest argument of one host call it
    /// makes); above it the call fails with `plugin_error` before anything is copied
    /// [default: 8].
    #[arg(long)]
    pub plugin_max_output_mib: Option<usize>,
    /// Quarantine a connection's plugin after this many faulting calls in a row (traps,
    /// deadlines, memory or output limits); 0 turns quarantine off [default: 5].
    #[arg(long)]
    pub quarantine_after: Option<u32>,
    /// The first quarantine period; each faulting probe doubles it [default: 30].
    #[arg(long)]
    pub quarantine_base_s: Option<u64>,
    /// The longest quarantine period [default: 3600].
    #[arg(long)]
    pub quarantine_cap_s: Option<u64>,
    /// How far a provider callback's signed time may be from the gateway's clock, either way
    /// [default: 300].
    #[arg(long)]
    pub callback_replay_window_s: Option<u64>,
    /// Deliveries in flight at once [default: 512].
    #[arg(long)]
    pub max_in_flight: Option<u32>,
    /// Master keys sealing secrets at rest, one base64 key per line, the sealing one first.
    /// Without it (and without `master_key`) `<data-dir>/master.key` is used.
    #[arg(long)]
    pub master_key_file: Option<PathBuf>,
    /// Internal addresses plugins and webhook deliveries may reach: `10.0.0.0/8`,
    /// `10.1.2.3`, `127.0.0.1:9000`. Repeat, or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub allow_private_net: Option<Vec<String>>,
    /// Origins (`scheme://host[:port]`) every plugin may reach beyond its manifest's, e.g.
    /// a provider's regional endpoint or an egress proxy. Repeat, or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub allow_origin: Option<Vec<String>>,
    /// Requests per second per API key (bursts of twice that); 0 turns the limit off
    /// [default: 2000].
    #[arg(long)]
    pub rate_limit_per_key: Option<u32>,
    /// Provider callbacks per second per connection (bursts of twice that); 0 turns it off.
    /// A provider posts two or three callbacks per send and does not retry one refused, so
    /// this stays well above the gateway's own send rate [default: 10000].
    #[arg(long)]
    pub rate_limit_per_connection: Option<u32>,
    /// Disable a webhook endpoint whose deliveries have all failed for this many hours
    /// [default: 120].
    #[arg(long)]
    pub webhook_disable_after_hours: Option<u64>,
    /// Ask the provider for the status of a delivery still at `sent` after this long (its
    /// callbacks may have been lost), for channels that can be asked [default: 900000].
    #[arg(long)]
    pub status_lookup_after_ms: Option<u64>,
    /// Lookups per delivery, each waiting twice as long as the one before; 0 turns them off
    /// [default: 6].
    #[arg(long)]
    pub status_lookups: Option<u32>,
    /// Deadline for asking one attachment's URL what it serves (HEAD, then a one-byte GET
    /// when needed) before a message is accepted; past it the attachment is refused as
    /// unreachable [default: 3000].
    #[arg(long)]
    pub media_probe_timeout_ms: Option<u64>,
    /// Log lines as text, or as one JSON object per line [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::settings::KEYS;

    /// Every flag is a setting's key, and every setting but a secret has its flag.
    #[test]
    fn flags_and_settings_agree() {
        let cli = crate::Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        let mut flags: Vec<String> = serve
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .filter(|id| id != "config" && id != "help")
            .collect();
        let mut keys: Vec<String> = KEYS
            .iter()
            .filter(|k| k.flag)
            .map(|k| k.name.to_string())
            .collect();
        flags.sort();
        keys.sort();
        assert_eq!(flags, keys);
    }
}
