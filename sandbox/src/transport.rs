//! How requests reached the simulators: over TLS or not, which HTTP version, which host name.
//!
//! A gateway test cannot see from a provider's answer whether a plugin really used the
//! production URL, so the sandbox counts what arrived, aggregated by host, TLS, HTTP version
//! and the path's first two segments (enough to tell `/3/device` from `/v1/projects`,
//! without one row per device token). The control API's own traffic is left out: it is the
//! test talking, not the gateway. [`Origin`] gives handlers that write absolute URLs the
//! scheme and host the client used, so links read `https://graph.facebook.com/...` over TLS.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::Shared;

/// Distinct rows kept; further combinations count under [`OVERFLOW`], so a client inventing
/// host names or paths cannot grow the log without bound.
const MAX_ROWS: usize = 256;
const OVERFLOW: &str = "(other)";
/// Longest host name recorded (a DNS name has at most 253 characters).
const MAX_HOST: usize = 253;

/// Put on every request by the TLS listener; its absence means the plain listener.
#[derive(Debug, Clone)]
pub(crate) struct TlsConn {
    /// The server name the client asked for in its ClientHello, if any.
    pub(crate) sni: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    host: String,
    tls: bool,
    http_version: String,
    path_prefix: String,
}

/// One row of `GET /_sandbox/transport`.
#[derive(Debug, Serialize)]
pub(crate) struct TransportRow {
    host: String,
    tls: bool,
    http_version: String,
    path_prefix: String,
    count: u64,
}

#[derive(Debug, Default)]
pub(crate) struct TransportLog {
    rows: Mutex<BTreeMap<Key, u64>>,
}

impl TransportLog {
    fn record(&self, key: Key) {
        let mut rows = self.rows.lock().expect("transport log poisoned");
        let key = if rows.len() >= MAX_ROWS && !rows.contains_key(&key) {
            Key {
                host: OVERFLOW.into(),
                path_prefix: OVERFLOW.into(),
                ..key
            }
        } else {
            key
        };
        *rows.entry(key).or_default() += 1;
    }

    /// Rows ordered by host, then TLS, version and path.
    pub(crate) fn rows(&self) -> Vec<TransportRow> {
        let rows = self.rows.lock().expect("transport log poisoned");
        rows.iter()
            .map(|(k, count)| TransportRow {
                host: k.host.clone(),
                tls: k.tls,
                http_version: k.http_version.clone(),
                path_prefix: k.path_prefix.clone(),
                count: *count,
            })
            .collect()
    }

    pub(crate) fn clear(&self) {
        self.rows.lock().expect("transport log poisoned").clear();
    }
}

fn is_control(path: &str) -> bool {
    path == "/_sandbox" || path.starts_with("/_sandbox/")
}

/// `/a/b` of `/a/b/c…`; the whole path when it is shorter.
fn path_prefix(path: &str) -> String {
    match path.match_indices('/').nth(2) {
        Some((i, _)) => path[..i].to_owned(),
        None => path.to_owned(),
    }
}

/// The `Host` header, else the URI's authority (HTTP/2 sends `:authority`, not `Host`).
fn request_host(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
}

/// The host name a request was meant for: the TLS server name, else `Host` without its port.
fn recorded_host(headers: &HeaderMap, uri: &Uri, tls: Option<&TlsConn>) -> String {
    let host = match tls.and_then(|t| t.sni.as_deref()) {
        Some(sni) => sni.to_owned(),
        None => match request_host(headers, uri) {
            Some(h) => h.parse::<Authority>().map_or(h, |a| a.host().to_owned()),
            None => String::new(),
        },
    };
    let mut host = host.to_ascii_lowercase();
    if host.len() > MAX_HOST {
        let mut end = MAX_HOST;
        while !host.is_char_boundary(end) {
            end -= 1;
        }
        host.truncate(end);
    }
    host
}

/// Middleware of the whole router: counts the request, then passes it on untouched.
pub(crate) async fn record(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if !is_control(path) {
        let tls = req.extensions().get::<TlsConn>();
        shared.transport.record(Key {
            host: recorded_host(req.headers(), req.uri(), tls),
            tls: tls.is_some(),
            http_version: format!("{:?}", req.version()),
            path_prefix: path_prefix(path),
        });
    }
    next.run(req).await
}

/// `scheme://host[:port]` as the client addressed this request, for absolute URLs in answers:
/// `https://` on the TLS listener, `http://` on the plain one. The host is `Host`, else the
/// HTTP/2 authority, else the TLS server name, else `localhost`.
#[derive(Debug, Clone)]
pub(crate) struct Origin(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let tls = parts.extensions.get::<TlsConn>();
        let host = request_host(&parts.headers, &parts.uri)
            .or_else(|| tls.and_then(|t| t.sni.as_deref().map(str::to_owned)))
            .unwrap_or_else(|| "localhost".to_owned());
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(Self(format!("{scheme}://{host}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str, path: &str) -> Key {
        Key {
            host: host.into(),
            tls: true,
            http_version: "HTTP/2.0".into(),
            path_prefix: path_prefix(path),
        }
    }

    #[test]
    fn paths_keep_two_segments() {
        assert_eq!(path_prefix("/3/device/abc"), "/3/device");
        assert_eq!(path_prefix("/v1/projects/p/messages:send"), "/v1/projects");
        assert_eq!(path_prefix("/token"), "/token");
        assert_eq!(path_prefix("/"), "/");
        assert!(is_control("/_sandbox/transport") && !is_control("/_sandboxed"));
    }

    #[test]
    fn host_is_the_server_name_else_host_without_port() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "API.Twilio.com:8443".parse().unwrap());
        let uri = Uri::from_static("/x");
        assert_eq!(recorded_host(&headers, &uri, None), "api.twilio.com");
        let tls = TlsConn {
            sni: Some("api.stripe.com".into()),
        };
        assert_eq!(recorded_host(&headers, &uri, Some(&tls)), "api.stripe.com");
        let h2 = Uri::from_static("https://api.push.apple.com/3/device/a");
        let no_sni = TlsConn { sni: None };
        let empty = HeaderMap::new();
        assert_eq!(
            recorded_host(&empty, &h2, Some(&no_sni)),
            "api.push.apple.com"
        );
        assert_eq!(recorded_host(&empty, &uri, None), "");
    }

    #[test]
    fn rows_aggregate_and_stay_bounded() {
        let log = TransportLog::default();
        log.record(key("api.push.apple.com", "/3/device/a"));
        log.record(key("api.push.apple.com", "/3/device/b"));
        let rows = log.rows();
        assert_eq!((rows.len(), rows[0].count), (1, 2));
        assert_eq!(rows[0].path_prefix, "/3/device");
        for i in 0..2 * MAX_ROWS {
            log.record(key(&format!("h{i}.test"), "/p"));
        }
        let rows = log.rows();
        assert_eq!(rows.len(), MAX_ROWS + 1);
        let other = rows.iter().find(|r| r.host == OVERFLOW).unwrap();
        assert_eq!(other.count, (MAX_ROWS + 1) as u64);
        log.clear();
        assert!(log.rows().is_empty());
    }
}
