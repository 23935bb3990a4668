//! Outbound HTTP through the host.
//!
//! Requests are buffered (no streaming): channel APIs send small JSON or form bodies, and a
//! buffered call lets the host enforce the allow-list, timeouts, size caps and a per-call
//! request budget in one place. Credentials are attached by the host ([`Request::basic_auth`],
//! [`Request::bearer`]) or substituted from `{{secret:NAME}}` placeholders, so secret values
//! never pass through plugin memory.

pub use crate::bindings::channel::http::{Auth, BasicAuth, HttpError, Request, Response};

/// Send a request through the host. Fails with [`HttpError::Denied`] for any destination not
/// on the plugin's allow-list.
/// RFC 3986 percent-encoding of everything but the unreserved characters: a query value
/// (a search expression, a timestamp) as a provider's URL wants it.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn send(req: Request) -> Result<Response, HttpError> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::http::send(&req)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.http(req))
    }
}

impl Request {
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            auth: None,
            timeout_ms: None,
            http2: false,
        }
    }
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    /// An `application/x-www-form-urlencoded` body.
    pub fn form_body(mut self, encoded: String) -> Self {
        self.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = encoded.into_bytes();
        self
    }
    pub fn json_body(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = json.into();
        self
    }
    /// HTTP Basic with the username from config key `username_key` and the password from
    /// secret `password_secret`, both filled in by the host.
    pub fn basic_auth(mut self, username_key: &str, password_secret: &str) -> Self {
        self.auth = Some(Auth::Basic(BasicAuth {
            username_key: username_key.into(),
            password_secret: password_secret.into(),
        }));
        self
    }
    /// `Authorization: Bearer` with the named secret, filled in by the host.
    pub fn bearer(mut self, secret: &str) -> Self {
        self.auth = Some(Auth::Bearer(secret.into()));
        self
    }
    /// Speak HTTP/2 to this destination (APNs accepts nothing else).
    pub fn http2(mut self) -> Self {
        self.http2 = true;
        self
    }
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

impl Response {
    /// A response, e.g. for a [`crate::testing::MockHost`] handler.
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// `Retry-After` in milliseconds, when given as delta-seconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|s| s.saturating_mul(1000))
    }
}
