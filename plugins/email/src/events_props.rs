//! Properties of the Event Webhook parser over arbitrary and structure-aware bodies.
//!
//! Bodies are signed with the account's key as SendGrid signs them, so the parser behind the
//! signature check is what gets exercised; unsigned ones check that nothing gets past it.

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use proptest::prelude::*;
use serde_json::Value;
use switchboard_plugin_sdk::testing::json::{
    json_array_of, json_leaf, json_object, mutated, quote,
};
use switchboard_plugin_sdk::testing::{MockGuard, MockHost, handle_webhook};

use super::*;
use crate::EmailPlugin;

const NOW_S: u64 = 1_700_000_000;
/// Per-case limit: generous for a loaded 2-core machine (ECDSA in a debug build included); it
/// bounds pathological blowups, it does not measure speed.
const CASE_TIMEOUT_MS: u32 = 5_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        timeout: CASE_TIMEOUT_MS,
        ..ProptestConfig::default()
    }
}

fn key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn host() -> MockGuard {
    let der = p256::PublicKey::from(key().verifying_key())
        .to_public_key_der()
        .unwrap();
    let mut h = MockHost::new().config(
        PUBLIC_KEY,
        &base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
    );
    h.now_ms = NOW_S * 1000;
    h.install()
}

fn conn() -> Connection {
    Connection {
        id: "c".into(),
        name: "email".into(),
        webhook_url: "http://gw/v1/webhooks/c".into(),
    }
}

fn request(body: Vec<u8>, signature: String) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        url: "http://gw/v1/webhooks/c".into(),
        headers: vec![
            (TIMESTAMP_HEADER.into(), NOW_S.to_string()),
            (SIGNATURE_HEADER.into(), signature),
        ],
        body,
    }
}

fn signed(body: Vec<u8>) -> WebhookRequest {
    let mut payload = NOW_S.to_string().into_bytes();
    payload.extend_from_slice(&body);
    let sig: Signature = key().sign(&payload);
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
    request(body, b64)
}

const EVENTS: &[&str] = &[
    "processed",
    "delivered",
    "open",
    "click",
    "bounce",
    "dropped",
    "spamreport",
    "deferred",
    "unsubscribe",
    "group_unsubscribe",
];

/// SendGrid events with SendGrid's field names and words, every field possibly missing,
/// doubled or of the wrong type.
fn event() -> BoxedStrategy<String> {
    json_object(
        &[
            "email",
            "timestamp",
            "event",
            "sg_message_id",
            "sg_event_id",
            "type",
            "status",
            "reason",
        ],
        json_leaf(&[
            "processed",
            "delivered",
            "open",
            "bounce",
            "dropped",
            "spamreport",
            "deferred",
            "blocked",
            "XID.filter0001.1.2",
            "Unsubscribed Address",
            "Bounced Address",
            "Spam Reporting Address",
            "5.7.1",
            "a@b.co",
            "",
            ".",
        ]),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unsigned_bytes_are_always_refused(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        signature in any::<String>(),
    ) {
        let _h = host();
        let answer = handle_webhook::<EmailPlugin>(request(body, signature), conn());
        prop_assert!(matches!(answer, Err(WebhookError::Unauthorized(_))), "{:?}", answer);
    }

    #[test]
    fn signed_bodies_parse_or_are_bad_requests(
        body in prop_oneof![
            mutated(json_array_of(event())),
            mutated(event()),
            prop::collection::vec(any::<u8>(), 0..2048),
        ],
    ) {
        let _h = host();
        let expected: Option<Vec<Value>> = serde_json::from_slice(&body).ok();
        match (handle_webhook::<EmailPlugin>(signed(body), conn()), expected) {
            (Ok(out), Some(items)) => {
                prop_assert!(out.reply.is_none());
                prop_assert!(out.events.len() <= items.len());
                for e in &out.events {
                    let WebhookEvent::Status(s) = e else {
                        return Err(TestCaseError::fail(format!("not a status: {e:?}")));
                    };
                    prop_assert!(!s.provider_message_id.contains('.'));
                    prop_assert_eq!(s.failure.is_some(), s.state == DeliveryState::Failed);
                }
            }
            (Err(WebhookError::BadRequest(_)), None) => {}
            (answer, expected) => {
                return Err(TestCaseError::fail(format!(
                    "answer {answer:?} for a body that is{} an array",
                    if expected.is_some() { "" } else { " not" }
                )));
            }
        }
    }

    /// An event built from random fields parses back to those fields.
    #[test]
    fn fields_round_trip(
        id in "[^.]{0,40}",
        suffix in proptest::option::of("\\.[a-z0-9.]{0,20}"),
        kind in prop::sample::select(EVENTS),
        timestamp in any::<u64>(),
    ) {
        let _h = host();
        let sg_id = format!("{id}{}", suffix.unwrap_or_default());
        let body = format!(
            "[{{\"event\":{},\"sg_message_id\":{},\"timestamp\":{timestamp}}}]",
            quote(kind),
            quote(&sg_id)
        );
        let out = handle_webhook::<EmailPlugin>(signed(body.into_bytes()), conn()).unwrap();
        let changes_status = !matches!(kind, "deferred" | "unsubscribe" | "group_unsubscribe");
        prop_assert_eq!(out.events.len(), usize::from(changes_status));
        if let [WebhookEvent::Status(s)] = &out.events[..] {
            prop_assert_eq!(&s.provider_message_id, &id);
            prop_assert_eq!(s.provider_status.as_str(), kind);
            // Seconds become milliseconds; a time no millisecond clock can hold is no time.
            prop_assert_eq!(s.timestamp_ms, timestamp.checked_mul(1000));
        }
    }
}
