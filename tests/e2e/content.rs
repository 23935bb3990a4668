//! One content model, validated before sending by the limits each plugin's manifest
//! declares: every rule gives its violation with a code and a field path, nothing is stored
//! and nothing reaches a provider.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::Gateway;

const MB: u64 = 1024 * 1024;

async fn violations(gw: &Gateway, body: Value) -> Vec<(String, String)> {
    let (status, resp) = gw.post_message(&body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {resp}");
    assert_eq!(resp["error"]["code"], "invalid_format", "{resp}");
    resp["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["code"].as_str().unwrap().to_string(),
                v["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn messenger(content: Value) -> Value {
    json!({"channel": "messenger", "to": {"psid": "5550001"}, "content": content})
}

fn has(v: &[(String, String)], code: &str, field: &str) -> bool {
    v.iter().any(|(c, f)| c == code && f == field)
}

fn media(kind: &str, url: &str, size: u64) -> Value {
    json!({"kind": kind, "url": url, "mime_type": "application/octet-stream", "size": size})
}

#[tokio::test]
async fn every_validation_rule_names_its_field_and_nothing_is_sent() {
    let gw = Gateway::start("content-rules", &[]);

    let v = violations(&gw, messenger(json!({"text": ""}))).await;
    assert!(has(&v, "empty_text", "content.text"), "{v:?}");

    let v = violations(&gw, messenger(json!({"media": [media("image", "", 1000)]}))).await;
    assert!(has(&v, "missing_media", "content.media[0].url"), "{v:?}");

    for (kind, url) in [
        ("image", "https://cdn.example.com/a.bmp"),
        ("video", "https://cdn.example.com/a.avi"),
        ("file", "https://cdn.example.com/a.exe"),
    ] {
        let v = violations(&gw, messenger(json!({"media": [media(kind, url, 1000)]}))).await;
        assert!(
            has(&v, "unsupported_type", "content.media[0].url"),
            "{url}: {v:?}"
        );
    }

    // Messenger takes assets up to 25 MB, judged by what the URL really serves (the sandbox's
    // media host serves a file of the size its URL asks for).
    let big = format!("{}/_sandbox/media/big.pdf?size={}", gw.sim, 26 * MB);
    let v = violations(
        &gw,
        messenger(json!({"media": [media("file", &big, 26 * MB)]})),
    )
    .await;
    assert!(has(&v, "file_too_large", "content.media[0].url"), "{v:?}");

    let element = |image: Option<&str>, buttons: Value| {
        let mut e = json!({"title": "Shoes", "buttons": buttons});
        if let Some(i) = image {
            e["image_url"] = json!(i);
        }
        e
    };
    let button = json!([{"title": "Buy", "url": "https://shop.example.com/buy"}]);
    let v = violations(
        &gw,
        messenger(json!({"carousel": [
            element(Some("https://cdn.example.com/1.png"), button.clone()),
            element(None, button.clone()),
            element(Some("https://cdn.example.com/3.png"), json!([])),
        ]})),
    )
    .await;
    assert!(
        has(&v, "missing_image", "content.carousel[1].image_url"),
        "{v:?}"
    );
    assert!(
        has(&v, "missing_buttons", "content.carousel[2].buttons"),
        "{v:?}"
    );

    // Accepted types pass the host's checks (the message is valid as a whole).
    let clip = format!("{}/_sandbox/media/clip.m4v?size={}", gw.sim, 24 * MB);
    let (status, resp) = gw
        .post_json(
            "/v1/messages/preview",
            &messenger(json!({"media": [media("video", &clip, 24 * MB)]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(resp["valid"], true, "{resp}");

    // A push payload over 4 KB, as the plugin would send it.
    let v = violations(
        &gw,
        json!({"channel": "push", "to": {"push_token": "tok-1", "push_platform": "android"},
               "content": {"subject": "Hi", "text": "x".repeat(5000)}}),
    )
    .await;
    assert!(v.iter().any(|(c, _)| c == "payload_too_large"), "{v:?}");

    // Nothing of that was stored or sent.
    let (_, page) = gw.get("/v1/messages").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0, "{page}");
}
