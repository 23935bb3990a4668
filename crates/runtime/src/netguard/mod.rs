//! Where the gateway's own outbound HTTP may go: plugin requests and webhook deliveries.
//!
//! An origin allow-list (see [`crate::outbound`]) is not enough on its own: a
//! permitted name can resolve to `127.0.0.1`, and a business can register a webhook at
//! `http://169.254.169.254/` (cloud metadata) or at a database on the private network. So
//! every destination address is checked *after* DNS resolution, in the HTTP client's own
//! resolver (the address checked is the address connected to; there is no second lookup to
//! race). Loopback, private, link-local, CGNAT, multicast and unspecified addresses are
//! refused unless the operator allow-listed them (`--allow-private-net`); the sandbox
//! allow-lists its simulators.
//!
//! Allow-list entries: `10.1.2.3`, `10.0.0.0/8`, `[::1]`, or with a port, `127.0.0.1:8025`.
//! A port is checked exactly, on the address actually connected to: the resolver, which
//! never learns the port, lets an address through for any of its entries, and the connector
//! layer ([`connected`]) then checks address and port together on the open connection,
//! before the request is written. Every client built over this policy takes both
//! ([`NetPolicy::guard`]).

mod connected;
mod origin;
pub use connected::{ConnectedGuard, ConnectedGuardLayer};
pub use origin::OriginPattern;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    net: IpAddr,
    prefix: u8,
    port: Option<u16>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetError {
    #[error("`{0}` is not an address, a CIDR block or address:port")]
    BadEntry(String),
    #[error("{0} is a loopback, private or link-local address and is not allow-listed")]
    Denied(String),
}

impl AllowEntry {
    pub fn parse(s: &str) -> Result<AllowEntry, NetError> {
        let bad = || NetError::BadEntry(s.to_string());
        let t = s.trim();
        if let Ok(sa) = t.parse::<SocketAddr>() {
            return Ok(AllowEntry {
                net: sa.ip(),
                prefix: full(sa.ip()),
                port: Some(sa.port()),
            });
        }
        let t = t.trim_start_matches('[').trim_end_matches(']');
        let (ip, prefix) = match t.split_once('/') {
            Some((ip, p)) => {
                let ip: IpAddr = ip.parse().map_err(|_| bad())?;
                let p: u8 = p.parse().map_err(|_| bad())?;
                if p > full(ip) {
                    return Err(bad());
                }
                (ip, p)
            }
            None => {
                let ip: IpAddr = t.parse().map_err(|_| bad())?;
                (ip, full(ip))
            }
        };
        Ok(AllowEntry {
            net: ip,
            prefix,
            port: None,
        })
    }

    fn covers(&self, ip: IpAddr, port: Option<u16>) -> bool {
        let port_ok = match (self.port, port) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            // The resolver does not know the port: it lets the address through, and the
            // connection's own check (`connected.rs`) holds it to the entry's port.
            (Some(_), None) => true,
        };
        port_ok && in_block(self.net, self.prefix, ip)
    }
}

fn full(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn in_block(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, canonical(ip)) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// `::ffff:127.0.0.1` is 127.0.0.1: check the address it really reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether an address is one the public internet cannot reach (so reaching it from here
/// would be reaching *into* the operator's network).
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || o[0] == 0
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        }
    }
}

/// The operator's allow-list, shared by every HTTP client the gateway builds. Entries can be
/// added at start-up (the sandbox adds its simulators once they listen).
#[derive(Debug, Default)]
pub struct NetPolicy {
    allowed: RwLock<Vec<AllowEntry>>,
    /// Origins every plugin may reach beyond its manifest's (`--allow-origin`).
    origins: RwLock<Vec<OriginPattern>>,
    /// Sandbox mode only: the providers' host names and the simulators' TLS address they
    /// stand for, and the CA that signed the simulators' certificate. Empty otherwise, so
    /// outside sandbox mode no name is redirected and no extra root is trusted.
    sandbox: RwLock<Option<SandboxTransport>>,
}

/// Where sandbox mode sends the providers' real host names, and the root it trusts there.
#[derive(Debug, Clone)]
pub struct SandboxTransport {
    pub hosts: Vec<String>,
    pub addr: SocketAddr,
    pub ca_pem: String,
}

impl NetPolicy {
    pub fn new(entries: Vec<AllowEntry>) -> Arc<NetPolicy> {
        Arc::new(NetPolicy {
            allowed: RwLock::new(entries),
            origins: RwLock::new(Vec::new()),
            sandbox: RwLock::new(None),
        })
    }

    /// Sandbox mode: resolve `hosts` to the simulators' TLS listener and trust its CA, for
    /// every client built afterwards through [`NetPolicy::guard`]. Only `serve --sandbox`
    /// calls this.
    pub fn use_sandbox_transport(&self, transport: SandboxTransport) {
        *self.sandbox.write().unwrap_or_else(|p| p.into_inner()) = Some(transport);
    }

    fn sandbox(&self) -> Option<SandboxTransport> {
        self.sandbox
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The simulators' address when `host` is a provider name sandbox mode redirects.
    fn pinned(&self, host: &str) -> Option<SocketAddr> {
        let sandbox = self.sandbox.read().unwrap_or_else(|p| p.into_inner());
        let t = sandbox.as_ref()?;
        t.hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
            .then_some(t.addr)
    }

    fn is_pinned_addr(&self, addr: SocketAddr) -> bool {
        self.sandbox
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|t| t.addr.ip() == canonical(addr.ip()) && t.addr.port() == addr.port())
    }

    /// Let every plugin reach `origin` (`scheme://host[:port]`); false if it does not parse.
    pub fn allow_origin(&self, origin: &str) -> bool {
        match OriginPattern::parse(origin) {
            Some(p) => {
                self.origins
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(p);
                true
            }
            None => false,
        }
    }

    /// Whether the operator allowed this URL's origin for every plugin.
    pub fn origin_allowed(&self, url: &reqwest::Url) -> bool {
        self.origins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|p| p.matches(url))
    }

    pub fn allow(&self, entry: AllowEntry) {
        self.allowed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }

    /// May a connection go to `ip` (on `port`, when known)?
    pub fn check(&self, ip: IpAddr, port: Option<u16>) -> Result<(), NetError> {
        if !is_internal(ip) {
            return Ok(());
        }
        // Sandbox mode's simulators stand in for public providers: reaching them is
        // reaching those providers, not the operator's network.
        if let Some(p) = port
            && self.is_pinned_addr(SocketAddr::new(ip, p))
        {
            return Ok(());
        }
        let allowed = self.allowed.read().unwrap_or_else(|p| p.into_inner());
        if allowed.iter().any(|e| e.covers(ip, port)) {
            Ok(())
        } else {
            Err(NetError::Denied(match port {
                Some(p) => SocketAddr::new(ip, p).to_string(),
                None => ip.to_string(),
            }))
        }
    }

    /// Check a URL whose host is an address literal (the resolver is never asked about
    /// those). Names pass here and are checked by [`GuardedResolver`].
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), NetError> {
        let Some(ip) = url.host_str().and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        }) else {
            return Ok(());
        };
        self.check(ip, url.port_or_known_default())
    }

    /// A resolver for `reqwest::ClientBuilder::dns_resolver` that drops refused addresses
    /// (and fails the lookup when none is left).
    pub fn resolver(self: &Arc<Self>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: self.clone(),
        })
    }

    /// Both checks on a client: the resolver's on every address, and the connection's on
    /// the address and port it reached. In sandbox mode, also the simulators' CA as a
    /// root, next to the public ones.
    pub fn guard(self: &Arc<Self>, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let mut builder =
            builder
                .dns_resolver(self.resolver())
                .connector_layer(ConnectedGuardLayer {
                    policy: self.clone(),
                });
        if let Some(t) = self.sandbox() {
            match reqwest::Certificate::from_pem(t.ca_pem.as_bytes()) {
                Ok(ca) => builder = builder.add_root_certificate(ca),
                // The sandbox made this PEM itself; a bad one leaves TLS to the simulators
                // failing with a certificate error, which says what went wrong.
                Err(e) => tracing::error!(error = %e, "the sandbox CA does not parse"),
            }
        }
        builder
    }
}

pub struct GuardedResolver {
    policy: Arc<NetPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            if let Some(addr) = policy.pinned(&host) {
                return Ok(Box::new(std::iter::once(addr)) as Addrs);
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip(), None) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let e = refused.unwrap_or_else(|| NetError::Denied(host.clone()));
                return Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Whether a reqwest error came from this guard, so callers can say "denied", not "network".
pub fn denied_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(NetError::Denied(what)) = err.downcast_ref::<NetError>() {
            return Some(what.clone());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ranges_are_refused_and_public_ones_pass() {
        let p = NetPolicy::new(vec![]);
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.check(ip(bad), Some(80)).is_err(), "{bad}");
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(p.check(ip(good), Some(443)).is_ok(), "{good}");
        }
    }

    #[test]
    fn allow_entries_match_by_address_block_and_port() {
        let p = NetPolicy::new(vec![
            AllowEntry::parse("127.0.0.1:8025").unwrap(),
            AllowEntry::parse("10.0.0.0/8").unwrap(),
        ]);
        assert!(p.check(ip("127.0.0.1"), Some(8025)).is_ok());
        assert!(p.check(ip("127.0.0.1"), Some(8026)).is_err());
        assert!(p.check(ip("10.200.3.4"), Some(1)).is_ok());
        assert!(p.check(ip("::ffff:10.200.3.4"), Some(1)).is_ok());
        assert!(p.check(ip("192.168.0.1"), Some(1)).is_err());
        assert!(AllowEntry::parse("10.0.0.0/33").is_err());
        assert!(AllowEntry::parse("localhost").is_err());
        assert_eq!(
            AllowEntry::parse("[::1]").unwrap(),
            AllowEntry::parse("::1").unwrap()
        );
    }
}
