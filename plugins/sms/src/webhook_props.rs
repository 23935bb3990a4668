//! Properties of the status-callback parser over arbitrary and structure-aware bodies.
//!
//! Bodies are signed with the connection's auth token the way Twilio signs them, so the
//! parser behind the signature check is what gets exercised; unsigned ones check that
//! nothing gets past the check.

use base64::Engine;
use proptest::prelude::*;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::secrets::HmacAlgorithm;
use switchboard_plugin_sdk::testing::{MockHost, handle_webhook};

use super::signed_payload;
use crate::SmsPlugin;

const URL: &str = "http://gw/v1/webhooks/c1";
/// Per-case limit: generous for a loaded 2-core machine; it bounds pathological blowups,
/// it does not measure speed.
const CASE_TIMEOUT_MS: u32 = 5_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        timeout: CASE_TIMEOUT_MS,
        ..ProptestConfig::default()
    }
}

fn conn() -> Connection {
    Connection {
        id: "c1".into(),
        name: "sms".into(),
        webhook_url: URL.into(),
    }
}

fn params_of(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A request for `body` signed as Twilio signs it: over the parameters Twilio sent, which
/// for a body that is not clean form data are whatever the form decoder makes of it.
fn signed(body: Vec<u8>) -> WebhookRequest {
    let mac = secrets::hmac(
        HmacAlgorithm::Sha1,
        "auth_token",
        &signed_payload(URL, &params_of(&body)),
    )
    .expect("the mock host has the auth token");
    WebhookRequest {
        method: "POST".into(),
        url: URL.into(),
        headers: vec![(
            "X-Twilio-Signature".into(),
            base64::engine::general_purpose::STANDARD.encode(mac),
        )],
        body,
    }
}

const STATUSES: &[&str] = &[
    "queued",
    "accepted",
    "sending",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
    "scheduled",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(STATUSES).prop_map(str::to_string),
        "SM[0-9a-f]{32}",
        // Error codes: known, negative, and far past i64.
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{19,60}",
        Just(String::new()),
        any::<String>(),
        // Characters the form encoding must escape.
        "[&=%+ ;\u{0}\u{FEFF}]{0,8}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&[
            "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode", "AccountSid",
            "To", "From", "ApiVersion",
        ][..]).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

/// Valid form data with random fields: keys missing, duplicated or unknown, values of any
/// shape; then sometimes a raw mutation the form encoder would never produce.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let params = prop::collection::vec((key(), value()), 0..12);
    let mutation = prop_oneof![
        4 => Just(Vec::new()),
        // Percent-escapes that decode to invalid UTF-8, a lone escape, raw invalid bytes.
        1 => Just(b"&MessageStatus=%FF%FE&Bad%C3=%".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..32),
    ];
    (params, mutation, any::<prop::sample::Index>()).prop_map(|(params, mutation, at)| {
        let mut body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish()
            .into_bytes();
        let at = at.index(body.len() + 1);
        body.splice(at..at, mutation);
        body
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unsigned_bytes_are_always_refused(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        signature in any::<String>(),
    ) {
        let _h = MockHost::new().secret("auth_token", "tok").install();
        let req = WebhookRequest {
            method: "POST".into(),
            url: URL.into(),
            headers: vec![("X-Twilio-Signature".into(), signature)],
            body,
        };
        let answer = handle_webhook::<SmsPlugin>(req, conn());
        prop_assert!(matches!(answer, Err(WebhookError::Unauthorized(_))), "{:?}", answer);
    }

    #[test]
    fn signed_bodies_parse_or_are_bad_requests(
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..2048), form_body()],
    ) {
        let _h = MockHost::new().secret("auth_token", "tok").install();
        let params = params_of(&body);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let sid = get("MessageSid").or_else(|| get("SmsSid"));
        let status = get("MessageStatus").or_else(|| get("SmsStatus"));
        match handle_webhook::<SmsPlugin>(signed(body), conn()) {
            Ok(out) => {
                let (sid, status) = (sid.unwrap(), status.unwrap());
                prop_assert!(out.reply.is_none());
                prop_assert!(out.events.len() <= 1);
                if let [WebhookEvent::Status(s)] = &out.events[..] {
                    prop_assert_eq!(&s.provider_message_id, &sid);
                    prop_assert_eq!(&s.provider_status, &status);
                    prop_assert_eq!(s.failure.is_some(), s.state == DeliveryState::Failed);
                }
            }
            Err(WebhookError::BadRequest(_)) => prop_assert!(sid.is_none() || status.is_none()),
            Err(e) => prop_assert!(false, "a signed callback was refused: {:?}", e),
        }
    }

    /// A callback built from random fields parses back to those fields.
    #[test]
    fn fields_round_trip(
        sid in any::<String>(),
        status in prop::sample::select(STATUSES),
        error_code in proptest::option::of(value()),
        legacy_names in any::<bool>(),
    ) {
        let _h = MockHost::new().secret("auth_token", "tok").install();
        let (sid_key, status_key) = if legacy_names {
            ("SmsSid", "SmsStatus")
        } else {
            ("MessageSid", "MessageStatus")
        };
        let mut params = vec![(sid_key, sid.as_str()), (status_key, status)];
        if let Some(code) = &error_code {
            params.push(("ErrorCode", code.as_str()));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let out = handle_webhook::<SmsPlugin>(signed(body.into_bytes()), conn()).unwrap();
        let expected = match status {
            "sent" => Some(DeliveryState::Sent),
            "delivered" => Some(DeliveryState::Delivered),
            "read" => Some(DeliveryState::Seen),
            "undelivered" | "failed" | "canceled" => Some(DeliveryState::Failed),
            _ => None,
        };
        match (&out.events[..], expected) {
            ([], None) => {}
            ([WebhookEvent::Status(s)], Some(state)) => {
                prop_assert_eq!(&s.provider_message_id, &sid);
                prop_assert_eq!(s.state, state);
                prop_assert_eq!(s.provider_status.as_str(), status);
                if state == DeliveryState::Failed {
                    let code = error_code.filter(|c| !c.is_empty());
                    let failure = s.failure.as_ref().unwrap();
                    prop_assert_eq!(failure.provider_code.as_ref(), code.as_ref());
                }
            }
            (events, _) => prop_assert!(false, "{} gave {:?}", status, events),
        }
    }
}

/// The message lookup (`GET …/Messages/{sid}.json`) that recovers a lost callback reads the
/// provider's answer: any status and body must give a status, nothing, or a send error.
mod lookup {
    use proptest::prelude::*;
    use switchboard_plugin_sdk::http::Response;
    use switchboard_plugin_sdk::testing::MockHost;
    use switchboard_plugin_sdk::testing::json::{json_leaf, json_object, mutated};

    use super::config;
    use crate::twilio;

    const WORDS: &[&str] = &[
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
        "undelivered",
        "failed",
        "canceled",
        "SM0123456789abcdef0123456789abcdef",
        "30007",
        "21211",
        "",
    ];

    fn message_body() -> BoxedStrategy<Vec<u8>> {
        let body = json_object(
            &[
                "sid",
                "status",
                "error_code",
                "error_message",
                "num_segments",
            ],
            json_leaf(WORDS),
        );
        prop_oneof![mutated(body), prop::collection::vec(any::<u8>(), 0..512)].boxed()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_answer_is_a_status_nothing_or_an_error(
            sid in prop_oneof!["SM[0-9a-f]{32}", any::<String>()],
            status in prop_oneof![Just(200u16), Just(404), Just(429), Just(500), any::<u16>()],
            body in message_body(),
        ) {
            let answer = body.clone();
            let h = MockHost::new()
                .config("account_sid", "AC1")
                .secret("auth_token", "tok")
                .on_http(move |_| Ok(Response { status, headers: vec![], body: answer.clone() }))
                .install();
            let well_formed = sid.len() == 34
                && sid.starts_with("SM")
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
            let result = twilio::lookup(&sid);
            // A sid that is not Twilio's never reaches the URL.
            prop_assert_eq!(h.inspect(|h| h.requests.len()), usize::from(well_formed));
            if let Ok(Some(update)) = result {
                prop_assert_eq!(&update.provider_message_id, &sid);
                // The status is the body's (when a `Value` can hold the whole body).
                if let Ok(fetched) = serde_json::from_slice::<serde_json::Value>(&body) {
                    prop_assert_eq!(Some(update.provider_status.as_str()), fetched["status"].as_str());
                }
            }
        }
    }
}
