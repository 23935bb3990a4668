//! The plugin against `MockHost`: the request and its signature (checked with an HMAC of
//! our own), what each answer means, and callbacks accepted or refused as the host would.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::testing::{self, MockHost};

use crate::WebhookPlugin;

const SECRET: &str = "s3cret-signing-key";
const NOW_MS: u64 = 1_700_000_000_000;

fn conn() -> Connection {
    Connection {
        id: "con_1".into(),
        name: "hooks".into(),
        webhook_url: "https://gw.example.com/v1/webhooks/con_1".into(),
    }
}

fn message() -> Message {
    Message {
        id: "msg_1".into(),
        workspace: "ws_1".into(),
        to: Recipient {
            phone: None,
            country: None,
            email: Some("ada@example.com".into()),
            psid: None,
            push_token: None,
            push_platform: None,
            name: Some("Ada".into()),
            last_inbound_ms: None,
        },
        content: Content {
            text: Some("hello".into()),
            subject: None,
            media: vec![],
            carousel: vec![],
            buttons: vec![],
            quick_replies: vec![],
            template: None,
            data: vec![("order".into(), "A-1".into())],
        },
        category: Category::Transactional,
        metadata: vec![],
        options: vec![],
        idempotency_key: "dlv_1".into(),
    }
}

fn host() -> MockHost {
    let mut h = MockHost::new()
        .config("url", "https://hooks.example.com/in")
        .secret(crate::SIGNING_SECRET, SECRET);
    h.now_ms = NOW_MS;
    h
}

fn mac(content: &[u8]) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(content);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

fn answering(status: u16, headers: &'static [(&'static str, &'static str)]) -> MockHost {
    host().on_http(move |_| Ok(Response::new(status, headers, "no")))
}

#[test]
fn sends_a_signed_json_post_and_keys_the_delivery_by_its_id() {
    let guard = answering(204, &[]).install();
    let sent = WebhookPlugin::send(message(), conn()).unwrap();
    assert_eq!(sent.provider_message_id, "dlv_1");
    let req = guard.inspect(|h| h.requests.remove(0));
    assert_eq!(
        (req.method.as_str(), req.url.as_str()),
        ("POST", "https://hooks.example.com/in")
    );
    let header = |n: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(header("webhook-id"), "dlv_1");
    assert_eq!(header("webhook-timestamp"), (NOW_MS / 1000).to_string());
    let signed = [b"dlv_1.1700000000.".as_slice(), &req.body].concat();
    assert_eq!(header("webhook-signature"), mac(&signed));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["id"], "dlv_1");
    assert_eq!(body["message_id"], "msg_1");
    assert_eq!(
        body["to"],
        serde_json::json!({"email": "ada@example.com", "name": "Ada"})
    );
    assert_eq!(body["content"]["text"], "hello");
    assert_eq!(body["content"]["data"]["order"], "A-1");
    assert_eq!(body["callback_url"], conn().webhook_url);
}

/// An answer (status, headers) and the error it must become (retryable, reason, wait).
type Case = (
    u16,
    &'static [(&'static str, &'static str)],
    bool,
    FailureReason,
    Option<u64>,
);

#[test]
fn answers_map_to_retryable_or_permanent_failures() {
    let cases: [Case; 7] = [
        (503, &[], true, FailureReason::ProviderTransient, None),
        (
            500,
            &[("retry-after", "7")],
            true,
            FailureReason::ProviderTransient,
            Some(7000),
        ),
        (
            429,
            &[("Retry-After", "30")],
            true,
            FailureReason::RateLimited,
            Some(30_000),
        ),
        (401, &[], false, FailureReason::TokenExpired, None),
        (404, &[], false, FailureReason::PermissionDenied, None),
        (422, &[], false, FailureReason::InvalidFormat, None),
        (302, &[], false, FailureReason::ProviderError, None),
    ];
    for (status, headers, retryable, reason, after) in cases {
        let _g = answering(status, headers).install();
        let e = WebhookPlugin::send(message(), conn()).unwrap_err();
        assert_eq!(
            (e.retryable, e.reason, e.retry_after_ms),
            (retryable, reason, after),
            "{status}"
        );
        assert_eq!(
            e.provider_code.as_deref(),
            Some(status.to_string().as_str())
        );
        assert!(e.detail.contains(&format!("HTTP {status}")), "{}", e.detail);
    }
}

#[test]
fn a_timeout_is_retryable_and_a_missing_url_is_a_configuration_error() {
    let _g = host().on_http(|_| Err(http::HttpError::Timeout)).install();
    let e = WebhookPlugin::send(message(), conn()).unwrap_err();
    assert!(e.retryable && e.reason == FailureReason::Timeout);
    drop(_g);
    let _g = MockHost::new()
        .secret(crate::SIGNING_SECRET, SECRET)
        .install();
    let e = WebhookPlugin::send(message(), conn()).unwrap_err();
    assert!(!e.retryable && e.detail.contains("url"), "{}", e.detail);
}

fn callback(body: &str, id: &str, ts: u64, signature: Option<String>) -> WebhookRequest {
    let sig = signature.unwrap_or_else(|| mac(format!("{id}.{ts}.{body}").as_bytes()));
    WebhookRequest {
        method: "POST".into(),
        url: conn().webhook_url,
        headers: vec![
            ("Webhook-Id".into(), id.into()),
            ("Webhook-Timestamp".into(), ts.to_string()),
            ("Webhook-Signature".into(), sig),
        ],
        body: body.as_bytes().to_vec(),
    }
}

fn status_of(outcome: WebhookOutcome) -> StatusUpdate {
    match outcome.events.as_slice() {
        [WebhookEvent::Status(s)] => s.clone(),
        other => panic!("one status event expected, got {other:?}"),
    }
}

#[test]
fn a_signed_callback_becomes_a_status_update() {
    let _g = host().install();
    let now_s = NOW_MS / 1000;
    let req = callback(
        r#"{"id":"dlv_1","status":"delivered"}"#,
        "cb_1",
        now_s,
        None,
    );
    let s = status_of(testing::handle_webhook::<WebhookPlugin>(req, conn()).unwrap());
    assert_eq!(
        (s.provider_message_id.as_str(), s.state),
        ("dlv_1", DeliveryState::Delivered)
    );
    assert_eq!(s.timestamp_ms, Some(now_s * 1000));

    let body =
        r#"{"id":"dlv_1","status":"failed","reason":"recipient_invalid","detail":"no such user"}"#;
    // A receiver rotating its secret sends two signatures; one valid one is enough.
    let good = mac(format!("cb_2.{now_s}.{body}").as_bytes());
    let req = callback(body, "cb_2", now_s, Some(format!("v1,AAAA {good}")));
    let s = status_of(testing::handle_webhook::<WebhookPlugin>(req, conn()).unwrap());
    let f = s.failure.unwrap();
    assert_eq!(
        (s.state, f.reason, f.detail.as_str()),
        (
            DeliveryState::Failed,
            FailureReason::RecipientInvalid,
            "no such user"
        )
    );
}

#[test]
fn forged_stale_or_malformed_callbacks_are_refused() {
    let _g = host().install();
    let now_s = NOW_MS / 1000;
    let body = r#"{"id":"dlv_1","status":"delivered"}"#;
    let refuse = |req| testing::handle_webhook::<WebhookPlugin>(req, conn()).unwrap_err();
    let forged = callback(body, "cb", now_s, Some(mac(b"something else")));
    assert!(matches!(refuse(forged), WebhookError::Unauthorized(_)));
    let replayed = callback(body, "cb", now_s - 3600, None);
    assert!(matches!(refuse(replayed), WebhookError::Unauthorized(m) if m.contains("replay")));
    let mut unsigned = callback(body, "cb", now_s, None);
    unsigned.headers.retain(|(k, _)| k != "Webhook-Signature");
    assert!(matches!(refuse(unsigned), WebhookError::Unauthorized(_)));
    let odd = callback(r#"{"id":"dlv_1","status":"teleported"}"#, "cb", now_s, None);
    assert!(matches!(refuse(odd), WebhookError::BadRequest(_)));
    let garbage = callback("not json", "cb", now_s, None);
    assert!(matches!(refuse(garbage), WebhookError::BadRequest(_)));
}

#[test]
fn the_manifest_and_the_sdk_defaults() {
    let m = WebhookPlugin::describe();
    assert_eq!(
        (m.channel.as_str(), m.name.as_str()),
        ("webhook", "generic-webhook")
    );
    assert_eq!(m.capabilities, [Capability::StatusCallbacks.as_str()]);
    assert!(
        m.outbound_hosts.is_empty(),
        "the operator allows destinations"
    );
    assert!(WebhookPlugin::validate(&message()).is_empty());
    let q = WebhookPlugin::quote(&message()).unwrap();
    assert_eq!((q.product.as_str(), q.units), ("webhook", 1));
}
