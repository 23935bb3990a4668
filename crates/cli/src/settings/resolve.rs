//! Layering with figment: defaults, then the TOML file, then the environment, then flags,
//! each later layer replacing a key the earlier ones set.
//!
//! Why figment: it keeps, for every value, the provider it came from (its metadata), which is
//! both what `config check` prints as the origin and what a type error names (the file, or
//! the variable); it reads TOML, needs no global state, and extraction is plain serde, so
//! `deny_unknown_fields` and the settings' own types do the checking. The `config` crate
//! merges into an untyped tree and forgets where a value came from.
//!
//! The environment and the flags are layered one variable, one flag, at a time, each a
//! provider of its own, so the origin of a value is the exact variable or flag that set it.
//! Only the variables of [`KEYS`] are read: the `SWITCHBOARD_` prefix is shared with other
//! tools (test runners, scripts), so the others are listed by `config check`, never refused.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Data, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::{CONFIG_ENV, KEYS, Key, Kind, Settings, find_key};
use crate::args::ServeArgs;

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "config file {}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(key) => write!(f, "flag --{}", key.replace('_', "-")),
        }
    }
}

/// The settings `serve` runs with, where each came from, and what was left unread.
#[derive(Debug)]
pub struct Resolved {
    pub settings: Settings,
    pub origins: BTreeMap<&'static str, Origin>,
    pub file: Option<PathBuf>,
    /// `SWITCHBOARD_*` variables that name no setting (a misspelling shows here).
    pub unread_env: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
    #[error("config file {}: unknown key `{key}`{hint}", path.display())]
    UnknownKey {
        path: PathBuf,
        key: String,
        hint: String,
    },
    #[error("{origin}: key `{key}`: {detail}")]
    Value {
        origin: String,
        key: String,
        detail: String,
    },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<SettingsError>),
}

/// One layer: a dictionary of keys under one origin.
struct Layer {
    origin: Origin,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.to_string())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// A serialized struct as a dictionary, without the keys left unset (a flag not given must
/// not replace the file's value with nothing).
fn set_keys(value: &impl serde::Serialize) -> Dict {
    match Value::serialize(value) {
        Ok(Value::Dict(_, dict)) => dict
            .into_iter()
            .filter(|(_, v)| !matches!(v, Value::Empty(..)))
            .collect(),
        _ => Dict::new(),
    }
}

/// The environment variable's text as the value of `key`.
fn env_value(key: &Key, text: &str) -> Value {
    match key.kind {
        Kind::Text => Value::from(text.to_string()),
        Kind::Scalar => text
            .parse()
            .unwrap_or_else(|_| Value::from(text.to_string())),
        Kind::List => Value::from(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(s.to_string()))
                .collect::<Vec<_>>(),
        ),
    }
}

/// The file's keys, each checked against [`KEYS`].
fn file_layer(path: &Path) -> Result<Data<Toml>, SettingsError> {
    let file_error = |detail: String| SettingsError::File {
        path: path.to_path_buf(),
        detail,
    };
    if let Err(e) = std::fs::metadata(path) {
        return Err(file_error(e.to_string()));
    }
    let toml = Toml::file_exact(path);
    let data = toml.data().map_err(|e| file_error(e.to_string()))?;
    let mut unknown: Vec<SettingsError> = data
        .get(&Profile::Default)
        .into_iter()
        .flat_map(|dict| dict.keys())
        .filter(|k| find_key(k).is_none())
        .map(|k| SettingsError::UnknownKey {
            path: path.to_path_buf(),
            key: k.clone(),
            hint: suggestion(k),
        })
        .collect();
    match unknown.len() {
        0 => Ok(toml),
        1 => Err(unknown.remove(0)),
        _ => Err(SettingsError::Several(unknown)),
    }
}

/// ` (did you mean `x`?)` for the nearest key within two edits, else nothing.
fn suggestion(unknown: &str) -> String {
    KEYS.iter()
        .map(|k| (edit_distance(unknown, k.name), k.name))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, name)| format!(" (did you mean `{name}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Layer defaults, file, environment and flags; fail naming the key and its origin.
pub fn resolve(args: &ServeArgs) -> Result<Resolved, SettingsError> {
    let file = args
        .config
        .clone()
        .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
    let mut figment = Figment::new().merge(Layer {
        origin: Origin::Default,
        dict: set_keys(&Settings::default()),
    });
    if let Some(path) = &file {
        figment = figment.merge(file_layer(path)?);
    }
    for key in KEYS {
        if let Ok(text) = std::env::var(key.env) {
            let dict = Dict::from([(key.name.to_string(), env_value(key, &text))]);
            figment = figment.merge(Layer {
                origin: Origin::Env(key.env),
                dict,
            });
        }
    }
    for (name, value) in set_keys(args) {
        // A secret taken as a flag would show in every process list.
        let Some(key) = find_key(&name).filter(|k| k.flag) else {
            continue;
        };
        figment = figment.merge(Layer {
            origin: Origin::Flag(key.name),
            dict: Dict::from([(name, value)]),
        });
    }
    let settings: Settings = figment.extract().map_err(value_errors)?;
    let origins = KEYS
        .iter()
        .map(|k| (k.name, origin_of(figment.find_metadata(k.name))))
        .collect();
    let unread_env = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|n| n.starts_with("SWITCHBOARD_") && n != CONFIG_ENV)
        .filter(|n| KEYS.iter().all(|k| k.env != n))
        .collect();
    Ok(Resolved {
        settings,
        origins,
        file,
        unread_env,
    })
}

fn origin_of(metadata: Option<&Metadata>) -> Origin {
    let Some(md) = metadata else {
        return Origin::Default;
    };
    if let Some(Source::File(path)) = &md.source {
        return Origin::File(path.clone());
    }
    let name = md.name.as_ref();
    KEYS.iter()
        .find_map(|k| {
            if name == Origin::Env(k.env).to_string() {
                Some(Origin::Env(k.env))
            } else if name == Origin::Flag(k.name).to_string() {
                Some(Origin::Flag(k.name))
            } else {
                None
            }
        })
        .unwrap_or(Origin::Default)
}

/// figment's errors, each as the key and the layer (file, variable or flag) it came from.
fn value_errors(errors: figment::Error) -> SettingsError {
    let mut all: Vec<SettingsError> = errors
        .into_iter()
        .map(|e| {
            let origin = match &e.metadata {
                Some(md) => match &md.source {
                    Some(Source::File(path)) => Origin::File(path.clone()).to_string(),
                    _ => md.name.to_string(),
                },
                None => "settings".to_string(),
            };
            SettingsError::Value {
                origin,
                key: e.path.join("."),
                detail: e.kind.to_string(),
            }
        })
        .collect();
    if all.len() == 1 {
        all.remove(0)
    } else {
        SettingsError::Several(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_is_suggested() {
        assert_eq!(suggestion("max_atempts"), " (did you mean `max_attempts`?)");
        assert_eq!(suggestion("completely_else"), "");
    }

    #[test]
    fn environment_text_keeps_its_type() {
        let app_id = find_key("facebook_app_id").unwrap();
        assert_eq!(env_value(app_id, "1234567890"), Value::from("1234567890"));
        let nets = find_key("allow_private_net").unwrap();
        assert_eq!(
            env_value(nets, "10.0.0.0/8, 127.0.0.1:9000"),
            Value::from(vec!["10.0.0.0/8", "127.0.0.1:9000"])
        );
        let attempts = find_key("max_attempts").unwrap();
        assert_eq!(env_value(attempts, "3"), Value::from(3usize));
    }

    #[test]
    fn unset_flags_leave_lower_layers_alone() {
        let args = ServeArgs {
            max_attempts: Some(2),
            ..Default::default()
        };
        let dict = set_keys(&args);
        assert_eq!(dict.keys().collect::<Vec<_>>(), ["max_attempts"]);
    }
}
