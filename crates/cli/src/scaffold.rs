//! `switchboard plugin new`: a new channel plugin crate that builds, tests and delivers in
//! sandbox mode before its authors have written a line.
//!
//! The templates live in `plugin-sdk/template/` next to the SDK they use and are compiled in,
//! so the binary needs no repository checkout to scaffold, only an SDK to point at. The
//! generated crate depends on the SDK by path (this repository's `plugin-sdk` by default,
//! known at compile time), has a `[workspace]` of its own so it builds wherever it lives,
//! and pins the toolchain the SDK is tested with.

use std::path::{Path, PathBuf};

const CARGO_TOML: &str = include_str!("../../../plugin-sdk/template/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../../../plugin-sdk/template/lib.rs.tmpl");
const TESTS_RS: &str = include_str!("../../../plugin-sdk/template/tests.rs.tmpl");
const GITIGNORE: &str = include_str!("../../../plugin-sdk/template/gitignore.tmpl");
const TOOLCHAIN: &str = include_str!("../../../rust-toolchain.toml");

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a plugin name: use 1-64 lower-case letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
    #[error("{0} already exists and is not empty; choose another --dir")]
    NotEmpty(PathBuf),
    #[error("no plugin SDK at {0} (no Cargo.toml there); pass --sdk-path")]
    NoSdk(PathBuf),
    #[error("the SDK path {0} cannot be written into Cargo.toml; move it or pass --sdk-path")]
    UnquotablePath(PathBuf),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The SDK of the repository this binary was built from.
pub fn default_sdk_path() -> PathBuf {
    // CARGO_MANIFEST_DIR is `<root>/crates/cli`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or(Path::new("."))
        .join("plugin-sdk")
}

/// What `plugin new` creates, and where.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// The plugin's name, channel name and crate name at once.
    pub name: String,
    pub dir: PathBuf,
    pub sdk_path: PathBuf,
}

/// Write the crate; returns the files written. Nothing is overwritten: the target directory
/// must be absent or empty.
pub fn generate(p: &NewPlugin) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(&p.name)?;
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { what, path, source }
    };
    if !p.sdk_path.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::NoSdk(p.sdk_path.clone()));
    }
    let sdk = p
        .sdk_path
        .canonicalize()
        .map_err(io("resolving", &p.sdk_path))?;
    let sdk_str = sdk
        .to_str()
        .filter(|s| !s.contains(['"', '\\', '\n']))
        .ok_or_else(|| ScaffoldError::UnquotablePath(sdk.clone()))?;
    if p.dir.exists() {
        let mut entries = std::fs::read_dir(&p.dir).map_err(io("reading", &p.dir))?;
        if entries.next().is_some() {
            return Err(ScaffoldError::NotEmpty(p.dir.clone()));
        }
    }
    let fill = |t: &str| {
        t.replace("__NAME__", &p.name)
            .replace("__TYPE__", &type_name(&p.name))
            .replace("__SDK_PATH__", sdk_str)
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("src/tests.rs", fill(TESTS_RS)),
        (".gitignore", GITIGNORE.to_string()),
        ("rust-toolchain.toml", TOOLCHAIN.to_string()),
    ];
    let src = p.dir.join("src");
    std::fs::create_dir_all(&src).map_err(io("creating", &src))?;
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = p.dir.join(rel);
        std::fs::write(&path, text).map_err(io("writing", &path))?;
        written.push(path);
    }
    Ok(written)
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::BadName(name.to_string()))
    }
}

/// `acme-sms` → `AcmeSmsPlugin`.
fn type_name(name: &str) -> String {
    let mut out: String = name
        .split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    out.push_str("Plugin");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_become_type_names() {
        for bad in [
            "",
            "Acme",
            "1sms",
            "acme_sms",
            "acme-",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(check_name(bad), Err(ScaffoldError::BadName(_))),
                "{bad}"
            );
        }
        check_name("acme-sms2").unwrap();
        assert_eq!(type_name("acme-sms2"), "AcmeSms2Plugin");
        assert_eq!(type_name("x--y"), "XYPlugin");
    }

    #[test]
    fn generates_a_crate_and_never_overwrites() {
        let dir = std::env::temp_dir().join(format!("sb-scaffold-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = NewPlugin {
            name: "acme-sms".into(),
            dir: dir.clone(),
            sdk_path: default_sdk_path(),
        };
        let files = generate(&p).unwrap();
        assert_eq!(files.len(), 5);
        let toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(toml.contains("name = \"acme-sms\"") && toml.contains("[workspace]"));
        let sdk = default_sdk_path().canonicalize().unwrap();
        assert!(toml.contains(&format!("path = \"{}\"", sdk.display())));
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct AcmeSmsPlugin;") && !lib.contains("__"));
        assert!(matches!(generate(&p), Err(ScaffoldError::NotEmpty(_))));
        let no_sdk = NewPlugin {
            dir: dir.join("other"),
            sdk_path: dir.join("nowhere"),
            ..p
        };
        assert!(matches!(generate(&no_sdk), Err(ScaffoldError::NoSdk(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
