//! The words the host and its plugins must spell the same way, kept in one place.
//!
//! The WIT contract (`switchboard:channel@0.1.0`) carries failure reasons as an enum and
//! capabilities as strings. Both sides need the same snake_case and kebab-case spellings:
//! the host stores and serves reason names and matches capabilities, plugins log reasons and
//! declare capabilities. Two hand-kept tables drift; this crate is the one table.
//!
//! It has no dependencies and no allocation beyond `String` conversions, so a plugin pays a
//! few hundred bytes of static strings for it.

#![no_std]

extern crate alloc;

use alloc::string::String;

pub mod failure_reason {
    //! Failure reason names, in one table indexed by position.
    //!
    //! The first [`PLUGIN_REASONS`] entries are the cases of the WIT enum `failure-reason`, in
    //! declaration order, so a WIT enum value's discriminant is its index here. The rest are
    //! reasons only the host can know. Tests on both sides check the order against the WIT
    //! file and the host's serde names.

    /// How many reasons a plugin can report (the cases of WIT `failure-reason`).
    pub const PLUGIN_REASONS: usize = 20;

    /// The snake_case name of every reason, as the API, the database and events spell it.
    pub const NAMES: [&str; 24] = [
        "invalid_format",
        "recipient_invalid",
        "recipient_unavailable",
        "opted_out",
        "blocked",
        "window_closed",
        "token_expired",
        "permission_denied",
        "rate_limited",
        "provider_transient",
        "provider_error",
        "file_too_large",
        "media_fetch_failed",
        "url_blocked",
        "thread_owned",
        "content_rejected",
        "timeout",
        "unknown",
        "outside_hours",
        "insufficient_funds",
        // Host-only from here on.
        "plugin_error",
        "plugin_quarantined",
        "no_connection",
        "outcome_unknown",
    ];

    /// The name at `index`, or `"unknown"` for an index past the table (a plugin built
    /// against a newer contract), so a name is always printable.
    pub fn name(index: usize) -> &'static str {
        NAMES.get(index).copied().unwrap_or("unknown")
    }

    /// The index of a name, if it is one.
    pub fn index(name: &str) -> Option<usize> {
        NAMES.iter().position(|n| *n == name)
    }
}

/// Optional behaviour a plugin declares in its manifest's `capabilities`.
///
/// On the wire these stay strings (the WIT contract is frozen and a newer plugin may declare
/// something this host does not know); this enum is how both sides name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Capability {
    /// The provider posts signed status callbacks (`handle_webhook`).
    StatusCallbacks,
    /// The provider deduplicates on the message's idempotency key.
    IdempotencyKey,
    /// Provider-registered templates: a routed message's template goes to this channel
    /// instead of its free text.
    Templates,
    /// The plugin wraps plain text in a default template (email HTML).
    DefaultTemplate,
    /// The channel can report a message as seen (read).
    Seen,
    /// `sync_contacts` lists the connection's existing contacts.
    ContactSync,
    /// `lookup_status` can ask the provider for a message's status.
    StatusLookup,
    /// `find_sent` can ask the provider whether it took a send whose answer was lost
    /// (plugin API 0.2).
    FindSent,
    /// Sends depend on the contact's last inbound time (a messaging window): the host
    /// passes it in `recipient.last_inbound_ms`.
    MessagingWindow,
    /// Delivery is confirmed by the app at `/v1/receipts`, not by the provider.
    DeviceReceipts,
    /// Korean SMS/LMS rules (EUC-KR, LMS with subject).
    KoreanLms,
    /// Messages may name their sender, on a domain verified through the `domain_*` exports
    /// (plugin API 0.4).
    SenderDomains,
}

impl Capability {
    pub const ALL: [Capability; 12] = [
        Capability::StatusCallbacks,
        Capability::IdempotencyKey,
        Capability::Templates,
        Capability::DefaultTemplate,
        Capability::Seen,
        Capability::ContactSync,
        Capability::StatusLookup,
        Capability::FindSent,
        Capability::MessagingWindow,
        Capability::DeviceReceipts,
        Capability::KoreanLms,
        Capability::SenderDomains,
    ];

    /// The manifest spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::StatusCallbacks => "status-callbacks",
            Capability::IdempotencyKey => "idempotency-key",
            Capability::Templates => "templates",
            Capability::DefaultTemplate => "default-template",
            Capability::Seen => "seen",
            Capability::ContactSync => "contact-sync",
            Capability::StatusLookup => "status-lookup",
            Capability::FindSent => "find-sent",
            Capability::MessagingWindow => "messaging-window",
            Capability::DeviceReceipts => "device-receipts",
            Capability::KoreanLms => "korean-lms",
            Capability::SenderDomains => "sender-domains",
        }
    }

    /// `None` for a name this build does not know (e.g. from a newer plugin).
    pub fn parse(s: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s)
    }

    const fn bit(self) -> u16 {
        1 << self as u8
    }
}

impl core::fmt::Display for Capability {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Capability> for String {
    fn from(c: Capability) -> String {
        String::from(c.as_str())
    }
}

/// A set of capabilities, parsed once from a manifest and checked by flag afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u16);

impl Capabilities {
    pub const fn empty() -> Self {
        Capabilities(0)
    }

    pub const fn with(self, c: Capability) -> Self {
        Capabilities(self.0 | c.bit())
    }

    pub fn insert(&mut self, c: Capability) {
        self.0 |= c.bit();
    }

    pub fn remove(&mut self, c: Capability) {
        self.0 &= !c.bit();
    }

    pub const fn contains(self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }

    /// Parse manifest strings: known names go into the set, the others are handed to
    /// `unknown` (the host logs them; a newer plugin is not refused for them).
    pub fn parse<'a>(
        names: impl IntoIterator<Item = &'a str>,
        mut unknown: impl FnMut(&'a str),
    ) -> Self {
        let mut set = Capabilities::empty();
        for name in names {
            match Capability::parse(name) {
                Some(c) => set.insert(c),
                None => unknown(name),
            }
        }
        set
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = Capabilities::empty();
        for c in iter {
            set.insert(c);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn capability_names_round_trip_and_fit_the_set() {
        assert!(Capability::ALL.len() <= 16, "Capabilities is a u16");
        for (i, c) in Capability::ALL.into_iter().enumerate() {
            assert_eq!(c as usize, i, "ALL is in declaration order");
            assert_eq!(Capability::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn unknown_capabilities_are_reported_not_refused() {
        let mut unknown = Vec::new();
        let set = Capabilities::parse(["seen", "teleport", "contact-sync"], |u| unknown.push(u));
        assert_eq!(unknown, ["teleport"]);
        assert!(set.contains(Capability::Seen) && set.contains(Capability::ContactSync));
        assert!(!set.contains(Capability::Templates));
        assert_eq!(set.iter().count(), 2);
    }

    #[test]
    fn reason_names_are_unique_snake_case() {
        for (i, n) in failure_reason::NAMES.iter().enumerate() {
            assert_eq!(failure_reason::index(n), Some(i), "{n} appears once");
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{n}"
            );
        }
        assert_eq!(failure_reason::name(99), "unknown");
    }

    /// The WIT file is the contract; this table must list its cases in its order.
    #[test]
    fn plugin_reasons_follow_the_wit_enum() {
        let wit = include_str!("../../../schemas/wit/since_v0.1.0/types.wit");
        let start = wit
            .find("enum failure-reason {")
            .expect("enum in types.wit");
        let body = &wit[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        let cases: Vec<std::string::String> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("///"))
            .map(|l| l.trim_end_matches(',').replace('-', "_"))
            .collect();
        assert_eq!(cases.len(), failure_reason::PLUGIN_REASONS);
        assert_eq!(
            cases,
            failure_reason::NAMES[..failure_reason::PLUGIN_REASONS]
        );
    }
}
