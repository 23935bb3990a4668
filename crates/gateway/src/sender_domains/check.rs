//! The rules on names a sender domain and a sender are made of, and intake's question: may
//! a message go out from the sender it names.

use crate::connections::Connection;
use crate::intake::IntakeError;
use crate::model::{Sender, SenderDomainStatus};
use crate::runtime::{LoadedPlugin, PluginRuntime};
use crate::store::Store;
use crate::store::sender_domains as rows;

/// A domain as the API takes it (the document's pattern): dot-separated labels of letters,
/// digits and `-` (not at a label's ends), at least two, 253 bytes at most; kept in lower case.
pub fn normalize_domain(raw: &str) -> Option<String> {
    let d = raw.to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(d)
}

/// An email's local part as RFC 5322's dot-atom allows it, 1 to 64 bytes.
pub(super) fn valid_local_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-.".contains(&b))
}

/// A display name: at most 100 characters, one line.
pub fn valid_display_name(s: &str) -> bool {
    s.chars().count() <= 100 && !s.chars().any(char::is_control)
}

/// Whether a message may go out on `conn` from `sender`: its domain is verified for the
/// connection, or it is the connection's own sender (whatever its domain). Asked at intake,
/// for plugins with sender domains; the store first, the plugin only when the store says no.
pub async fn check_sender(
    store: &Store,
    runtime: &PluginRuntime,
    conn: &Connection,
    plugin: &LoadedPlugin,
    sender: &Sender,
) -> std::result::Result<(), IntakeError> {
    let Some(domain) = sender.domain() else {
        return Ok(()); // The address's shape is refused as a violation, by the caller.
    };
    let (c, d) = (conn.id.clone(), domain.clone());
    let status = store
        .read_now(move |r| rows::for_domain(r, &c, &d))?
        .map(|row| row.status);
    if status == Some(SenderDomainStatus::Verified) {
        return Ok(());
    }
    let own = runtime.default_sender(plugin, conn.ctx.clone()).await?;
    if own.is_some_and(|o| o.email.eq_ignore_ascii_case(sender.email.trim())) {
        return Ok(());
    }
    Err(IntakeError::SenderDomainUnverified {
        domain,
        connection: conn.id.clone(),
        status: status.map(|s| s.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_or_refused() {
        assert_eq!(
            normalize_domain("Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_domain("mail.example.co.uk").as_deref(),
            Some("mail.example.co.uk")
        );
        for bad in [
            "",
            "example",
            "exa mple.com",
            "-a.com",
            "a-.com",
            "a..com",
            "https://example.com",
            "news@example.com",
            "é.com",
            " example.com",
            "example.com.",
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_domain(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn local_parts_and_names_are_checked() {
        for ok in ["hello", "first.last", "a+b", "x_y-z"] {
            assert!(valid_local_part(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "a b", "a@b", &"a".repeat(65)] {
            assert!(!valid_local_part(bad), "{bad:?}");
        }
        assert!(valid_display_name("Acme Support"));
        assert!(!valid_display_name("two\nlines"));
        assert!(!valid_display_name(&"x".repeat(101)));
    }
}
