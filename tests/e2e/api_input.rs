//! Bad input gets a 4xx with a code naming the problem, and nothing is stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::Gateway;

/// (what, body, expected status, expected error code, expected field)
type Case = (
    &'static str,
    Vec<u8>,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

#[tokio::test]
async fn bad_requests_get_4xx_with_a_code_and_store_nothing() {
    let gw = Gateway::start("e2e-input", &[]);
    let cases: Vec<Case> = vec![
        (
            "missing recipient",
            serde_json::to_vec(&json!({"channel": "sms", "content": {"text": "hi"}})).unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("to"),
        ),
        (
            "recipient without a phone",
            serde_json::to_vec(&json!({"channel": "sms", "to": {}, "content": {"text": "hi"}})).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_format",
            Some("to.phone"),
        ),
        (
            "unknown channel",
            serde_json::to_vec(&json!({"channel": "carrier-pigeon", "to": {"phone": "+14155550100"}, "content": {"text": "hi"}})).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_channel",
            Some("channel"),
        ),
        (
            "empty text",
            serde_json::to_vec(&json!({"channel": "sms", "to": {"phone": "+14155550100"}, "content": {"text": ""}})).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_format",
            Some("content.text"),
        ),
        (
            "malformed JSON",
            br#"{"channel": "sms", "to": {"phone": "+14155550100"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            "not a phone number",
            serde_json::to_vec(&json!({"channel": "sms", "to": {"phone": "call me"}, "content": {"text": "hi"}})).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_format",
            Some("to.phone"),
        ),
        (
            "misspelt field",
            serde_json::to_vec(&json!({"channel": "sms", "to": {"phone": "+14155550100"}, "content": {"txt": "hi"}})).unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("content.txt"),
        ),
        (
            "oversized body",
            serde_json::to_vec(&json!({"channel": "sms", "to": {"phone": "+14155550100"}, "content": {"text": "x".repeat(300 * 1024)}})).unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (name, body, status, code, field) in cases {
        let (got, err) = gw.post_raw("/v1/messages", body, None).await;
        assert_eq!(got, status, "{name}: {err}");
        assert_eq!(err["error"]["code"], code, "{name}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}: {err}"
        );
        if let Some(field) = field {
            assert_eq!(err["error"]["field"], field, "{name}: {err}");
        }
    }

    // No key, wrong key.
    let resp = gw
        .http()
        .post(format!("{}/v1/messages", gw.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = gw
        .http()
        .get(format!("{}/v1/messages", gw.url))
        .bearer_auth("sk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let (status, list) = gw.get("/v1/messages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing was stored: {list}"
    );
    let stats = gw.sim_get("/_sandbox/stats").await;
    assert_eq!(stats["sms"]["requests"], 0, "nothing reached the provider");
}

#[tokio::test]
async fn listing_filters_and_paginates() {
    let gw = Gateway::start("e2e-list", &[]);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(gw.send_sms(&format!("+1415555020{i}"), "page me").await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/messages?limit=2&channel=sms&cursor={c}"),
            None => "/v1/messages?limit=2&channel=sms".to_string(),
        };
        let (status, page) = gw.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each exactly once");
    let (status, err) = gw.get("/v1/messages?status=lost").await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );
    let (_, none) = gw.get("/v1/messages?channel=email").await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    // A recipient, however it is typed, finds its messages through their deliveries.
    let (_, one) = gw
        .get("/v1/messages?recipient=%2B1%20(415)%20555-0203")
        .await;
    let found: Vec<&str> = one["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, vec![ids[1].as_str()], "{one}");
    // Creation dates: today has all five, tomorrow none; a bad date names its field.
    let today = &one["data"][0]["created_at"].as_str().unwrap()[..10];
    let (_, all) = gw
        .get(&format!("/v1/messages?created_from={today}&channel=sms"))
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5, "{all}");
    let (_, before) = gw.get(&format!("/v1/messages?created_to={today}")).await;
    assert_eq!(before["data"].as_array().unwrap().len(), 0, "{before}");
    let (status, err) = gw.get("/v1/messages?created_from=yesterday").await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("created_from"))
    );
}

/// Provider callbacks are bounded: a body over 1 MiB is refused before any plugin sees it,
/// and each connection has its own rate.
#[tokio::test]
async fn callbacks_are_bounded_in_size_and_rate() {
    let gw = Gateway::start("callback-limits", &["--rate-limit-per-connection", "2"]);
    let url = format!("{}/v1/webhooks/con_sandbox_twilio_sms", gw.url);
    // Announce 2 MiB and send none of it: the answer must come from the length alone (a
    // client still writing would see the connection close instead of reading it).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = gw.url.trim_start_matches("http://").to_string();
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/webhooks/con_sandbox_twilio_sms HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 * 1024 * 1024
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tcp.read_to_end(&mut answer),
        )
        .await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    }
    let mut limited = None;
    for _ in 0..30 {
        let r = gw
            .http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("MessageSid=SMx&MessageStatus=delivered")
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        // Unsigned: refused by the signature check until the limit takes over.
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = limited.expect("no 429 within 30 callbacks at 2/s");
    assert!(r.headers().contains_key("retry-after"));
    // Another connection is not affected; an unknown one is simply not found.
    let other = format!("{}/v1/webhooks/con_sandbox_sendgrid_email", gw.url);
    let r = gw.http().post(&other).body("[]").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = gw
        .http()
        .post(format!("{}/v1/webhooks/con_nope", gw.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// An extractor's own rejection (here a path segment that is not UTF-8) is answered in the
/// JSON envelope like every other error, not as axum's plain text.
#[tokio::test]
async fn an_undecodable_path_gets_the_json_envelope() {
    let gw = Gateway::start("e2e-input-path", &[]);
    let (status, answer) = gw
        .call(reqwest::Method::GET, "/v1/messages/%FF", &gw.key, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_path", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}
