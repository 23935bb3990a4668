//! Verified media: before a send with attachments is accepted, the gateway asks each URL what
//! it really serves (through the network guard) and judges that, not what the caller
//! declared. The files live on the sandbox's media host (`/_sandbox/media/{name}`), which
//! serves what its URL describes and counts the requests that reach it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_MESSENGER_PAGES;

use crate::receiver::Receiver;
use crate::support::{Gateway, wait_until};

const MB: u64 = 1024 * 1024;

fn messenger(psid: &str, media: Value) -> Value {
    json!({"channel": "messenger", "to": {"psid": psid}, "content": {"media": [media]}})
}

/// The one violation of a refused send, after checking it is a 422 that stored nothing.
async fn refused(gw: &Gateway, body: &Value) -> Value {
    let (status, resp) = gw.post_message(body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {resp}");
    assert_eq!(resp["error"]["code"], "invalid_format", "{resp}");
    let violations = resp["error"]["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{resp}");
    let (_, page) = gw.get("/v1/messages").await;
    assert_eq!(page["data"], json!([]), "a refused send stored something");
    violations[0].clone()
}

/// What reached the media host for `name`: `(method, range)` per request.
async fn requests_for(gw: &Gateway, name: &str) -> Vec<(String, Option<String>)> {
    gw.sim_get("/_sandbox/media_requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == name)
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["range"].as_str().map(String::from),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_file_over_messengers_cap_is_refused_by_its_real_size_not_its_declared_one() {
    let gw = Gateway::start("media-too-large", &[]);
    // 26 MB served, 1 MB declared; Messenger takes 25 MB.
    let url = format!("{}/_sandbox/media/report.pdf?size={}", gw.sim, 26 * MB);
    let body = messenger(
        "5550001",
        json!({"kind": "file", "url": url, "mime_type": "application/pdf", "size": MB}),
    );
    let v = refused(&gw, &body).await;
    assert_eq!(v["code"], "file_too_large", "{v}");
    assert_eq!(v["field"], "content.media[0].url", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(&(26 * MB).to_string())
            && message.contains(&format!("declared {MB}"))
            && message.contains(&(25 * MB).to_string()),
        "{message}"
    );
    assert_eq!(
        requests_for(&gw, "report.pdf").await,
        [("HEAD".to_string(), None)]
    );

    // Just within the cap, with a size declared far over it: accepted (in the preview).
    let fits = format!("{}/_sandbox/media/fits.pdf?size={}", gw.sim, 25 * MB);
    let (status, resp) = gw
        .post_json(
            "/v1/messages/preview",
            &messenger(
                "5550001",
                json!({"kind": "file", "url": fits, "mime_type": "application/pdf", "size": 90 * MB}),
            ),
        )
        .await;
    assert_eq!(
        (status, &resp["valid"]),
        (StatusCode::OK, &json!(true)),
        "{resp}"
    );
}

#[tokio::test]
async fn a_png_that_serves_html_is_a_blank_image_and_a_404_is_not_found() {
    let gw = Gateway::start("media-wrong", &[]);
    let image = |url: String| {
        messenger(
            "5550001",
            json!({"kind": "image", "url": url, "mime_type": "image/png", "size": 1000}),
        )
    };

    let html = format!("{}/_sandbox/media/banner.png?type=text/html", gw.sim);
    let v = refused(&gw, &image(html)).await;
    assert_eq!(
        (v["code"].as_str(), v["field"].as_str()),
        (Some("media_type_mismatch"), Some("content.media[0].url")),
        "{v}"
    );
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("serves text/html, not an image"),
        "{message}"
    );

    let missing = format!("{}/_sandbox/media/missing.png?status=404", gw.sim);
    let v = refused(&gw, &image(missing)).await;
    assert_eq!(
        (v["code"].as_str(), v["field"].as_str()),
        (Some("media_not_found"), Some("content.media[0].url")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("404"), "{v}");

    let empty = format!("{}/_sandbox/media/empty.png?size=0", gw.sim);
    let v = refused(&gw, &image(empty)).await;
    assert_eq!(v["code"], "media_empty", "{v}");

    // A host that names no length anywhere (HEAD without one, ranges ignored on a
    // chunked answer) leaves the size unknown: refused, not trusted.
    let silent = format!("{}/_sandbox/media/silent.png?length=none", gw.sim);
    let v = refused(&gw, &image(silent)).await;
    assert_eq!(v["code"], "media_size_unknown", "{v}");
}

#[tokio::test]
async fn the_probe_never_reaches_a_private_address() {
    let gw = Gateway::start("media-private", &[]);
    // Another port on loopback: not the simulators' listener, so not allow-listed.
    let inside = Receiver::start().await;
    let image = |url: String| {
        messenger(
            "5550001",
            json!({"kind": "image", "url": url, "mime_type": "image/png", "size": 1000}),
        )
    };
    for url in [
        format!("{}/secret.png", inside.url),
        format!("http://localhost:{}/secret.png", inside.port),
        // Through a redirect from an allowed host: the hop is checked again.
        format!(
            "{}/_sandbox/media/hop.png?redirect={}/secret.png",
            gw.sim, inside.url
        ),
    ] {
        let v = refused(&gw, &image(url.clone())).await;
        assert_eq!(
            (v["code"].as_str(), v["field"].as_str()),
            (Some("media_private_address"), Some("content.media[0].url")),
            "{url}: {v}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        inside.received().is_empty(),
        "a probe reached the private receiver"
    );
}

#[tokio::test]
async fn a_good_image_is_accepted_with_its_real_size_and_asked_once() {
    let gw = Gateway::start("media-good", &[]);
    let psid = "24000000000000077";
    // The user writes first, so the page may answer (the 24 h window).
    gw.sim_post(
        "/_sandbox/messenger/inbound",
        json!({"page_id": SANDBOX_MESSENGER_PAGES[0].id, "psid": psid, "text": "hi"}),
    )
    .await;
    wait_until(&gw, Duration::from_secs(10), async || {
        let (_, page) = gw.get("/v1/contacts?limit=200").await;
        page["data"].as_array().unwrap().iter().any(|c| {
            c["inbound_messages"].as_u64() >= Some(1)
                && c["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["address"] == psid)
        })
    })
    .await;

    let url = format!("{}/_sandbox/media/photo.jpg?size=123456", gw.sim);
    let body = messenger(
        psid,
        json!({"kind": "image", "url": url, "mime_type": "image/x-anything", "size": 1}),
    );
    let id = gw.send(&body).await;
    let (_, m) = gw.get(&format!("/v1/messages/{id}")).await;
    let stored = &m["content"]["media"][0];
    assert_eq!(stored["size"], 123456, "{m:#}");
    assert_eq!(stored["mime_type"], "image/jpeg", "{m:#}");
    assert_eq!(stored["url"], url.as_str(), "{m:#}");

    // A burst of sends of the same image within the cache's lifetime: no second HEAD.
    let (a, b, c, d) = tokio::join!(
        gw.post_message(&body),
        gw.post_message(&body),
        gw.post_message(&body),
        gw.post_message(&body)
    );
    for (status, resp) in [a, b, c, d] {
        assert_eq!(status, StatusCode::ACCEPTED, "{resp}");
    }
    assert_eq!(
        requests_for(&gw, "photo.jpg").await,
        [("HEAD".to_string(), None)]
    );

    // The provider got the URL it will fetch, and the message went its way.
    gw.wait_for(&id, "seen", Duration::from_secs(20)).await;
    let sent = gw.sim_get("/_sandbox/messenger/messages").await;
    let text = sent.to_string();
    assert!(text.contains("photo.jpg?size=123456"), "{sent:#}");
}

#[tokio::test]
async fn a_head_refused_or_without_a_length_is_followed_by_a_one_byte_get() {
    let gw = Gateway::start("media-range", &[]);
    for (name, how) in [("clip.mp4", "refuse"), ("movie.mp4", "no_length")] {
        // 26 MB: the real size is read from Content-Range and judged.
        let url = format!(
            "{}/_sandbox/media/{name}?size={}&head={how}",
            gw.sim,
            26 * MB
        );
        let body = messenger(
            "5550001",
            json!({"kind": "video", "url": url, "mime_type": "video/mp4", "size": 1}),
        );
        let v = refused(&gw, &body).await;
        assert_eq!(v["code"], "file_too_large", "{name}: {v}");
        assert_eq!(
            requests_for(&gw, name).await,
            [
                ("HEAD".to_string(), None),
                ("GET".to_string(), Some("bytes=0-0".to_string()))
            ],
            "{name}"
        );
    }
}
