//! The probe's reading of HTTP answers, its type matching, and (against a local server) the
//! HEAD-then-range order, the cache and the guard.

use std::sync::Mutex;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::netguard::AllowEntry;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn content_range_gives_the_total() {
    assert_eq!(content_range_total("bytes 0-0/1234"), Some(1234));
    assert_eq!(content_range_total("bytes  0-0/27262976 "), Some(27262976));
    assert_eq!(content_range_total("bytes */0"), Some(0));
    // The server does not know the total, or says something else.
    assert_eq!(content_range_total("bytes 0-0/*"), None);
    assert_eq!(content_range_total("items 0-0/10"), None);
    assert_eq!(content_range_total("bytes 5-1/10"), None);
    assert_eq!(content_range_total("bytes 0-0"), None);
    assert_eq!(content_range_total("bytes 0-0/-1"), None);
}

#[test]
fn a_head_without_a_length_asks_again_and_a_status_is_a_failure() {
    let ok = StatusCode::OK;
    assert_eq!(
        head_outcome(
            ok,
            &headers(&[("content-length", "42"), ("content-type", "Image/PNG; q=1")])
        ),
        Ok(Some(Probed {
            length: 42,
            content_type: Some("image/png".into())
        }))
    );
    assert_eq!(
        head_outcome(ok, &headers(&[("content-type", "image/png")])),
        Ok(None)
    );
    assert_eq!(
        head_outcome(ok, &headers(&[("content-length", "lots")])),
        Ok(None)
    );
    assert_eq!(
        head_outcome(StatusCode::NOT_FOUND, &HeaderMap::new()),
        Err(ProbeError::NotFound(404))
    );
    assert_eq!(
        head_outcome(StatusCode::GONE, &HeaderMap::new()),
        Err(ProbeError::NotFound(410))
    );
    assert_eq!(
        head_outcome(StatusCode::FORBIDDEN, &HeaderMap::new()),
        Err(ProbeError::Status(403))
    );
}

#[test]
fn a_ranged_get_reads_the_total_or_says_it_has_none() {
    let partial = StatusCode::PARTIAL_CONTENT;
    assert_eq!(
        ranged_outcome(
            partial,
            &headers(&[
                ("content-range", "bytes 0-0/900"),
                ("content-type", "video/mp4")
            ])
        ),
        Ok(Probed {
            length: 900,
            content_type: Some("video/mp4".into())
        })
    );
    assert_eq!(
        ranged_outcome(partial, &headers(&[("content-range", "bytes 0-0/*")])),
        Err(ProbeError::NoLength)
    );
    // A host that ignores ranges sends the whole file: its Content-Length is the size.
    assert_eq!(
        ranged_outcome(StatusCode::OK, &headers(&[("content-length", "77")])).map(|p| p.length),
        Ok(77)
    );
    assert_eq!(
        ranged_outcome(StatusCode::OK, &HeaderMap::new()),
        Err(ProbeError::NoLength)
    );
    // An empty file has no byte 0.
    assert_eq!(
        ranged_outcome(
            StatusCode::RANGE_NOT_SATISFIABLE,
            &headers(&[("content-range", "bytes */0")])
        )
        .map(|p| p.length),
        Ok(0)
    );
    assert_eq!(
        ranged_outcome(StatusCode::RANGE_NOT_SATISFIABLE, &HeaderMap::new()),
        Err(ProbeError::Status(416))
    );
    assert_eq!(
        ranged_outcome(StatusCode::NOT_FOUND, &HeaderMap::new()),
        Err(ProbeError::NotFound(404))
    );
}

#[test]
fn types_match_by_kind_and_for_files_by_the_rule() {
    let docs: Vec<String> = ["odt", "ppt", "txt", "doc", "pdf"]
        .map(String::from)
        .to_vec();
    assert!(type_matches(MediaKind::Image, "image/png", &[]));
    assert!(type_matches(MediaKind::Image, "image/webp", &[]));
    assert!(!type_matches(MediaKind::Image, "text/html", &[]));
    assert!(!type_matches(MediaKind::Image, "image/", &[]));
    assert!(!type_matches(
        MediaKind::Image,
        "application/octet-stream",
        &[]
    ));
    assert!(type_matches(MediaKind::Video, "video/mp4", &[]));
    assert!(!type_matches(MediaKind::Video, "image/gif", &[]));
    assert!(type_matches(MediaKind::Audio, "audio/mpeg", &[]));
    assert!(!type_matches(MediaKind::Audio, "video/mp4", &[]));
    assert!(type_matches(MediaKind::File, "application/pdf", &docs));
    assert!(type_matches(MediaKind::File, "application/msword", &docs));
    assert!(type_matches(
        MediaKind::File,
        "application/octet-stream",
        &docs
    ));
    assert!(!type_matches(MediaKind::File, "text/html", &docs));
    assert!(!type_matches(MediaKind::File, "application/zip", &docs));
    // An extension the table does not know: anything but an HTML page.
    let odd = vec!["xyz".to_string()];
    assert!(type_matches(MediaKind::File, "application/x-xyz", &odd));
    assert!(!type_matches(MediaKind::File, "text/html", &odd));
}

/// A local file host answering each request with `answer(method, range)`, counting them.
struct Host {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Host {
    async fn start(answer: fn(&str, Option<&str>) -> String) -> Host {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                let method = text.split(' ').next().unwrap_or("").to_string();
                let range = text.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("range:")
                        .map(|r| r.trim().to_string())
                });
                log.lock()
                    .unwrap()
                    .push(format!("{method} {}", range.clone().unwrap_or_default()));
                let reply = answer(&method, range.as_deref());
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        Host { base, seen }
    }

    fn policy(&self) -> Arc<NetPolicy> {
        let addr = self.base.trim_start_matches("http://");
        NetPolicy::new(vec![AllowEntry::parse(addr).unwrap()])
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn head_refused_falls_back_to_one_byte_and_the_answer_is_kept() {
    let host = Host::start(|method, range| match (method, range) {
        ("HEAD", _) => "HTTP/1.1 405 Method Not Allowed\r\nallow: GET\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
        (_, Some("bytes=0-0")) => "HTTP/1.1 206 Partial Content\r\ncontent-type: image/jpeg\r\ncontent-range: bytes 0-0/5000\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx".into(),
        _ => "HTTP/1.1 500 Nope\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    })
    .await;
    let probe = MediaProbe::new(host.policy(), ProbeConfig::default()).unwrap();
    let url = format!("{}/photo.jpg", host.base);
    let want = Ok(Probed {
        length: 5000,
        content_type: Some("image/jpeg".into()),
    });
    let (a, b) = tokio::join!(probe.probe(&url), probe.probe(&url));
    assert_eq!((a, b), (want.clone(), want.clone()));
    assert_eq!(probe.probe(&url).await, want);
    // One HEAD and one ranged GET for three asks, two of them at once.
    assert_eq!(host.seen(), ["HEAD ", "GET bytes=0-0"]);
}

#[tokio::test]
async fn a_private_address_is_never_asked() {
    let host = Host::start(|_, _| {
        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 10\r\nconnection: close\r\n\r\n".into()
    })
    .await;
    // The same host, not allow-listed.
    let probe = MediaProbe::new(NetPolicy::new(vec![]), ProbeConfig::default()).unwrap();
    let got = probe.probe(&format!("{}/a.png", host.base)).await;
    assert!(matches!(got, Err(ProbeError::PrivateAddress(_))), "{got:?}");
    let by_name = probe
        .probe(&format!(
            "{}/a.png",
            host.base.replace("127.0.0.1", "localhost")
        ))
        .await;
    assert!(
        matches!(by_name, Err(ProbeError::PrivateAddress(_))),
        "{by_name:?}"
    );
    assert!(host.seen().is_empty(), "{:?}", host.seen());
    // Allowed, it answers.
    let allowed = MediaProbe::new(host.policy(), ProbeConfig::default()).unwrap();
    let ok = allowed.probe(&format!("{}/a.png", host.base)).await;
    assert_eq!(ok.map(|p| p.length), Ok(10));
}

#[tokio::test]
async fn failures_are_kept_briefly_and_a_full_cache_drops_the_oldest() {
    let host = Host::start(|_, _| {
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
    })
    .await;
    let config = ProbeConfig {
        failure_ttl: Duration::from_millis(50),
        capacity: 2,
        ..ProbeConfig::default()
    };
    let probe = MediaProbe::new(host.policy(), config).unwrap();
    let url = format!("{}/gone.png", host.base);
    assert_eq!(probe.probe(&url).await, Err(ProbeError::NotFound(404)));
    assert_eq!(probe.probe(&url).await, Err(ProbeError::NotFound(404)));
    assert_eq!(host.seen().len(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(probe.probe(&url).await, Err(ProbeError::NotFound(404)));
    assert_eq!(host.seen().len(), 2);
    for name in ["a", "b", "c"] {
        let _ = probe.probe(&format!("{}/{name}.png", host.base)).await;
    }
    assert!(probe.cache.lock().unwrap().len() <= 2);
}
