//! Which version of the plugin contract a component was built against, and whether this
//! host can load it.
//!
//! The SDK's `export_plugin!` embeds two custom sections in every plugin: the API version it
//! implements (`switchboard:api-version`, six bytes: major, minor, patch as big-endian u16)
//! and the plugin crate's package name (`switchboard:plugin-package`). They are read from the
//! raw bytes before anything is compiled or run, so a plugin built for an API this host does
//! not speak is refused with an error naming it, instead of failing to link with wasmtime's
//! list of missing imports. A component without the section (built before the SDK embedded
//! it) is judged by the version of the `switchboard:channel/plugin@X.Y.Z` interface it exports.

use std::fmt;

/// The custom section holding the API version.
pub const VERSION_SECTION: &str = "switchboard:api-version";
/// The custom section holding the plugin's package name.
pub const PACKAGE_SECTION: &str = "switchboard:plugin-package";

/// A plugin API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl ApiVersion {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        ApiVersion {
            major,
            minor,
            patch,
        }
    }

    fn from_section(data: &[u8]) -> Option<Self> {
        let bytes: [u8; 6] = data.try_into().ok()?;
        let at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        Some(ApiVersion::new(at(0), at(2), at(4)))
    }

    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|p| p.parse::<u16>().ok());
        let v = ApiVersion::new(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }

    /// Semver for 0.x: a minor release of 0.x may break, so 0.1.z is compatible with 0.1.0
    /// and nothing else; from 1.0 a major is the compatibility line.
    fn compatible_with(self, supported: ApiVersion) -> bool {
        if supported.major == 0 {
            self.major == 0 && self.minor == supported.minor
        } else {
            self.major == supported.major
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The versions this host has bindings for (`runtime::bindings::since_v*`), oldest first.
pub const SUPPORTED: &[ApiVersion] = &[
    ApiVersion::new(0, 1, 0),
    ApiVersion::new(0, 2, 0),
    ApiVersion::new(0, 3, 0),
    ApiVersion::new(0, 4, 0),
];

/// The supported range in words, e.g. `0.1.x`.
pub fn supported_range() -> String {
    SUPPORTED
        .iter()
        .map(|v| {
            if v.major == 0 {
                format!("0.{}.x", v.minor)
            } else {
                format!("{}.x", v.major)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a component says about itself before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// `None` when the component declares no version at all.
    pub version: Option<ApiVersion>,
    /// Whether the version came from the SDK's section (as opposed to the export's name).
    pub from_section: bool,
    pub package: Option<String>,
}

/// Read the declared version and package name. Malformed bytes declare nothing; compiling
/// the component reports what is wrong with it.
pub fn declared(wasm: &[u8]) -> Declared {
    let mut found = Declared {
        version: None,
        from_section: false,
        package: None,
    };
    let mut exported = None;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        match payload {
            // The first section of each name counts: a component nests its core modules,
            // and only the plugin's own module carries the SDK's stamp.
            wasmparser::Payload::CustomSection(section)
                if section.name() == VERSION_SECTION && found.version.is_none() =>
            {
                found.version = ApiVersion::from_section(section.data());
                found.from_section = found.version.is_some();
            }
            wasmparser::Payload::CustomSection(section)
                if section.name() == PACKAGE_SECTION && found.package.is_none() =>
            {
                found.package = std::str::from_utf8(section.data())
                    .ok()
                    .filter(|s| !s.is_empty() && s.len() <= 128)
                    .map(str::to_string);
            }
            wasmparser::Payload::ComponentExportSection(exports) => {
                for export in exports.into_iter().flatten() {
                    if let Some(v) = export
                        .name
                        .name
                        .strip_prefix("switchboard:channel/plugin@")
                        .and_then(ApiVersion::parse)
                    {
                        exported.get_or_insert(v);
                    }
                }
            }
            _ => {}
        }
    }
    if found.version.is_none() {
        found.version = exported;
    }
    found
}

/// Why a component is refused before it is compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "plugin {plugin} was built against plugin API {version}; this host supports {range}: rebuild it with a switchboard-plugin-sdk for {range}"
    )]
    Unsupported {
        plugin: String,
        version: ApiVersion,
        range: String,
    },
    #[error(
        "{plugin} declares no plugin API version and exports no switchboard:channel/plugin interface: is it a Switchboard channel plugin? (this host supports {range})"
    )]
    Undeclared { plugin: String, range: String },
}

/// Check a component against [`SUPPORTED`]. `source` names it when it carries no package name.
pub fn check(source: &str, wasm: &[u8]) -> Result<ApiVersion, VersionError> {
    let declared = declared(wasm);
    let plugin = match &declared.package {
        Some(package) => format!("`{package}` ({source})"),
        None => format!("`{source}`"),
    };
    let Some(version) = declared.version else {
        return Err(VersionError::Undeclared {
            plugin,
            range: supported_range(),
        });
    };
    if SUPPORTED.iter().any(|s| version.compatible_with(*s)) {
        Ok(version)
    } else {
        Err(VersionError::Unsupported {
            plugin,
            version,
            range: supported_range(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with custom sections: enough for the parser, which walks the same
    /// payloads inside a component.
    fn module_with(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        for (name, data) in sections {
            let mut body = vec![name.len() as u8];
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(data);
            wasm.push(0);
            wasm.push(body.len() as u8);
            wasm.extend_from_slice(&body);
        }
        wasm
    }

    #[test]
    fn reads_the_sdk_sections() {
        let wasm = module_with(&[
            (VERSION_SECTION, &[0, 0, 0, 1, 0, 3]),
            (PACKAGE_SECTION, b"switchboard-plugin-sms"),
        ]);
        let d = declared(&wasm);
        assert_eq!(d.version, Some(ApiVersion::new(0, 1, 3)));
        assert!(d.from_section);
        assert_eq!(d.package.as_deref(), Some("switchboard-plugin-sms"));
        assert_eq!(check("x.wasm", &wasm), Ok(ApiVersion::new(0, 1, 3)));
    }

    #[test]
    fn refuses_other_lines_naming_plugin_version_and_range() {
        for v in [[0u8, 0, 0, 5, 0, 0], [0, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 9]] {
            let wasm = module_with(&[(VERSION_SECTION, &v), (PACKAGE_SECTION, b"future")]);
            let err = check("/plugins/future.wasm", &wasm).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("`future` (/plugins/future.wasm)"), "{text}");
            assert!(
                text.contains(&ApiVersion::from_section(&v).unwrap().to_string()),
                "{text}"
            );
            assert!(text.contains("0.1.x, 0.2.x, 0.3.x, 0.4.x"), "{text}");
        }
    }

    #[test]
    fn nothing_declared_is_refused_and_garbage_declares_nothing() {
        assert!(matches!(
            check("a.wasm", &module_with(&[])),
            Err(VersionError::Undeclared { .. })
        ));
        assert_eq!(declared(b"not wasm at all").version, None);
        // A truncated version section declares nothing rather than a wrong version.
        assert_eq!(
            declared(&module_with(&[(VERSION_SECTION, &[0, 0, 0])])).version,
            None
        );
    }

    /// The SDK's `export_plugin!` really stamps both sections into a built component (they
    /// survive linking, stripping and componentisation), and the export agrees.
    #[test]
    fn every_bundled_plugin_is_stamped_by_the_sdk() {
        assert!(!switchboard_bundled_plugins::PLUGINS.is_empty());
        for (dir, wasm) in switchboard_bundled_plugins::PLUGINS {
            let d = declared(wasm);
            assert!(d.from_section, "{dir}: {d:?}");
            assert_eq!(d.version, Some(ApiVersion::new(0, 4, 0)), "{dir}");
            let package = d.package.unwrap_or_default();
            assert!(
                package.starts_with("switchboard-plugin-"),
                "{dir}: {package}"
            );
        }
        let unstamped = std::fs::read(switchboard_test_plugins::path("unversioned")).unwrap();
        let d = declared(&unstamped);
        assert!(!d.from_section && d.package.is_none(), "{d:?}");
        assert_eq!(
            d.version,
            Some(ApiVersion::new(0, 1, 0)),
            "from the export's name: it was built for 0.1.0"
        );
    }

    #[test]
    fn parses_export_versions_strictly() {
        assert_eq!(ApiVersion::parse("0.1.0"), Some(ApiVersion::new(0, 1, 0)));
        assert_eq!(ApiVersion::parse("0.1"), None);
        assert_eq!(ApiVersion::parse("0.1.0.1"), None);
        assert_eq!(ApiVersion::parse("0.x.0"), None);
    }
}
