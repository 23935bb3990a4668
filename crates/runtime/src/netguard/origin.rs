//! Origin patterns: the unit of every outbound allow-list (a manifest's `outbound-hosts`, a
//! connection's operator allow-list, the origins allowed onto private addresses).

use reqwest::Url;

/// One origin pattern: `https://api.twilio.com`, `https://*.example.com`, `http://127.0.0.1:9000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    wildcard: bool,
    port: u16,
}

impl OriginPattern {
    pub fn parse(s: &str) -> Option<Self> {
        let url = Url::parse(s).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        let port = url.port_or_known_default()?;
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, host),
        };
        // `Url` percent-encodes a literal `*` in hosts; accept the raw form too.
        let (wildcard, host) = match host.strip_prefix("%2a.") {
            Some(rest) => (true, rest.to_string()),
            None => (wildcard, host),
        };
        Some(OriginPattern {
            scheme: url.scheme().to_string(),
            host,
            wildcard,
            port,
        })
    }

    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host_ok = if self.wildcard {
            host.len() > self.host.len()
                && host.ends_with(&self.host)
                && host[..host.len() - self.host.len()].ends_with('.')
        } else {
            host == self.host
        };
        host_ok && url.scheme() == self.scheme && url.port_or_known_default() == Some(self.port)
    }
}
