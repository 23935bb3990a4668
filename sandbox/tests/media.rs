//! The media host over real HTTP: it must look like a plain static file host to a client
//! (HEAD with GET's headers and no body, ranges, lengths), since the gateway's media probe
//! reads exactly those.

mod common;

use axum::http::StatusCode;
use serde_json::Value;
use switchboard_sandbox::SandboxConfig;

use crate::common::{client, header, start_sandbox};

#[tokio::test]
async fn head_get_and_ranges_answer_like_a_static_host() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let http = client();
    let url = format!("{}/_sandbox/media/photo.png?size=5000", sb.base_url());

    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(head.headers(), "content-length"), "5000");
    assert_eq!(header(head.headers(), "content-type"), "image/png");
    assert_eq!(header(head.headers(), "accept-ranges"), "bytes");
    assert!(head.bytes().await.unwrap().is_empty());

    let get = http.get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    let body = get.bytes().await.unwrap();
    assert_eq!(body.len(), 5000);
    assert_eq!(&body[..8], b"\x89PNG\r\n\x1a\n");

    let one = http
        .get(&url)
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(one.headers(), "content-range"), "bytes 0-0/5000");
    assert_eq!(one.bytes().await.unwrap().as_ref(), b"\x89");

    let past = http
        .get(&url)
        .header("range", "bytes=5000-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(past.headers(), "content-range"), "bytes */5000");

    // A big file is streamed, not held: 30 MB arrive whole.
    let big = format!("{}/_sandbox/media/big.pdf?size=31457280", sb.base_url());
    let got = http.get(&big).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.len(), 31_457_280);
    assert!(got.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn the_ways_a_host_goes_wrong() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let http = client();
    let url = |q: &str| format!("{}/_sandbox/media/x.png?{q}", sb.base_url());

    let html = http.head(url("type=text/html")).send().await.unwrap();
    assert_eq!(header(html.headers(), "content-type"), "text/html");

    let missing = http.head(url("status=404")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let refused = http.head(url("head=refuse")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(refused.headers(), "allow"), "GET");

    let silent = http
        .head(url("head=no_length&size=77"))
        .send()
        .await
        .unwrap();
    assert_eq!(silent.status(), StatusCode::OK);
    assert_eq!(header(silent.headers(), "content-length"), "");
    // Its GET still says how large the file is.
    let ranged = http
        .get(url("head=no_length&size=77"))
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(header(ranged.headers(), "content-range"), "bytes 0-0/77");

    let nothing = http
        .get(url("length=none&size=77"))
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), StatusCode::OK);
    assert_eq!(header(nothing.headers(), "content-length"), "");
    assert_eq!(header(nothing.headers(), "content-range"), "");
    assert_eq!(nothing.bytes().await.unwrap().len(), 77);

    let ignored = http
        .get(url("range=ignore&size=10"))
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(ignored.status(), StatusCode::OK);
    assert_eq!(header(ignored.headers(), "content-length"), "10");

    let empty = http
        .get(url("size=0"))
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(empty.headers(), "content-range"), "bytes */0");

    let no_follow = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let moved = no_follow
        .head(url("redirect=http://example.test/y.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::FOUND);
    assert_eq!(
        header(moved.headers(), "location"),
        "http://example.test/y.png"
    );

    // Every request was recorded, in order; reset forgets them.
    let log: Value = http
        .get(format!("{}/_sandbox/media_requests", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 9, "{log:#?}");
    assert_eq!(log[0]["method"], "HEAD");
    assert_eq!(log[0]["query"], "type=text/html");
    assert_eq!(log[4]["range"], "bytes=0-0");
    http.post(format!("{}/_sandbox/reset", sb.base_url()))
        .send()
        .await
        .unwrap();
    let log: Value = http
        .get(format!("{}/_sandbox/media_requests", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log, serde_json::json!([]));
}
