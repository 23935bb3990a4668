//! Short manifests: a text-only [`ContentLimits::default`] and a few builder methods, so a
//! channel that needs nothing unusual states only what is particular to it.

use crate::{Capability, ConfigKey, ContentLimits, Manifest};

impl Default for ContentLimits {
    /// A text-only channel: up to 4 KiB of text, nothing else. Zero means "not supported",
    /// so the host refuses subjects, media, carousels, buttons and quick replies before the
    /// plugin is called. Override the fields the channel does carry.
    fn default() -> Self {
        ContentLimits {
            max_text_bytes: 4096,
            max_subject_bytes: 0,
            max_media: 0,
            max_media_bytes: 0,
            max_carousel_elements: 0,
            max_buttons: 0,
            max_quick_replies: 0,
            media_rules: Vec::new(),
            carousel_needs_images: false,
            carousel_needs_buttons: false,
        }
    }
}

impl Manifest {
    /// A manifest with no config keys, no outbound hosts, no capabilities and text-only
    /// limits; add to it with the methods below.
    pub fn new(channel: &str, name: &str, version: &str) -> Self {
        Manifest {
            channel: channel.into(),
            name: name.into(),
            version: version.into(),
            capabilities: Vec::new(),
            config_keys: Vec::new(),
            outbound_hosts: Vec::new(),
            limits: ContentLimits::default(),
        }
    }

    pub fn capability(mut self, c: Capability) -> Self {
        self.capabilities.push(c.into());
        self
    }

    pub fn config_key(mut self, key: ConfigKey) -> Self {
        self.config_keys.push(key);
        self
    }

    /// An origin (`scheme://host[:port]`, `*.` wildcards allowed) the plugin may reach.
    pub fn outbound_host(mut self, origin: &str) -> Self {
        self.outbound_hosts.push(origin.into());
        self
    }

    pub fn limits(mut self, limits: ContentLimits) -> Self {
        self.limits = limits;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builder_manifest_is_text_only_with_what_was_added() {
        let m = Manifest::new("webhook", "generic-webhook", "1.0.0")
            .capability(Capability::StatusCallbacks)
            .config_key(ConfigKey::new("url", false, true, "where to POST"))
            .outbound_host("https://hooks.example.com");
        assert_eq!(m.capabilities, ["status-callbacks"]);
        assert_eq!(m.config_keys.len(), 1);
        assert_eq!(m.limits.max_text_bytes, 4096);
        assert_eq!(m.limits.max_media, 0);
        assert!(m.limits.media_rules.is_empty());
    }
}
