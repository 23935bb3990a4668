//! What the host reads from a plugin's manifest at load: whether it may load at all, and the
//! capabilities it announces, parsed once so that no host code matches capability strings.

use crate::bindings::wit;
use crate::netguard::OriginPattern;
use switchboard_vocab::Capabilities;

/// The manifest rules a plugin must meet to load.
pub(crate) fn check(m: &wit::Manifest) -> Result<(), String> {
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid_name(&m.channel) {
        return Err(format!(
            "channel {:?} must be 1-64 of [A-Za-z0-9_-]",
            m.channel
        ));
    }
    if !valid_name(&m.name) {
        return Err(format!("name {:?} must be 1-64 of [A-Za-z0-9_-]", m.name));
    }
    for h in &m.outbound_hosts {
        if OriginPattern::parse(h).is_none() {
            return Err(format!("outbound host {h:?} is not scheme://host[:port]"));
        }
    }
    Ok(())
}

/// A plugin built against a newer SDK may announce behaviour this host does not know; it
/// still loads (refusing it would make every SDK release a flag day), with a warning, and the
/// host simply does not use that behaviour.
pub(crate) fn capabilities(m: &wit::Manifest) -> Capabilities {
    Capabilities::parse(m.capabilities.iter().map(String::as_str), |c| {
        tracing::warn!(plugin = %m.name, capability = c, "unknown capability ignored");
    })
}
