//! A static file host for test media: somewhere an attachment's URL can point in sandbox mode.
//!
//! The gateway asks every attachment's URL what it really is before it accepts a message
//! (HEAD, or a ranged GET when HEAD is refused or names no length). Tests need URLs that
//! answer like a CDN would, including the ways a real one goes wrong: a `.png` that serves an
//! HTML error page, a file larger than its sender said, a 404, a host that refuses HEAD.
//!
//! `GET|HEAD /_sandbox/media/{name}` serves a generated file. It is described by query
//! parameters, so a test writes the file into its URL and needs no set-up call:
//!
//! | parameter | meaning | default |
//! |---|---|---|
//! | `type` | the `Content-Type` answered | by the name's extension (`png` → `image/png`, …), else `application/octet-stream` |
//! | `size` | the file's length in bytes | 1024 |
//! | `status` | answer this status instead, with a small HTML page (e.g. `404`) | – |
//! | `redirect` | answer `302 Found` with this `Location` | – |
//! | `head` | `refuse`: HEAD answers 405 (`Allow: GET`); `no_length`: HEAD names no length | served normally |
//! | `range` | `ignore`: a ranged GET gets the whole file with 200, as from a host without ranges | ranges honoured |
//! | `length` | `none`: no answer names the length (HEAD without `Content-Length`, GET chunked, ranges ignored) | named |
//!
//! It behaves like a plain static host: HEAD has the headers of GET and no body; GET streams
//! `size` real bytes (the type's magic number, then zeros) without holding them in memory; a
//! single `Range` is answered 206 with `Content-Range`, an unsatisfiable one 416 with
//! `Content-Range: bytes */{size}`. Every request is recorded (method, name, query, range)
//! and listed by `GET /_sandbox/media_requests`, so a test can count what reached the host;
//! at most [`KEEP`] are kept.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, get, on};
use http_body::{Frame, SizeHint};
use serde::{Deserialize, Serialize};

use crate::Shared;

/// Requests kept in the log.
pub const KEEP: usize = 10_000;
/// Bytes per chunk of a streamed body.
const CHUNK: u64 = 64 * 1024;
const DEFAULT_SIZE: u64 = 1024;

/// One request to the media host, as `GET /_sandbox/media_requests` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MediaRequest {
    pub method: String,
    pub name: String,
    /// The raw query string ("" without one).
    pub query: String,
    /// The `Range` header, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

#[derive(Default)]
pub(crate) struct MediaState {
    log: Mutex<VecDeque<MediaRequest>>,
}

impl MediaState {
    pub(crate) fn clear(&self) {
        lock(&self.log).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_sandbox/media/{name}",
            on(MethodFilter::GET.or(MethodFilter::HEAD), serve),
        )
        .route("/_sandbox/media_requests", get(requests))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Json<Vec<MediaRequest>> {
    Json(lock(&shared.media.log).iter().cloned().collect())
}

/// The file a URL describes (see the module's table).
#[derive(Debug, Default, Deserialize)]
struct FileSpec {
    #[serde(rename = "type")]
    content_type: Option<String>,
    size: Option<u64>,
    status: Option<u16>,
    redirect: Option<String>,
    head: Option<String>,
    range: Option<String>,
    length: Option<String>,
}

/// A media type by extension, for files whose URL names none.
fn type_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The first bytes of a file of this type, so a GET returns something a sniffer recognises.
fn magic(content_type: &str) -> &'static [u8] {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/jpeg" => b"\xff\xd8\xff\xe0",
        "image/gif" => b"GIF89a",
        "application/pdf" => b"%PDF-1.7\n",
        "text/html" => b"<!doctype html>",
        _ => b"",
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(name): Path<String>,
    raw: axum::extract::RawQuery,
    Query(spec): Query<FileSpec>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    {
        let mut log = lock(&shared.media.log);
        if log.len() == KEEP {
            log.pop_front();
        }
        log.push_back(MediaRequest {
            method: method.to_string(),
            name: name.clone(),
            query: raw.0.unwrap_or_default(),
            range: range.clone(),
        });
    }
    let head = method == Method::HEAD;
    if let Some(to) = spec.redirect.as_deref() {
        return (StatusCode::FOUND, [(header::LOCATION, to)], Body::empty()).into_response();
    }
    if let Some(status) = spec.status.and_then(|s| StatusCode::from_u16(s).ok()) {
        let page = format!("<!doctype html><title>{status}</title><h1>{status}</h1>");
        return (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response();
    }
    if head && spec.head.as_deref() == Some("refuse") {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET")],
            Body::empty(),
        )
            .into_response();
    }
    let content_type = spec
        .content_type
        .clone()
        .unwrap_or_else(|| type_of(&name).to_string());
    let size = spec.size.unwrap_or(DEFAULT_SIZE);
    let magic = magic(&content_type);
    let mut resp = Response::builder()
        .header(header::CONTENT_TYPE, content_type.as_str())
        .header(header::ACCEPT_RANGES, "bytes");

    let no_length = spec.length.as_deref() == Some("none");
    let honour_range = spec.range.as_deref() != Some("ignore") && !no_length;
    let wanted = range
        .as_deref()
        .filter(|_| honour_range)
        .map(|r| parse_range(r, size));
    let (status, start, len) = match wanted {
        Some(Some(RangeAnswer::Part(start, end))) => {
            resp = resp.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Some(Some(RangeAnswer::Unsatisfiable)) => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .unwrap_or_default();
        }
        // No range, or one this host does not take (several ranges): the whole file.
        _ => (StatusCode::OK, 0, size),
    };
    let exact = !(no_length || (head && spec.head.as_deref() == Some("no_length")));
    if exact {
        resp = resp.header(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let body = if head {
        // Headers only; a body of unknown length keeps the server from adding its own
        // `Content-Length: 0` to a HEAD that names none.
        Body::new(Generated {
            magic,
            offset: 0,
            end: 0,
            exact,
        })
    } else {
        Body::new(Generated {
            magic,
            offset: start,
            end: start + len,
            exact,
        })
    };
    resp.status(status).body(body).unwrap_or_default()
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range against a file of `size` bytes; `None` for a header this host
/// ignores (another unit, several ranges, garbage), which is answered with the whole file.
fn parse_range(header: &str, size: u64) -> Option<RangeAnswer> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // A suffix: the last `b` bytes.
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(RangeAnswer::Unsatisfiable);
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            u64::MAX
        } else {
            b.parse().ok()?
        };
        if end < start {
            return None;
        }
        if start >= size {
            return Some(RangeAnswer::Unsatisfiable);
        }
        (start, end.min(size - 1))
    };
    Some(RangeAnswer::Part(start, end))
}

/// The bytes `offset..end` of a file that starts with `magic` and is zeros after it, made a
/// chunk at a time.
struct Generated {
    magic: &'static [u8],
    offset: u64,
    end: u64,
    exact: bool,
}

impl http_body::Body for Generated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.offset >= self.end {
            return Poll::Ready(None);
        }
        let n = (self.end - self.offset).min(CHUNK);
        let mut chunk = vec![0u8; n as usize];
        for (i, b) in chunk.iter_mut().enumerate() {
            match self.magic.get((self.offset + i as u64) as usize) {
                Some(m) => *b = *m,
                None => break,
            }
        }
        self.offset += n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.exact && self.offset >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.end - self.offset)
        } else {
            SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_a_static_host_reads_them() {
        use RangeAnswer::*;
        assert_eq!(parse_range("bytes=0-0", 100), Some(Part(0, 0)));
        assert_eq!(parse_range("bytes=10-", 100), Some(Part(10, 99)));
        assert_eq!(parse_range("bytes=90-500", 100), Some(Part(90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some(Part(90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), Some(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-0", 0), Some(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(type_of("a.PNG"), "image/png");
        assert_eq!(type_of("doc.pdf"), "application/pdf");
        assert_eq!(type_of("noext"), "application/octet-stream");
        assert_eq!(magic("image/png; x=1"), b"\x89PNG\r\n\x1a\n");
    }
}
