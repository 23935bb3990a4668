//! Properties of the page-webhook parser and the subscription handshake over arbitrary and
//! structure-aware input.
//!
//! Bodies are signed with the app secret as Facebook signs them, so the parser behind the
//! signature check is what gets exercised; unsigned ones check that nothing gets past it.

use proptest::prelude::*;
use serde_json::Value;
use switchboard_plugin_sdk::testing::handle_webhook;
use switchboard_plugin_sdk::testing::json::{
    json_array_of, json_leaf, json_object, mutated, quote,
};

use super::*;
use crate::MessengerPlugin;
use crate::tests::{PAGE, conn, host};

/// Per-case limit: generous for a loaded 2-core machine; it bounds pathological blowups,
/// it does not measure speed.
const CASE_TIMEOUT_MS: u32 = 5_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        timeout: CASE_TIMEOUT_MS,
        ..ProptestConfig::default()
    }
}

fn post(body: Vec<u8>, signature: String) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        url: "https://gw.example/v1/webhooks/conn_1".into(),
        headers: vec![("X-Hub-Signature-256".into(), signature)],
        body,
    }
}

fn signed(body: Vec<u8>) -> WebhookRequest {
    let mac = secrets::hmac(HmacAlgorithm::Sha256, "app_secret", &body).unwrap();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    post(body, format!("sha256={hex}"))
}

/// Words that mean something somewhere in a page webhook.
fn leaf() -> BoxedStrategy<String> {
    json_leaf(&[
        "page",
        "instagram",
        PAGE,
        "7364520918273645",
        "m_1",
        "hello",
        "image",
        "video",
        "audio",
        "file",
        "location",
        "https://cdn.example/a.png?x=1",
        "",
    ])
}

/// Entries with Facebook's field names and shapes, every field possibly missing, doubled or
/// of the wrong type.
fn page_body() -> BoxedStrategy<String> {
    let id = json_object(&["id"], leaf());
    let attachment = json_object(
        &["type", "payload"],
        prop_oneof![leaf(), json_object(&["url"], leaf())].boxed(),
    );
    let message = json_object(
        &["mid", "text", "is_echo", "attachments"],
        prop_oneof![3 => leaf(), 1 => json_array_of(attachment)].boxed(),
    );
    let watermark = json_object(&["watermark"], leaf());
    let event = json_object(
        &[
            "sender",
            "recipient",
            "timestamp",
            "message",
            "postback",
            "delivery",
            "read",
        ],
        prop_oneof![2 => leaf(), 2 => id, 2 => message, 1 => watermark].boxed(),
    );
    let entry = json_object(
        &["id", "time", "messaging"],
        prop_oneof![2 => leaf(), 2 => json_array_of(event)].boxed(),
    );
    json_object(
        &["object", "entry"],
        prop_oneof![2 => leaf(), 3 => json_array_of(entry)].boxed(),
    )
}

/// What the parser must answer for a verified body, by the documented rules.
fn is_bad_request(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => {
            o.get("object").and_then(Value::as_str) == Some("page")
                && !o.get("entry").is_some_and(Value::is_array)
        }
        _ => true,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unsigned_bytes_are_always_refused(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        signature in prop_oneof![any::<String>(), "sha256=[0-9a-f]{64}"],
    ) {
        let _h = host().install();
        let answer = handle_webhook::<MessengerPlugin>(post(body, signature), conn());
        prop_assert!(matches!(answer, Err(WebhookError::Unauthorized(_))), "{:?}", answer);
    }

    #[test]
    fn signed_bodies_parse_or_are_bad_requests(
        body in prop_oneof![
            mutated(page_body()),
            prop::collection::vec(any::<u8>(), 0..2048),
        ],
    ) {
        let _h = host().install();
        let bad = is_bad_request(&body);
        match handle_webhook::<MessengerPlugin>(signed(body), conn()) {
            Ok(out) => {
                prop_assert!(!bad);
                prop_assert!(out.reply.is_none());
                // A user's message always opens the window too.
                for (i, e) in out.events.iter().enumerate() {
                    if let WebhookEvent::Inbound(m) = e {
                        let next = out.events.get(i + 1);
                        prop_assert!(
                            matches!(next, Some(WebhookEvent::Activity(a)) if a.contact == m.sender),
                            "{:?}", out.events
                        );
                    }
                }
            }
            Err(WebhookError::BadRequest(_)) => prop_assert!(bad),
            Err(e) => return Err(TestCaseError::fail(format!("signed body refused: {e:?}"))),
        }
    }

    /// A message and a read receipt built from random fields parse back to those fields.
    #[test]
    fn fields_round_trip(
        sender in any::<String>(),
        mid in any::<String>(),
        text in proptest::option::of(any::<String>()),
        timestamp in any::<u64>(),
        watermark in any::<u64>(),
        numeric_page_id in any::<bool>(),
    ) {
        let _h = host().install();
        let page = if numeric_page_id { PAGE.to_string() } else { quote(PAGE) };
        let text_field = text.as_deref().map(|t| format!(",\"text\":{}", quote(t))).unwrap_or_default();
        let body = format!(
            "{{\"object\":\"page\",\"entry\":[{{\"id\":{page},\"time\":1,\"messaging\":[\
             {{\"sender\":{{\"id\":{s}}},\"timestamp\":{timestamp},\"message\":{{\"mid\":{m}{text_field}}}}},\
             {{\"sender\":{{\"id\":{s}}},\"read\":{{\"watermark\":{watermark}}}}}]}}]}}",
            s = quote(&sender),
            m = quote(&mid),
        );
        let out = handle_webhook::<MessengerPlugin>(signed(body.into_bytes()), conn()).unwrap();
        let [
            WebhookEvent::Inbound(inbound),
            WebhookEvent::Activity(activity),
            WebhookEvent::Watermark(read),
        ] = &out.events[..] else {
            return Err(TestCaseError::fail(format!("{:?}", out.events)));
        };
        prop_assert_eq!(&inbound.sender, &sender);
        prop_assert_eq!(&inbound.provider_message_id, &mid);
        prop_assert_eq!(&inbound.text, &text);
        prop_assert_eq!(inbound.timestamp_ms, timestamp);
        prop_assert_eq!((&activity.contact, activity.timestamp_ms), (&sender, timestamp));
        prop_assert_eq!((&read.contact, read.state, read.watermark_ms), (&sender, DeliveryState::Seen, watermark));
    }

    /// Any query: the challenge comes back only for the right token on a subscribe.
    #[test]
    fn handshake_answers_only_the_right_token(
        query in prop_oneof![
            any::<String>(),
            (
                prop::sample::select(&["subscribe", "unsubscribe", ""][..]),
                any::<String>(),
                prop_oneof![Just("vt-123".to_string()), any::<String>()],
            ).prop_map(|(mode, challenge, token)| {
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("hub.mode", mode)
                    .append_pair("hub.challenge", &challenge)
                    .append_pair("hub.verify_token", &token)
                    .finish()
            }),
        ],
    ) {
        let _h = host().install();
        let req = WebhookRequest {
            method: "GET".into(),
            url: format!("https://gw.example/v1/webhooks/conn_1?{query}"),
            headers: vec![],
            body: vec![],
        };
        let query = query.split('#').next().unwrap_or("");
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        match handle_webhook::<MessengerPlugin>(req, conn()) {
            Ok(out) => {
                prop_assert_eq!(get("hub.verify_token"), Some("vt-123"));
                prop_assert_eq!(get("hub.mode"), Some("subscribe"));
                let reply = out.reply.unwrap();
                prop_assert_eq!(reply.status, 200);
                prop_assert_eq!(Some(reply.body.as_slice()), get("hub.challenge").map(str::as_bytes));
            }
            Err(WebhookError::Unauthorized(_)) => prop_assert_ne!(get("hub.verify_token"), Some("vt-123")),
            Err(WebhookError::BadRequest(_)) => prop_assert_eq!(get("hub.verify_token"), Some("vt-123")),
        }
    }
}
