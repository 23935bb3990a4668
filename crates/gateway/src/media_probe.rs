//! What an attachment's URL really serves, asked before a message is accepted.
//!
//! A caller declares each attachment's kind and size, and a URL's extension says what the
//! file should be; none of that says what the provider will find when it fetches the URL. A
//! `.png` that serves an HTML error page becomes "an image tag with no image", a file larger
//! than its sender said fails at the provider (Messenger's `2018109`), a 404 fails as a fetch
//! error. So intake asks the URL itself, once, before anything is stored:
//!
//! - `HEAD`, reading `Content-Type` and `Content-Length`;
//! - when HEAD is refused (405, 501) or names no length, a `GET` of one byte
//!   (`Range: bytes=0-0`), reading the total from `Content-Range` (or `Content-Length` from a
//!   host that ignores ranges; the body is never read).
//!
//! Every request goes through the network guard ([`NetPolicy::guard`]): a URL whose host is
//! or resolves to a loopback, private or link-local address the operator did not allow-list
//! is refused before a request is written. Redirects are followed, at most
//! [`MAX_REDIRECTS`], each hop checked again (an address literal here, before connecting;
//! names in the guard's resolver and the address connected to in its connector), since CDNs
//! and signed storage URLs commonly redirect and the provider fetching the URL follows them
//! too. The whole probe has one deadline ([`ProbeConfig::timeout`]).
//!
//! Answers are kept per URL in a bounded in-memory cache (keyed by the URL's SHA-256, so a
//! long URL costs no more than a short one): a burst of sends with the same image asks once,
//! and concurrent asks for a URL not yet known wait for the one request in flight. A file's
//! facts are kept for [`ProbeConfig::ttl`]; a failure only for [`ProbeConfig::failure_ttl`],
//! so a file uploaded just after a refused send is found soon after.
//!
//! The probe reports facts; [`crate::validation::check_fetched`] judges them against the
//! channel's manifest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::model::{Media, MediaKind};
use crate::netguard::{NetError, NetPolicy, denied_in};

/// Redirect hops followed before a URL counts as unreachable.
pub const MAX_REDIRECTS: usize = 3;

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The deadline for one URL, the HEAD and its ranged GET together (`--media-probe-timeout-ms`).
    pub timeout: Duration,
    /// How long a file's facts are reused.
    pub ttl: Duration,
    /// How long a failure (unreachable, 404, empty, no length) is reused.
    pub failure_ttl: Duration,
    /// URLs kept at most.
    pub capacity: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            timeout: Duration::from_secs(3),
            ttl: Duration::from_secs(300),
            failure_ttl: Duration::from_secs(10),
            capacity: 4096,
        }
    }
}

/// What a URL serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// The file's length in bytes.
    pub length: u64,
    /// The `Content-Type`'s media type, lower-case, parameters dropped; `None` without one.
    pub content_type: Option<String>,
}

/// Why a URL could not be read. Each is a violation of the field that holds the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("{0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("{0} is a loopback, private or link-local address and is not allow-listed")]
    PrivateAddress(String),
    #[error("the server answered {0} (no file at this URL)")]
    NotFound(u16),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("could not be fetched: {0}")]
    Unreachable(String),
    #[error(
        "the server does not say how large the file is (no Content-Length, no Content-Range total)"
    )]
    NoLength,
}

impl ProbeError {
    /// The violation code this failure is reported with.
    pub fn code(&self) -> &'static str {
        match self {
            ProbeError::BadUrl(_) => "invalid_url",
            ProbeError::PrivateAddress(_) => "media_private_address",
            ProbeError::NotFound(_) => "media_not_found",
            ProbeError::NoLength => "media_size_unknown",
            ProbeError::Status(_)
            | ProbeError::Timeout(_)
            | ProbeError::TooManyRedirects
            | ProbeError::Unreachable(_) => "media_unreachable",
        }
    }
}

pub type Outcome = Result<Probed, ProbeError>;

/// One URL's answer, shared by everyone who asked while it was in flight; the instant is
/// when it was asked.
type Slot = Arc<OnceCell<(Instant, Outcome)>>;

/// The media probe: an HTTP client behind the network guard and the cache of its answers.
/// Intake holds one; it keeps no state but the cache.
pub struct MediaProbe {
    client: reqwest::Client,
    net: Arc<NetPolicy>,
    config: ProbeConfig,
    cache: Mutex<HashMap<[u8; 32], Slot>>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the media probe's HTTP client: {0}")]
pub struct ProbeBuildError(#[from] reqwest::Error);

impl MediaProbe {
    pub fn new(
        net: Arc<NetPolicy>,
        config: ProbeConfig,
    ) -> Result<Arc<MediaProbe>, ProbeBuildError> {
        let hops = net.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(ProbeError::TooManyRedirects);
            }
            // An address literal never reaches the resolver: check it before connecting.
            match hops.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let client = net
            .guard(reqwest::Client::builder())
            .redirect(redirects)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!(
                "Switchboard-MediaProbe/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Arc::new(MediaProbe {
            client,
            net,
            config,
            cache: Mutex::new(HashMap::new()),
        }))
    }

    /// Probe every attachment whose index is in `which`, concurrently; the answer is aligned
    /// with `media` (`None` where not asked).
    pub async fn probe_all(
        self: &Arc<Self>,
        media: &[Media],
        which: &[bool],
    ) -> Vec<Option<Outcome>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, m) in media.iter().enumerate() {
            if which.get(i).copied().unwrap_or(false) {
                let (probe, url) = (self.clone(), m.url.clone());
                tasks.spawn(async move { (i, probe.probe(&url).await) });
            }
        }
        let mut out = vec![None; media.len()];
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((i, outcome)) => out[i] = Some(outcome),
                // A probe task only ends early by panicking; report it as unreachable
                // rather than accept an attachment nobody looked at.
                Err(e) => tracing::error!(error = %e, "media probe task failed"),
            }
        }
        for (i, slot) in out.iter_mut().enumerate() {
            if slot.is_none() && which.get(i).copied().unwrap_or(false) {
                *slot = Some(Err(ProbeError::Unreachable("the probe failed".into())));
            }
        }
        out
    }

    /// What `url` serves: from the cache when known, else asked once.
    pub async fn probe(&self, url: &str) -> Outcome {
        let cell = self.cell(url);
        let (_, outcome) = cell
            .get_or_init(|| async { (Instant::now(), self.fetch(url).await) })
            .await;
        outcome.clone()
    }

    /// The cache slot for `url`: a live one (answered and fresh, or in flight), else new.
    fn cell(&self, url: &str) -> Slot {
        let key: [u8; 32] = Sha256::digest(url.as_bytes()).into();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = cache.get(&key)
            && self.fresh(slot)
        {
            return slot.clone();
        }
        if cache.len() >= self.config.capacity && !cache.contains_key(&key) {
            cache.retain(|_, slot| self.fresh(slot));
            if cache.len() >= self.config.capacity {
                // Still full of live answers: drop the oldest (in-flight ones are newest).
                let oldest = cache
                    .iter()
                    .filter_map(|(k, slot)| slot.get().map(|(at, _)| (*at, *k)))
                    .min();
                match oldest {
                    Some((_, k)) => {
                        cache.remove(&k);
                    }
                    None => {
                        // Every slot is in flight: answer this one without caching it.
                        return Arc::new(OnceCell::new());
                    }
                }
            }
        }
        let slot = Slot::default();
        cache.insert(key, slot.clone());
        slot
    }

    fn fresh(&self, cell: &OnceCell<(Instant, Outcome)>) -> bool {
        match cell.get() {
            None => true,
            Some((at, outcome)) => {
                let ttl = match outcome {
                    Ok(p) if p.length > 0 => self.config.ttl,
                    _ => self.config.failure_ttl,
                };
                at.elapsed() < ttl
            }
        }
    }

    async fn fetch(&self, url: &str) -> Outcome {
        let parsed = reqwest::Url::parse(url).map_err(|_| ProbeError::BadUrl(url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ProbeError::BadUrl(url.into()));
        }
        if let Err(NetError::Denied(what) | NetError::BadEntry(what)) = self.net.check_url(&parsed)
        {
            return Err(ProbeError::PrivateAddress(what));
        }
        match tokio::time::timeout(self.config.timeout, self.head_then_range(parsed)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ProbeError::Timeout(self.config.timeout.as_millis())),
        }
    }

    async fn head_then_range(&self, url: reqwest::Url) -> Outcome {
        let head = self
            .client
            .head(url.clone())
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        if matches!(
            head.status(),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
        ) {
            return self.ranged(url).await;
        }
        match head_outcome(head.status(), head.headers())? {
            Some(found) => Ok(found),
            None => self.ranged(url).await,
        }
    }

    async fn ranged(&self, url: reqwest::Url) -> Outcome {
        let resp = self
            .client
            .get(url)
            .header(header::RANGE, "bytes=0-0")
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        // Dropped unread: a host that ignored the range is sending the whole file.
        ranged_outcome(resp.status(), resp.headers())
    }

    fn classify(&self, e: reqwest::Error) -> ProbeError {
        if let Some(what) = denied_in(&e) {
            return ProbeError::PrivateAddress(what);
        }
        if e.is_redirect() {
            return ProbeError::TooManyRedirects;
        }
        if e.is_timeout() {
            return ProbeError::Timeout(self.config.timeout.as_millis());
        }
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(x) = src {
            s.push_str(": ");
            s.push_str(&x.to_string());
            src = x.source();
        }
        ProbeError::Unreachable(s)
    }
}

/// A HEAD's answer: the file when it names its length, `None` when it names none (ask with a
/// ranged GET), or the failure a non-2xx status is.
pub fn head_outcome(status: StatusCode, headers: &HeaderMap) -> Result<Option<Probed>, ProbeError> {
    failed_status(status)?;
    Ok(content_length(headers).map(|length| Probed {
        length,
        content_type: content_type(headers),
    }))
}

/// A `Range: bytes=0-0` GET's answer.
pub fn ranged_outcome(status: StatusCode, headers: &HeaderMap) -> Outcome {
    let length = match status {
        StatusCode::PARTIAL_CONTENT => header_str(headers, header::CONTENT_RANGE)
            .and_then(content_range_total)
            .ok_or(ProbeError::NoLength)?,
        // Nothing to range over: `bytes */0` is an empty file.
        StatusCode::RANGE_NOT_SATISFIABLE => {
            match header_str(headers, header::CONTENT_RANGE).and_then(content_range_total) {
                Some(0) => 0,
                _ => return Err(ProbeError::Status(status.as_u16())),
            }
        }
        _ => {
            failed_status(status)?;
            content_length(headers).ok_or(ProbeError::NoLength)?
        }
    };
    Ok(Probed {
        length,
        content_type: content_type(headers),
    })
}

fn failed_status(status: StatusCode) -> Result<(), ProbeError> {
    match status.as_u16() {
        200..=299 => Ok(()),
        404 | 410 => Err(ProbeError::NotFound(status.as_u16())),
        s => Err(ProbeError::Status(s)),
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Content-Length` as the header says it (reqwest's own `content_length()` is the body's,
/// which a HEAD answer never has).
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH)?
        .trim()
        .parse()
        .ok()
}

/// The complete length from a `Content-Range` (`bytes 0-0/1234` or `bytes */1234`); `None`
/// when the server does not know it (`/*`) or the header is malformed.
pub fn content_range_total(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let range = range.trim();
    if range != "*" {
        let (a, b) = range.split_once('-')?;
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        if b < a {
            return None;
        }
    }
    total.trim().parse().ok()
}

/// The media type of `Content-Type`, lower-case and without parameters.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let essence = header_str(headers, header::CONTENT_TYPE)?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// The media types a document extension is served as; empty for one this table lacks.
fn document_types(extension: &str) -> &'static [&'static str] {
    match extension {
        "pdf" => &["application/pdf"],
        "txt" => &["text/plain"],
        "csv" => &["text/csv", "text/plain"],
        "rtf" => &["application/rtf", "text/rtf"],
        "doc" => &["application/msword"],
        "docx" => &["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
        "ppt" => &["application/vnd.ms-powerpoint"],
        "pptx" => &["application/vnd.openxmlformats-officedocument.presentationml.presentation"],
        "xls" => &["application/vnd.ms-excel"],
        "xlsx" => &["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
        "odt" => &["application/vnd.oasis.opendocument.text"],
        "ods" => &["application/vnd.oasis.opendocument.spreadsheet"],
        "odp" => &["application/vnd.oasis.opendocument.presentation"],
        "zip" => &["application/zip", "application/x-zip-compressed"],
        _ => &[],
    }
}

/// Whether a served media type is what an attachment of `kind` must be: `image/*`,
/// `video/*`, `audio/*`, and for a file one of the types of the rule's `extensions`. A file
/// may also come as `application/octet-stream` (plain bytes: what storage serves when nobody
/// set a type); when the rule names an extension this table does not know, any type but an
/// HTML page passes, since an HTML page at a file's URL is the host's error page.
pub fn type_matches(kind: MediaKind, content_type: &str, extensions: &[String]) -> bool {
    let family = |prefix: &str| {
        content_type
            .strip_prefix(prefix)
            .is_some_and(|sub| !sub.is_empty())
    };
    match kind {
        MediaKind::Image => family("image/"),
        MediaKind::Video => family("video/"),
        MediaKind::Audio => family("audio/"),
        MediaKind::File => {
            content_type == "application/octet-stream"
                || extensions
                    .iter()
                    .any(|e| document_types(e).contains(&content_type))
                || (content_type != "text/html"
                    && extensions.iter().any(|e| document_types(e).is_empty()))
        }
    }
}

#[cfg(test)]
#[path = "media_probe_tests.rs"]
mod tests;
