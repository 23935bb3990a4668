//! The `http` import: every outbound request a plugin makes passes through here.
//!
//! Network is denied by default. A request goes out only when its origin
//! (`scheme://host[:port]`) matches the plugin manifest's `outbound-hosts` or an origin the
//! operator allow-listed on the connection (the sandbox allow-lists its simulators), and
//! when the address it connects to is public or operator allow-listed ([`crate::netguard`]). Redirects
//! are not followed, so the checked URL is the URL that is fetched. Secrets are attached here,
//! after the check, so a plugin cannot aim a secret at a host it may not reach.
//!
//! The answer is redacted before the plugin reads it: every secret value of the connection
//! (as sent, percent-encoded, and as the Basic credential of this request) becomes
//! `[redacted]` in the response's headers and body. Plugins never hold a secret, and an allowed
//! host that echoes a request (many APIs quote the offending header in an error) must not
//! hand one back, because what a plugin reads can end up in a failure detail, an event or
//! a log line.

use std::time::Duration;

use reqwest::Url;

use super::bindings::switchboard::channel::http::{Auth, HttpError, Request, Response};
use super::{ConnectionCtx, RuntimeLimits};
pub use crate::netguard::OriginPattern;

/// What a call may reach: the manifest's hosts plus the connection's operator allow-list.
pub fn allow_list(manifest_hosts: &[String], conn: Option<&ConnectionCtx>) -> Vec<OriginPattern> {
    manifest_hosts
        .iter()
        .map(String::as_str)
        .chain(
            conn.into_iter()
                .flat_map(|c| c.allowed_origins.iter().map(String::as_str)),
        )
        .filter_map(OriginPattern::parse)
        .collect()
}

/// Replace `{{secret:NAME}}` with the connection's secret. Unknown names stay as they are,
/// so a typo shows up at the provider as an auth failure rather than leaking anything.
fn fill_secrets(text: &str, conn: Option<&ConnectionCtx>) -> String {
    let Some(conn) = conn else {
        return text.to_string();
    };
    if !text.contains("{{secret:") {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (name, value) in &conn.secrets {
        out = out.replace(&format!("{{{{secret:{name}}}}}"), value.expose());
    }
    out
}

/// One plugin request, cut off at the shortest of its own timeout, the host's cap and
/// `time_left` in the call.
pub async fn execute(
    client: &reqwest::Client,
    limits: &RuntimeLimits,
    allowed: &[OriginPattern],
    conn: Option<&ConnectionCtx>,
    req: Request,
    time_left: Duration,
    answer_lost: &mut bool,
) -> Result<Response, HttpError> {
    let url = Url::parse(&req.url)
        .map_err(|e| HttpError::Invalid(format!("bad url {:?}: {e}", req.url)))?;
    if !allowed.iter().any(|p| p.matches(&url)) && !limits.net.origin_allowed(&url) {
        let origin = url.origin().ascii_serialization();
        return Err(HttpError::Denied(format!(
            "{origin} is not on this plugin's allow-list"
        )));
    }
    // Names are checked after resolution by the client's resolver; literals here.
    limits
        .net
        .check_url(&url)
        .map_err(|e| HttpError::Denied(e.to_string()))?;
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| HttpError::Invalid(format!("bad method {:?}", req.method)))?;
    let timeout = req
        .timeout_ms
        .map(|ms| Duration::from_millis(ms.into()))
        .unwrap_or(limits.http_timeout)
        .min(limits.http_timeout)
        .min(time_left);

    let redactions = Redactions::new(conn, req.auth.as_ref());
    let mut builder = client.request(method, url).timeout(timeout);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), fill_secrets(value, conn));
    }
    // A missing credential is the connection's configuration problem: say so instead of
    // sending an empty one and reading the provider's 401 as an expired token.
    let missing = |what: &str| HttpError::Invalid(format!("the connection has no {what}"));
    match &req.auth {
        Some(Auth::Basic(b)) => {
            let conn = conn.ok_or_else(|| missing("credentials"))?;
            let user = conn
                .config
                .get(&b.username_key)
                .ok_or_else(|| missing(&format!("config `{}`", b.username_key)))?;
            let pass = conn
                .secrets
                .get(&b.password_secret)
                .ok_or_else(|| missing(&format!("secret `{}`", b.password_secret)))?;
            builder = builder.basic_auth(user, Some(pass.expose()));
        }
        Some(Auth::Bearer(name)) => {
            let conn = conn.ok_or_else(|| missing("credentials"))?;
            let token = conn
                .secrets
                .get(name)
                .ok_or_else(|| missing(&format!("secret `{name}`")))?;
            builder = builder.bearer_auth(token.expose());
        }
        None => {}
    }
    let body = if req.body.windows(9).any(|w| w == b"{{secret:") {
        fill_secrets(&String::from_utf8_lossy(&req.body), conn).into_bytes()
    } else {
        req.body
    };
    let mut resp = builder.body(body).send().await.map_err(|e| {
        // A failure while connecting means nothing was sent; any later one (a reset, a
        // timeout waiting for the answer) may have reached the provider.
        if !e.is_connect() {
            *answer_lost = true;
        }
        classify(e)
    })?;

    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                redactions.apply_str(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        *answer_lost = true;
        classify(e)
    })? {
        if body.len() + chunk.len() > limits.http_max_response_bytes {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body: redactions.apply(body),
    })
}

/// What becomes `[redacted]` in an answer. Values shorter than [`Redactions::MIN_LEN`] bytes
/// are left alone: they would match ordinary text in legitimate answers, and a credential
/// that short protects nothing.
struct Redactions(Vec<Vec<u8>>);

impl Redactions {
    const MIN_LEN: usize = 6;
    const MARK: &'static [u8] = b"[redacted]";

    fn new(conn: Option<&ConnectionCtx>, auth: Option<&Auth>) -> Redactions {
        let mut values: Vec<Vec<u8>> = Vec::new();
        let Some(conn) = conn else {
            return Redactions(values);
        };
        for secret in conn.secrets.values() {
            let raw = secret.expose();
            values.push(raw.as_bytes().to_vec());
            let encoded = percent_encode(raw);
            if encoded != raw {
                values.push(encoded.into_bytes());
            }
        }
        if let Some(Auth::Basic(b)) = auth
            && let (Some(user), Some(pass)) = (
                conn.config.get(&b.username_key),
                conn.secrets.get(&b.password_secret),
            )
        {
            use base64::Engine as _;
            let credential = format!("{user}:{}", pass.expose());
            values.push(
                base64::engine::general_purpose::STANDARD
                    .encode(credential)
                    .into_bytes(),
            );
        }
        values.retain(|v| v.len() >= Self::MIN_LEN);
        // Longest first, so a value that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactions(values)
    }

    fn apply(&self, mut body: Vec<u8>) -> Vec<u8> {
        for value in &self.0 {
            body = replace_all(&body, value, Self::MARK);
        }
        body
    }

    fn apply_str(&self, text: String) -> String {
        if self.0.is_empty() {
            return text;
        }
        String::from_utf8_lossy(&self.apply(text.into_bytes())).into_owned()
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters: how a secret
/// looks when a provider quotes it back from a query string or form body.
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn classify(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else if let Some(what) = crate::netguard::denied_in(&e) {
        HttpError::Denied(format!(
            "{what} is a loopback, private or link-local address and is not allow-listed"
        ))
    } else {
        // reqwest's Display omits the cause; walk the chain for a useful detail.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        HttpError::Connect(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, u: &str) -> bool {
        OriginPattern::parse(p)
            .unwrap()
            .matches(&Url::parse(u).unwrap())
    }

    #[test]
    fn answers_are_redacted_of_every_form_of_a_secret() {
        let conn = ConnectionCtx {
            id: "c".into(),
            name: "n".into(),
            webhook_url: String::new(),
            config: [("user".to_string(), "AC123".to_string())].into(),
            secrets: [
                ("token".to_string(), crate::Secret::new("s3cr3t/tok+en")),
                ("pin".to_string(), crate::Secret::new("1234")),
            ]
            .into(),
            allowed_origins: vec![],
        };
        let basic = Auth::Basic(crate::bindings::switchboard::channel::http::BasicAuth {
            username_key: "user".into(),
            password_secret: "token".into(),
        });
        let r = Redactions::new(Some(&conn), Some(&basic));
        let echoed = b"raw s3cr3t/tok+en; query s3cr3t%2Ftok%2Ben; basic QUMxMjM6czNjcjN0L3Rvaytlbg==; pin 1234";
        assert_eq!(
            String::from_utf8(r.apply(echoed.to_vec())).unwrap(),
            "raw [redacted]; query [redacted]; basic [redacted]; pin 1234"
        );
        assert_eq!(
            r.apply_str("x-echo: s3cr3t/tok+en".into()),
            "x-echo: [redacted]"
        );
        let none = Redactions::new(None, None);
        assert_eq!(none.apply(echoed.to_vec()), echoed.to_vec());
    }

    #[test]
    fn origin_patterns() {
        assert!(m(
            "https://api.twilio.com",
            "https://api.twilio.com/2010-04-01/x"
        ));
        assert!(m("https://api.twilio.com", "https://API.twilio.com:443/"));
        assert!(!m("https://api.twilio.com", "http://api.twilio.com/"));
        assert!(!m("https://api.twilio.com", "https://api.twilio.com:8443/"));
        assert!(!m(
            "https://api.twilio.com",
            "https://api.twilio.com.evil.com/"
        ));
        assert!(m("https://*.example.com", "https://a.b.example.com/"));
        assert!(!m("https://*.example.com", "https://example.com/"));
        assert!(!m("https://*.example.com", "https://badexample.com/"));
        assert!(m("http://127.0.0.1:9000", "http://127.0.0.1:9000/x"));
        assert!(!m("http://127.0.0.1:9000", "http://127.0.0.1:9001/x"));
    }
}
