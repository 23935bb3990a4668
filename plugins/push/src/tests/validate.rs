//! Validation: each rule gives its code and field path; the payload limit is exact.

use switchboard_plugin_sdk::prelude::*;

use super::*;
use crate::PushPlugin;
use crate::payload::{self, MAX_PAYLOAD_BYTES, Platform};

fn codes(m: &Message) -> Vec<(String, String)> {
    PushPlugin::validate(m)
        .into_iter()
        .map(|v| (v.code, v.field))
        .collect()
}

fn pair(code: &str, field: &str) -> (String, String) {
    (code.into(), field.into())
}

#[test]
fn valid_messages_pass_and_quote_one_push() {
    for p in ["android", "ios"] {
        let m = message(p, "tok");
        assert!(PushPlugin::validate(&m).is_empty());
        let q = PushPlugin::quote(&m).unwrap();
        assert_eq!((q.product.as_str(), q.units), ("push", 1));
    }
}

#[test]
fn recipient_rules() {
    let mut m = message("android", "");
    m.to.push_platform = None;
    assert_eq!(
        codes(&m),
        [
            pair("required", "to.push_token"),
            pair("required", "to.push_platform")
        ]
    );
    let m = message("windows", "a/b");
    assert_eq!(
        codes(&m),
        [
            pair("invalid_format", "to.push_token"),
            pair("invalid_value", "to.push_platform")
        ]
    );
}

#[test]
fn content_rules() {
    let mut m = message("ios", "t");
    m.content.text = None;
    m.content.subject = Some(String::new());
    m.content.data.clear();
    assert_eq!(codes(&m), [pair("required", "content")]);

    let mut m = message("ios", "t");
    m.content.data.push(("aps".into(), "x".into()));
    m.content.data.push(("google.x".into(), "x".into()));
    m.content.buttons = vec![Button {
        title: "b".into(),
        url: None,
        payload: None,
    }];
    m.content.template = Some(TemplateRef {
        id: "t".into(),
        variables: vec![],
    });
    let media = Media {
        kind: MediaKind::Image,
        url: "https://cdn.example.test/a.png".into(),
        mime_type: "image/png".into(),
        size: 1,
    };
    m.content.media = vec![media.clone(), media];
    assert_eq!(
        codes(&m),
        [
            pair("reserved_key", "content.data"),
            pair("reserved_key", "content.data"),
            pair("too_many", "content.media"),
            pair("unsupported", "content.buttons"),
            pair("unsupported", "content.template"),
        ]
    );
    assert!(PushPlugin::quote(&m).is_err());
}

#[test]
fn option_rules() {
    let mut m = message("android", "t");
    m.options = vec![
        ("priority".into(), "urgent".into()),
        ("collapse_id".into(), "x".repeat(65)),
        ("ttl_s".into(), "-1".into()),
        ("sound".into(), "bell".into()),
        ("ttl_s".into(), "5".into()),
    ];
    assert_eq!(
        codes(&m),
        [
            pair("invalid_value", "options.priority"),
            pair("invalid_value", "options.collapse_id"),
            pair("invalid_value", "options.ttl_s"),
            pair("unknown_option", "options.sound"),
            pair("duplicate_option", "options.ttl_s"),
        ]
    );
    m.options = vec![
        ("priority".into(), "high".into()),
        ("collapse_id".into(), "x".repeat(64)),
        ("ttl_s".into(), "2419200".into()),
    ];
    assert!(codes(&m).is_empty());
}

/// The text that makes the payload exactly `target` bytes.
fn sized(platform: &str, target: usize) -> Message {
    let mut m = message(platform, "tok");
    m.content.text = Some("x".into());
    let p = Platform::parse(platform).unwrap();
    let (opts, _) = payload::parse_options(&m.options);
    let base = payload::body_bytes(p, &m, "tok", &opts).len();
    m.content.text = Some("x".repeat(1 + target - base));
    assert_eq!(payload::body_bytes(p, &m, "tok", &opts).len(), target);
    m
}

#[test]
fn payload_limit_is_measured_on_the_payload_as_sent() {
    for p in ["android", "ios"] {
        assert!(codes(&sized(p, MAX_PAYLOAD_BYTES)).is_empty(), "{p}");
        assert_eq!(
            codes(&sized(p, MAX_PAYLOAD_BYTES + 1)),
            [pair("payload_too_large", "content")],
            "{p}"
        );
    }
    // Escaping counts: 700 quotes are 1400 bytes on the wire.
    let mut m = message("ios", "tok");
    m.content.text = Some("\"".repeat(2100));
    assert_eq!(codes(&m), [pair("payload_too_large", "content")]);
}

#[test]
fn send_refuses_an_invalid_message_without_a_request() {
    let guard = fcm_host().install();
    let mut m = message("android", "t");
    m.options = vec![("bogus".into(), "1".into())];
    let e = PushPlugin::send(m, conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable, e.provider_code.as_deref()),
        (FailureReason::InvalidFormat, false, Some("unknown_option"))
    );
    guard.inspect(|h| assert!(h.requests.is_empty()));
}
