use serde_json::json;

use super::*;
use crate::MessengerPlugin;
use crate::tests::{PAGE, PSID, conn, host};
use switchboard_plugin_sdk::testing::handle_webhook;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signed with the named secret of the installed mock host.
fn signed_with(secret: &str, body: &str) -> WebhookRequest {
    let mac = secrets::hmac(secrets::HmacAlgorithm::Sha256, secret, body.as_bytes()).unwrap();
    WebhookRequest {
        method: "POST".into(),
        url: "https://gw.example/v1/webhooks/conn_1".into(),
        headers: vec![(
            "X-Hub-Signature-256".into(),
            format!("sha256={}", hex(&mac)),
        )],
        body: body.as_bytes().to_vec(),
    }
}

fn signed(body: &str) -> WebhookRequest {
    signed_with("app_secret", body)
}

fn get(query: &str) -> WebhookRequest {
    WebhookRequest {
        method: "GET".into(),
        url: format!("https://gw.example/v1/webhooks/conn_1?{query}"),
        headers: vec![],
        body: vec![],
    }
}

fn page(messaging: serde_json::Value) -> String {
    json!({"object": "page", "entry": [{"id": PAGE, "time": 1_800_000_000_500u64, "messaging": messaging}]}).to_string()
}

#[test]
fn handshake_echoes_the_challenge_only_for_our_token() {
    let h = host().install();
    let ok = handle_webhook::<MessengerPlugin>(
        get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt-123"),
        conn(),
    )
    .unwrap();
    assert!(ok.events.is_empty());
    let r = ok.reply.unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, b"1158201444".as_slice())
    );
    // The host compared the token (a secret) and saw it match; no signed time is declared.
    assert_eq!(h.inspect(|h| (h.verified, h.signed_at)), (true, None));

    for q in [
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ] {
        assert!(
            matches!(
                handle_webhook::<MessengerPlugin>(get(q), conn()),
                Err(WebhookError::Unauthorized(_))
            ),
            "{q}"
        );
    }
    // The right token on something that is not a subscription is the caller's mistake.
    for q in [
        "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=vt-123",
        "hub.mode=subscribe&hub.verify_token=vt-123",
    ] {
        assert!(
            matches!(
                handle_webhook::<MessengerPlugin>(get(q), conn()),
                Err(WebhookError::BadRequest(_))
            ),
            "{q}"
        );
    }
    // Percent-encoded tokens are decoded before comparing.
    drop(h);
    let _h = host().secret("verify_token", "a b&c").install();
    let out = handle_webhook::<MessengerPlugin>(
        get("hub.mode=subscribe&hub.challenge=9&hub.verify_token=a%20b%26c"),
        conn(),
    )
    .unwrap();
    assert_eq!(out.reply.unwrap().status, 200);
}

#[test]
fn handshake_without_a_verify_token_secret_is_refused() {
    let mut h = host();
    h.secrets.remove("verify_token");
    let _h = h.config("verify_token", "vt-123").install();
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(
            get("hub.mode=subscribe&hub.challenge=1&hub.verify_token=vt-123"),
            conn()
        ),
        Err(WebhookError::Unauthorized(_))
    ));
}

#[test]
fn signature_rejects_tampering_wrong_key_and_absence() {
    let h = host()
        .secret("other_secret", "not-the-app-secret")
        .install();
    let body = page(
        json!([{"sender": {"id": PSID}, "recipient": {"id": PAGE}, "read": {"watermark": 5}}]),
    );
    assert!(handle_webhook::<MessengerPlugin>(signed(&body), conn()).is_ok());
    assert!(h.inspect(|h| h.verified));

    let mut tampered = signed(&body);
    tampered.body = body
        .replace("\"watermark\":5", "\"watermark\":6")
        .into_bytes();
    assert_ne!(tampered.body, body.as_bytes());
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(tampered, conn()),
        Err(WebhookError::Unauthorized(_))
    ));

    let wrong_key = signed_with("other_secret", &body);
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(wrong_key, conn()),
        Err(WebhookError::Unauthorized(_))
    ));

    let mut missing = signed(&body);
    missing.headers.clear();
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(missing, conn()),
        Err(WebhookError::Unauthorized(_))
    ));

    let mut sha1 = signed(&body);
    sha1.headers[0].1 = sha1.headers[0].1.replace("sha256=", "sha1=");
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(sha1, conn()),
        Err(WebhookError::Unauthorized(_))
    ));

    let mut not_hex = signed(&body);
    not_hex.headers[0].1 = "sha256=zz".into();
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(not_hex, conn()),
        Err(WebhookError::Unauthorized(_))
    ));
}

#[test]
fn bad_json_is_bad_request_after_the_signature() {
    let _h = host().install();
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(signed("{not json"), conn()),
        Err(WebhookError::BadRequest(_))
    ));
    assert!(matches!(
        handle_webhook::<MessengerPlugin>(signed("[1]"), conn()),
        Err(WebhookError::BadRequest(_))
    ));
}

#[test]
fn message_postback_delivery_read_and_echo() {
    let _h = host().install();
    let body = page(json!([
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1_800_000_000_001u64,
         "message": {"mid": "m_in1", "text": "Where is my order?",
                     "attachments": [{"type": "image", "payload": {"url": "https://scontent.example/p.jpg?x=1"}},
                                     {"type": "location", "payload": {"coordinates": {"lat": 1, "long": 2}}}]}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1_800_000_000_002u64,
         "postback": {"title": "Buy", "payload": "BUY_RED", "mid": "m_pb"}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE},
         "delivery": {"mids": ["m_out1"], "watermark": 1_800_000_000_003u64}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1_800_000_000_010u64,
         "read": {"watermark": 1_800_000_000_004u64}},
        {"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": 1_800_000_000_005u64,
         "message": {"is_echo": true, "app_id": 1, "metadata": "sb:dlv_1", "mid": "m_out1", "text": "hi"}},
    ]));
    let out = handle_webhook::<MessengerPlugin>(signed(&body), conn()).unwrap();
    assert!(out.reply.is_none());
    let ev = out.events;
    assert_eq!(ev.len(), 7, "{ev:?}");
    match &ev[0] {
        WebhookEvent::Inbound(m) => {
            assert_eq!(
                (m.sender.as_str(), m.provider_message_id.as_str()),
                (PSID, "m_in1")
            );
            assert_eq!(m.text.as_deref(), Some("Where is my order?"));
            assert_eq!(m.timestamp_ms, 1_800_000_000_001);
            assert_eq!(m.payload, None, "typed text has no payload");
            assert_eq!(m.media.len(), 1);
            assert_eq!(
                (m.media[0].kind, m.media[0].mime_type.as_str()),
                (MediaKind::Image, "image/jpeg")
            );
            assert_eq!(m.media[0].url, "https://scontent.example/p.jpg?x=1");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&ev[1], WebhookEvent::Activity(a)
        if a.contact == PSID && a.kind == "message" && a.timestamp_ms == 1_800_000_000_001));
    // A button click: the title the person saw, and the payload that says which button.
    assert!(matches!(&ev[2], WebhookEvent::Inbound(m)
        if m.sender == PSID && m.provider_message_id == "m_pb" && m.text.as_deref() == Some("Buy")
            && m.payload.as_deref() == Some("BUY_RED") && m.timestamp_ms == 1_800_000_000_002));
    assert!(matches!(&ev[3], WebhookEvent::Activity(a)
        if a.contact == PSID && a.kind == "postback" && a.timestamp_ms == 1_800_000_000_002));
    assert!(matches!(&ev[4], WebhookEvent::Watermark(w)
        if w.contact == PSID && w.state == DeliveryState::Delivered && w.watermark_ms == 1_800_000_000_003));
    assert!(matches!(&ev[5], WebhookEvent::Watermark(w)
        if w.contact == PSID && w.state == DeliveryState::Seen && w.watermark_ms == 1_800_000_000_004));
    // The echo of our own send: to the person, naming its delivery; no activity of theirs.
    assert!(matches!(&ev[6], WebhookEvent::Echo(e)
        if e.recipient == PSID && e.provider_message_id == "m_out1" && e.text.as_deref() == Some("hi")
            && e.host_marker.as_deref() == Some("dlv_1") && e.timestamp_ms == 1_800_000_000_005));
}

#[test]
fn echoes_name_our_delivery_only_through_our_marker() {
    let _h = host().install();
    let echo = |metadata: Option<&str>, app_id: u64, mid: &str| {
        let mut m = json!({"is_echo": true, "app_id": app_id, "mid": mid, "text": "On its way"});
        if let Some(meta) = metadata {
            m["metadata"] = json!(meta);
        }
        json!({"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": 7u64, "message": m})
    };
    let body = page(json!([
        // The second part of a split send: the delivery, without the part number.
        echo(Some("sb:dlv_9#2"), 1, "m_a"),
        // Typed in the Page's inbox: Facebook's own app, no metadata.
        echo(None, 263_902_037_430_900, "m_b"),
        // Another app's metadata is not ours, whatever it says.
        echo(Some("dlv_9"), 42, "m_c"),
        echo(Some("sb:"), 42, "m_d"),
    ]));
    let out = handle_webhook::<MessengerPlugin>(signed(&body), conn()).unwrap();
    let markers: Vec<(String, Option<String>)> = out
        .events
        .iter()
        .map(|e| match e {
            WebhookEvent::Echo(e) => (e.provider_message_id.clone(), e.host_marker.clone()),
            other => panic!("only echoes: {other:?}"),
        })
        .collect();
    assert_eq!(
        markers,
        [
            ("m_a".to_string(), Some("dlv_9".to_string())),
            ("m_b".to_string(), None),
            ("m_c".to_string(), None),
            ("m_d".to_string(), None),
        ]
    );
}

#[test]
fn a_quick_reply_carries_its_payload_and_an_old_postback_gets_a_stable_id() {
    let _h = host().install();
    let body = page(json!([
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 11u64,
         "message": {"mid": "m_q", "text": "Red", "quick_reply": {"payload": "COLOR_RED"}}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 12u64,
         "postback": {"title": "Start", "payload": "GET_STARTED"}},
    ]));
    let out = handle_webhook::<MessengerPlugin>(signed(&body), conn()).unwrap();
    assert!(matches!(&out.events[0], WebhookEvent::Inbound(m)
        if m.provider_message_id == "m_q" && m.text.as_deref() == Some("Red")
            && m.payload.as_deref() == Some("COLOR_RED")));
    let WebhookEvent::Inbound(pb) = &out.events[2] else {
        panic!("{:?}", out.events)
    };
    assert_eq!(pb.provider_message_id, format!("postback:{PSID}:12"));
    assert_eq!(pb.payload.as_deref(), Some("GET_STARTED"));
    assert!(
        !out.events
            .iter()
            .any(|e| matches!(e, WebhookEvent::Echo(_))),
    );
}

#[test]
fn other_pages_and_objects_are_ignored() {
    let _h = host().install();
    let ev =
        json!([{"sender": {"id": PSID}, "recipient": {"id": "999"}, "read": {"watermark": 5}}]);
    let body =
        json!({"object": "page", "entry": [{"id": "999", "time": 1, "messaging": ev}]}).to_string();
    assert!(
        handle_webhook::<MessengerPlugin>(signed(&body), conn())
            .unwrap()
            .events
            .is_empty()
    );
    let body = json!({"object": "instagram", "entry": [{"id": PAGE, "time": 1, "messaging": ev}]})
        .to_string();
    assert!(
        handle_webhook::<MessengerPlugin>(signed(&body), conn())
            .unwrap()
            .events
            .is_empty()
    );
}
