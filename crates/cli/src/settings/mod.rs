//! What `serve` is configured with, and where each value may come from: a flag, a
//! `SWITCHBOARD_*` environment variable, the `--config` TOML file, or the default, in that
//! order of precedence (`resolve.rs` layers them with figment; `report.rs` is
//! `switchboard config check`).
//!
//! Every setting has one name: the file's key, the flag (`max_attempts` is
//! `--max-attempts`) and the environment variable (`SWITCHBOARD_MAX_ATTEMPTS`) are spelt
//! from it, so an operator who knows one knows all three. Secrets have no flag: a flag shows
//! in every process list.

mod report;
mod resolve;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use report::print_check;
pub use resolve::{Resolved, resolve};

/// How the gateway writes its logs (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// The effective settings of `serve`, every layer applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database: Option<String>,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub sandbox: bool,
    pub sandbox_url: Option<String>,
    pub plugins_dir: Option<PathBuf>,
    pub policies: Option<PathBuf>,
    pub prices: Option<PathBuf>,
    pub payments_url: Option<String>,
    pub payments_key: Option<String>,
    pub facebook_app_id: Option<String>,
    pub facebook_app_secret: Option<String>,
    pub facebook_verify_token: Option<String>,
    pub retry_base_ms: u64,
    pub max_attempts: u32,
    pub max_retry_after_s: u64,
    pub send_deadline_ms: u64,
    pub plugin_memory_mib: usize,
    pub plugin_max_output_mib: usize,
    pub quarantine_after: u32,
    pub quarantine_base_s: u64,
    pub quarantine_cap_s: u64,
    pub callback_replay_window_s: u64,
    pub max_in_flight: u32,
    pub master_key_file: Option<PathBuf>,
    pub master_key: Option<String>,
    pub master_key_previous: Option<String>,
    pub operator_key: Option<String>,
    pub allow_private_net: Vec<String>,
    pub allow_origin: Vec<String>,
    pub rate_limit_per_key: u32,
    pub rate_limit_per_connection: u32,
    pub webhook_disable_after_hours: u64,
    pub status_lookup_after_ms: u64,
    pub status_lookups: u32,
    pub media_probe_timeout_ms: u64,
    pub log_format: LogFormat,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./switchboard-data"),
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            sandbox: false,
            sandbox_url: None,
            plugins_dir: None,
            policies: None,
            prices: None,
            payments_url: None,
            payments_key: None,
            facebook_app_id: None,
            facebook_app_secret: None,
            facebook_verify_token: None,
            retry_base_ms: 1000,
            max_attempts: 5,
            max_retry_after_s: 900,
            send_deadline_ms: 15_000,
            plugin_memory_mib: 64,
            plugin_max_output_mib: 8,
            quarantine_after: 5,
            quarantine_base_s: 30,
            quarantine_cap_s: 3600,
            callback_replay_window_s: 300,
            max_in_flight: 512,
            master_key_file: None,
            master_key: None,
            master_key_previous: None,
            operator_key: None,
            allow_private_net: Vec::new(),
            allow_origin: Vec::new(),
            rate_limit_per_key: 2000,
            rate_limit_per_connection: 10_000,
            webhook_disable_after_hours: 120,
            status_lookup_after_ms: 900_000,
            status_lookups: 6,
            media_probe_timeout_ms: 3000,
            log_format: LogFormat::Text,
        }
    }
}

/// How an environment variable's text becomes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Taken as written (an app id of digits stays a string).
    Text,
    /// Parsed: a number or `true`/`false`; anything else is reported as the wrong type.
    Scalar,
    /// Comma-separated.
    List,
}

/// Whether `config check` may print a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    Public,
    /// Never printed: only whether it is set.
    Secret,
    /// A URL that may carry a password (or a token in its query): printed without it.
    Url,
}

/// One setting's names and nature.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub env: &'static str,
    pub kind: Kind,
    pub secrecy: Secrecy,
    /// Whether `serve` takes it as a flag (secrets do not).
    pub flag: bool,
}

const fn key(name: &'static str, env: &'static str, kind: Kind) -> Key {
    Key {
        name,
        env,
        kind,
        secrecy: Secrecy::Public,
        flag: true,
    }
}

const fn url(name: &'static str, env: &'static str) -> Key {
    Key {
        secrecy: Secrecy::Url,
        ..key(name, env, Kind::Text)
    }
}

const fn secret(name: &'static str, env: &'static str) -> Key {
    Key {
        secrecy: Secrecy::Secret,
        flag: false,
        ..key(name, env, Kind::Text)
    }
}

use Kind::{List, Scalar, Text};

/// Every setting, in the order `config check` prints them. The database keeps the
/// environment variable it always had (`SWITCHBOARD_DATABASE_URL`, which `migrate` reads
/// too); every other variable is `SWITCHBOARD_` and the key in capitals.
pub const KEYS: &[Key] = &[
    key("data_dir", "SWITCHBOARD_DATA_DIR", Text),
    url("database", "SWITCHBOARD_DATABASE_URL"),
    key("listen", "SWITCHBOARD_LISTEN", Text),
    url("public_url", "SWITCHBOARD_PUBLIC_URL"),
    key("sandbox", "SWITCHBOARD_SANDBOX", Scalar),
    url("sandbox_url", "SWITCHBOARD_SANDBOX_URL"),
    key("plugins_dir", "SWITCHBOARD_PLUGINS_DIR", Text),
    key("policies", "SWITCHBOARD_POLICIES", Text),
    key("prices", "SWITCHBOARD_PRICES", Text),
    url("payments_url", "SWITCHBOARD_PAYMENTS_URL"),
    secret("payments_key", "SWITCHBOARD_PAYMENTS_KEY"),
    key("facebook_app_id", "SWITCHBOARD_FACEBOOK_APP_ID", Text),
    secret("facebook_app_secret", "SWITCHBOARD_FACEBOOK_APP_SECRET"),
    secret("facebook_verify_token", "SWITCHBOARD_FACEBOOK_VERIFY_TOKEN"),
    key("retry_base_ms", "SWITCHBOARD_RETRY_BASE_MS", Scalar),
    key("max_attempts", "SWITCHBOARD_MAX_ATTEMPTS", Scalar),
    key("max_retry_after_s", "SWITCHBOARD_MAX_RETRY_AFTER_S", Scalar),
    key("send_deadline_ms", "SWITCHBOARD_SEND_DEADLINE_MS", Scalar),
    key("plugin_memory_mib", "SWITCHBOARD_PLUGIN_MEMORY_MIB", Scalar),
    key(
        "plugin_max_output_mib",
        "SWITCHBOARD_PLUGIN_MAX_OUTPUT_MIB",
        Scalar,
    ),
    key("quarantine_after", "SWITCHBOARD_QUARANTINE_AFTER", Scalar),
    key("quarantine_base_s", "SWITCHBOARD_QUARANTINE_BASE_S", Scalar),
    key("quarantine_cap_s", "SWITCHBOARD_QUARANTINE_CAP_S", Scalar),
    key(
        "callback_replay_window_s",
        "SWITCHBOARD_CALLBACK_REPLAY_WINDOW_S",
        Scalar,
    ),
    key("max_in_flight", "SWITCHBOARD_MAX_IN_FLIGHT", Scalar),
    key("master_key_file", "SWITCHBOARD_MASTER_KEY_FILE", Text),
    secret("master_key", "SWITCHBOARD_MASTER_KEY"),
    secret("master_key_previous", "SWITCHBOARD_MASTER_KEY_PREVIOUS"),
    secret("operator_key", "SWITCHBOARD_OPERATOR_KEY"),
    key("allow_private_net", "SWITCHBOARD_ALLOW_PRIVATE_NET", List),
    key("allow_origin", "SWITCHBOARD_ALLOW_ORIGIN", List),
    key(
        "rate_limit_per_key",
        "SWITCHBOARD_RATE_LIMIT_PER_KEY",
        Scalar,
    ),
    key(
        "rate_limit_per_connection",
        "SWITCHBOARD_RATE_LIMIT_PER_CONNECTION",
        Scalar,
    ),
    key(
        "webhook_disable_after_hours",
        "SWITCHBOARD_WEBHOOK_DISABLE_AFTER_HOURS",
        Scalar,
    ),
    key(
        "status_lookup_after_ms",
        "SWITCHBOARD_STATUS_LOOKUP_AFTER_MS",
        Scalar,
    ),
    key("status_lookups", "SWITCHBOARD_STATUS_LOOKUPS", Scalar),
    key(
        "media_probe_timeout_ms",
        "SWITCHBOARD_MEDIA_PROBE_TIMEOUT_MS",
        Scalar,
    ),
    key("log_format", "SWITCHBOARD_LOG_FORMAT", Text),
];

/// The variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";

pub fn find_key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of [`Settings`], from a value with every option set (a new field fails to
    /// compile here until it is added, and then must have a row in [`KEYS`]).
    fn every_field() -> Vec<String> {
        let full = Settings {
            database: Some("d".into()),
            public_url: Some("u".into()),
            sandbox_url: Some("u".into()),
            plugins_dir: Some("p".into()),
            policies: Some("p".into()),
            prices: Some("p".into()),
            payments_url: Some("u".into()),
            payments_key: Some("k".into()),
            facebook_app_id: Some("1".into()),
            facebook_app_secret: Some("s".into()),
            facebook_verify_token: Some("t".into()),
            master_key_file: Some("f".into()),
            master_key: Some("k".into()),
            master_key_previous: Some("k".into()),
            operator_key: Some("k".into()),
            ..Settings::default()
        };
        let value = serde_json::to_value(full).unwrap();
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_setting_has_one_row_and_every_row_a_setting() {
        let mut fields = every_field();
        let mut rows: Vec<String> = KEYS.iter().map(|k| k.name.to_string()).collect();
        fields.sort();
        rows.sort();
        assert_eq!(fields, rows);
    }

    #[test]
    fn environment_variables_are_spelt_from_the_key() {
        for k in KEYS {
            let spelt = format!("SWITCHBOARD_{}", k.name.to_ascii_uppercase());
            if k.name == "database" {
                assert_eq!(k.env, "SWITCHBOARD_DATABASE_URL");
            } else {
                assert_eq!(k.env, spelt, "{}", k.name);
            }
        }
    }
}
