//! Properties of the delivery-report parser, its `Authorization` header and its ISO 8601
//! timestamps, over arbitrary and structure-aware input.
//!
//! Reports are signed with the API secret as the provider signs them, so the parser behind
//! the signature check is what gets exercised; unsigned ones check that nothing gets past it.

use proptest::prelude::*;
use serde_json::Value;
use switchboard_iso_time::{format_iso, parse_iso};
use switchboard_plugin_sdk::testing::handle_webhook;
use switchboard_plugin_sdk::testing::json::{
    json_array_of, json_leaf, json_object, mutated, quote,
};

use super::*;
use crate::{AlimTalkPlugin, auth};

/// Per-case limit: generous for a loaded 2-core machine; it bounds pathological blowups,
/// it does not measure speed.
const CASE_TIMEOUT_MS: u32 = 5_000;
/// 9999-12-31T23:59:59.999Z, the last instant a four-digit year can write.
const MAX_ISO_MS: u64 = 253_402_300_799_999;

fn config() -> ProptestConfig {
    ProptestConfig {
        timeout: CASE_TIMEOUT_MS,
        ..ProptestConfig::default()
    }
}

fn request(body: Vec<u8>, authorization: String) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        url: "https://gw.example/v1/webhooks/conn_1".into(),
        headers: vec![("Authorization".into(), authorization)],
        body,
    }
}

/// Signed now (by the mock host's clock) with the connection's key and secret.
fn signed(body: Vec<u8>) -> WebhookRequest {
    let date = format_iso(NOW);
    let salt = "0123456789abcdef0123456789abcdef";
    let mut data = format!("{date}{salt}").into_bytes();
    data.extend_from_slice(&body);
    let sig = hmac_hex(SECRET, &data);
    request(
        body,
        format!("HMAC-SHA256 apiKey={API_KEY}, date={date}, salt={salt}, signature={sig}"),
    )
}

/// Reports with Solapi's field names and words, every field possibly missing, doubled or of
/// the wrong type.
fn report() -> BoxedStrategy<String> {
    json_object(
        &[
            "messageId",
            "groupId",
            "to",
            "from",
            "type",
            "statusCode",
            "statusMessage",
            "dateReceived",
            "dateProcessed",
            "dateUpdated",
            "customFields",
        ],
        json_leaf(&[
            "M4VA",
            "ATA",
            "2000",
            "3000",
            "4000",
            "3104",
            "3108",
            "1061",
            "수신완료",
            "2023-11-14T22:13:02.500Z",
            "2023-11-15T07:13:20+09:00",
            "9999-99-99T99:99:99.999Z",
            "0000-01-01T00:00:00Z",
            "2023-11-14T22:13:20.Z",
            "",
        ]),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unsigned_bytes_are_always_refused(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        authorization in prop_oneof![
            any::<String>(),
            (any::<String>(), any::<String>(), "[0-9a-fA-F]{0,66}").prop_map(|(date, salt, sig)| {
                format!("HMAC-SHA256 apiKey={API_KEY}, date={date}, salt={salt}, signature={sig}")
            }),
        ],
    ) {
        let _h = host().install();
        let answer = handle_webhook::<AlimTalkPlugin>(request(body, authorization), connection());
        prop_assert!(matches!(answer, Err(WebhookError::Unauthorized(_))), "{:?}", answer);
    }

    #[test]
    fn signed_bodies_parse_or_are_bad_requests(
        body in prop_oneof![
            mutated(json_array_of(report())),
            mutated(report()),
            prop::collection::vec(any::<u8>(), 0..2048),
        ],
    ) {
        let _h = host().install();
        let items = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Array(items)) => Some(items.len()),
            Ok(Value::Object(_)) => Some(1),
            _ => None,
        };
        match (handle_webhook::<AlimTalkPlugin>(signed(body), connection()), items) {
            (Ok(out), Some(items)) => {
                prop_assert!(out.events.len() <= items);
                for e in &out.events {
                    let WebhookEvent::Status(s) = e else {
                        return Err(TestCaseError::fail(format!("not a status: {e:?}")));
                    };
                    prop_assert!(!s.provider_message_id.is_empty());
                    prop_assert_eq!(s.failure.is_some(), s.state == DeliveryState::Failed);
                }
            }
            (Err(WebhookError::BadRequest(_)), None) => {}
            (answer, items) => {
                return Err(TestCaseError::fail(format!("{answer:?} for {items:?} reports")));
            }
        }
    }

    /// A report built from random fields parses back to those fields.
    #[test]
    fn fields_round_trip(
        id in ".{1,40}",
        code in prop_oneof![
            prop::sample::select(&["3000", "4000", "3104", "3108", "1061"][..]).prop_map(str::to_string),
            any::<u32>().prop_map(|n| n.to_string()),
        ],
        code_as_number in any::<bool>(),
        message in any::<String>(),
        received in 0..=MAX_ISO_MS,
    ) {
        let _h = host().install();
        let code_json = if code_as_number { code.clone() } else { quote(&code) };
        let body = format!(
            "[{{\"messageId\":{},\"statusCode\":{code_json},\"statusMessage\":{},\"dateReceived\":{}}}]",
            quote(&id),
            quote(&message),
            quote(&format_iso(received)),
        );
        let out = handle_webhook::<AlimTalkPlugin>(signed(body.into_bytes()), connection()).unwrap();
        if code == crate::codes::ACCEPTED {
            prop_assert!(out.events.is_empty());
            return Ok(());
        }
        let [WebhookEvent::Status(s)] = &out.events[..] else {
            return Err(TestCaseError::fail(format!("{:?}", out.events)));
        };
        prop_assert_eq!(&s.provider_message_id, &id);
        prop_assert_eq!(&s.provider_status, &code);
        prop_assert_eq!(s.timestamp_ms, Some(received));
        if let Some(f) = &s.failure {
            prop_assert_eq!(f.provider_code.as_ref(), Some(&code));
        }
    }

    #[test]
    fn iso_timestamps_never_panic_and_round_trip(
        ms in 0..=MAX_ISO_MS,
        junk in prop_oneof![any::<String>(), "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,30})?([Zz]|[+-][0-9]{2}:[0-9]{2})?"],
    ) {
        prop_assert_eq!(parse_iso(&format_iso(ms)), Some(ms));
        // Whatever parses is a real instant: formatting it parses back to itself. (An offset
        // can push 9999-12-31 into year 10000, which needs a fifth digit no ISO 8601 basic
        // form reader, this one included, accepts.)
        if let Some(parsed) = parse_iso(&junk).filter(|&t| t <= MAX_ISO_MS) {
            prop_assert_eq!(parse_iso(&format_iso(parsed)), Some(parsed));
        }
    }

    #[test]
    fn authorization_headers_parse_back(
        api_key in "[^,= ]{1,20}",
        date in "[^,]{1,30}",
        salt in "[^,]{1,40}",
        mac in prop::collection::vec(any::<u8>(), 0..40),
        junk in any::<String>(),
    ) {
        let _ = auth::parse(&junk);
        let signature = auth::to_hex(&mac);
        let header = format!("HMAC-SHA256 apiKey={api_key}, date={date}, salt={salt}, signature={signature}");
        let parsed = auth::parse(&header).expect("a well-formed header parses");
        prop_assert_eq!(parsed.api_key, api_key.trim());
        prop_assert_eq!(parsed.date, date.trim());
        prop_assert_eq!(parsed.salt, salt.trim());
        prop_assert_eq!(parsed.signature, signature.as_str());
        prop_assert_eq!(auth::from_hex(&signature), Some(mac));
    }
}
