//! Properties of what the push plugin reads from outside: callbacks (there are none, so every
//! one is refused) and the providers' error answers, over arbitrary and structure-aware input.

use proptest::prelude::*;
use switchboard_plugin_sdk::http::Response;
use switchboard_plugin_sdk::testing::json::{
    json_any, json_array_of, json_leaf, json_object, mutated,
};
use switchboard_plugin_sdk::testing::{MockHost, handle_webhook};

use super::*;
use crate::{PushPlugin, apns, fcm};

/// Per-case limit: generous for a loaded 2-core machine; it bounds pathological blowups,
/// it does not measure speed.
const CASE_TIMEOUT_MS: u32 = 5_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        timeout: CASE_TIMEOUT_MS,
        ..ProptestConfig::default()
    }
}

/// `{"error":{"code","message","status","details":[{"@type","errorCode"}]}}` as FCM answers,
/// and `{"reason","timestamp"}` as APNs does, with any field missing, doubled or mistyped.
fn error_body() -> BoxedStrategy<Vec<u8>> {
    let words = json_leaf(&[
        "UNREGISTERED",
        "SENDER_ID_MISMATCH",
        "INVALID_ARGUMENT",
        "QUOTA_EXCEEDED",
        "UNAVAILABLE",
        "INTERNAL",
        "BadDeviceToken",
        "Unregistered",
        "TooManyRequests",
        "ExpiredProviderToken",
        "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "",
    ]);
    let detail = json_object(&["@type", "errorCode"], words.clone());
    let error = json_object(
        &["code", "message", "status", "details"],
        prop_oneof![3 => words.clone(), 1 => json_array_of(detail)].boxed(),
    );
    let fcm = json_object(&["error"], prop_oneof![error, json_any()].boxed());
    let apns = json_object(&["reason", "timestamp"], words);
    prop_oneof![
        mutated(fcm),
        mutated(apns),
        prop::collection::vec(any::<u8>(), 0..1024),
    ]
    .boxed()
}

fn response() -> impl Strategy<Value = Response> {
    (
        prop_oneof![
            Just(400u16),
            Just(403),
            Just(404),
            Just(410),
            Just(429),
            Just(500),
            Just(503),
            any::<u16>()
        ],
        proptest::option::of(prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<String>()
        ]),
        error_body(),
    )
        .prop_map(|(status, retry_after, body)| Response {
            status,
            headers: retry_after
                .map(|v| ("retry-after".to_string(), v))
                .into_iter()
                .collect(),
            body,
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_callback_is_a_bad_request(
        method in prop_oneof![Just("POST".to_string()), Just("GET".to_string()), any::<String>()],
        headers in prop::collection::vec((any::<String>(), any::<String>()), 0..4),
        body in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let _h = MockHost::new().install();
        let req = WebhookRequest { method, url: "https://gw.example.test/v1/webhooks/conn_1".into(), headers, body };
        let answer = handle_webhook::<PushPlugin>(req, conn());
        prop_assert!(matches!(answer, Err(WebhookError::BadRequest(_))), "{:?}", answer);
    }

    #[test]
    fn provider_errors_always_map_to_a_send_error(resp in response()) {
        let _ = fcm::error_code(&resp);
        let _ = fcm::map_error(&resp);
        let (_, timestamp) = apns::reason(&resp);
        let _ = apns::map_error(&resp);
        if let Some(t) = timestamp {
            // Apple's timestamp is only ever read from a well-formed JSON number.
            prop_assert!(std::str::from_utf8(&resp.body).is_ok_and(|b| b.contains(&t.to_string())));
        }
    }
}
