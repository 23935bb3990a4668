//! APNs: the provider JWT and its cache, headers and body, and Apple's reasons.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::json;
use switchboard_plugin_sdk::prelude::*;

use super::*;
use crate::PushPlugin;
use crate::apns::{self, JWT_TTL_MS};
use crate::jwt::uuid_v5;

const APNS_ID: &str = "8e2f1c3a-0000-4000-8000-000000000001";

/// Answers `failure` to the first `fail` requests, then 200 with an `apns-id`.
fn apple(fail: u32, failure: Response) -> MockHost {
    let n = Rc::new(Cell::new(0u32));
    apns_host().on_http(move |_| {
        n.set(n.get() + 1);
        if n.get() <= fail {
            return Ok(failure.clone());
        }
        Ok(Response::new(200, &[("apns-id", APNS_ID)], ""))
    })
}

fn bearer(req: &Request) -> String {
    header(req, "authorization")
        .and_then(|a| a.strip_prefix("bearer "))
        .expect("bearer authorization")
        .to_owned()
}

#[test]
fn provider_jwt_is_es256_with_kid_iss_and_iat() {
    let guard = apple(0, resp(500, &[], "")).install();
    let sent = PushPlugin::send(message("ios", "a1b2"), conn()).unwrap();
    assert_eq!(sent.provider_message_id, APNS_ID);
    guard.inspect(|h| {
        let jwt = decode_jwt(&bearer(&h.requests[0]));
        assert_eq!(jwt.header, json!({"alg": "ES256", "kid": "KEY1234567"}));
        assert_eq!(
            jwt.claims,
            json!({"iss": "TEAM123456", "iat": h.now_ms / 1000})
        );
        assert_eq!(jwt.sig.len(), 64);
        assert!(es256_verifies(&jwt.input, &jwt.sig));
        assert!(!es256_verifies(&format!("{}x", jwt.input), &jwt.sig));
    });
}

#[test]
fn alert_request_headers_and_body_field_by_field() {
    let guard = apple(0, resp(500, &[], "")).install();
    let mut m = message("ios", "a1b2");
    m.options = vec![("collapse_id".into(), "order-42".into())];
    m.content.media = vec![Media {
        kind: MediaKind::Image,
        url: "https://cdn.example.test/a.png".into(),
        mime_type: "image/png".into(),
        size: 10,
    }];
    PushPlugin::send(m, conn()).unwrap();
    guard.inspect(|h| {
        let r = &h.requests[0];
        assert_eq!(r.url, "https://apns.example.test/3/device/a1b2");
        assert!(r.http2);
        assert!(r.auth.is_none());
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .filter(|(k, _)| k != "authorization")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let id = uuid_v5("dlv_1");
        assert_eq!(
            headers,
            [
                ("apns-topic", "com.example.app"),
                ("apns-push-type", "alert"),
                ("apns-priority", "10"),
                ("apns-expiration", "0"),
                ("apns-id", id.as_str()),
                ("apns-collapse-id", "order-42"),
                ("content-type", "application/json"),
            ]
        );
        assert_eq!(
            json(&r.body),
            json!({
                "aps": {
                    "alert": {"title": "Shipped", "body": "Your order shipped"},
                    "sound": "default",
                    "mutable-content": 1,
                },
                "sb_message_id": "msg_1",
                "sb_image_url": "https://cdn.example.test/a.png",
                "order": "42",
            })
        );
    });
}

#[test]
fn background_push_ttl_and_normal_priority() {
    let guard = apple(0, resp(500, &[], "")).install();
    let mut m = message("ios", "a1b2");
    m.content.text = None;
    m.content.subject = None;
    m.options = vec![("ttl_s".into(), "3600".into())];
    PushPlugin::send(m, conn()).unwrap();
    let mut alert = message("ios", "a1b2");
    alert.options = vec![("priority".into(), "normal".into())];
    PushPlugin::send(alert, conn()).unwrap();
    guard.inspect(|h| {
        let r = &h.requests[0];
        assert_eq!(header(r, "apns-push-type"), Some("background"));
        assert_eq!(header(r, "apns-priority"), Some("5"));
        let expiry = (h.now_ms / 1000 + 3600).to_string();
        assert_eq!(header(r, "apns-expiration"), Some(expiry.as_str()));
        assert_eq!(header(r, "apns-collapse-id"), None);
        assert_eq!(
            json(&r.body),
            json!({"aps": {"content-available": 1}, "sb_message_id": "msg_1", "order": "42"})
        );
        let r = &h.requests[1];
        assert_eq!(header(r, "apns-push-type"), Some("alert"));
        assert_eq!(header(r, "apns-priority"), Some("5"));
    });
}

#[test]
fn apns_id_is_shared_by_retries_of_one_delivery() {
    let guard = apple(0, resp(500, &[], "")).install();
    PushPlugin::send(message("ios", "a"), conn()).unwrap();
    PushPlugin::send(message("ios", "a"), conn()).unwrap();
    let mut other = message("ios", "a");
    other.idempotency_key = "dlv_2".into();
    PushPlugin::send(other, conn()).unwrap();
    guard.inspect(|h| {
        let ids: Vec<_> = h
            .requests
            .iter()
            .map(|r| header(r, "apns-id").unwrap().to_owned())
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
    });
}

#[test]
fn provider_jwt_is_reused_for_40_minutes() {
    let guard = apple(0, resp(500, &[], "")).install();
    PushPlugin::send(message("ios", "a"), conn()).unwrap();
    guard.inspect(|h| h.now_ms += JWT_TTL_MS - 1);
    PushPlugin::send(message("ios", "b"), conn()).unwrap();
    guard.inspect(|h| h.now_ms += 1);
    PushPlugin::send(message("ios", "c"), conn()).unwrap();
    guard.inspect(|h| {
        let jwts: Vec<_> = h.requests.iter().map(bearer).collect();
        assert_eq!(jwts[0], jwts[1]);
        assert_ne!(jwts[1], jwts[2]);
        let iat = |j: &str| decode_jwt(j).claims["iat"].as_u64().unwrap();
        assert_eq!(iat(&jwts[2]) - iat(&jwts[0]), JWT_TTL_MS / 1000);
    });
}

#[test]
fn expired_provider_token_is_resigned_once() {
    let expired = resp(403, &[], r#"{"reason":"ExpiredProviderToken"}"#);
    let guard = apple(1, expired.clone()).install();
    // An old token in the cache, as if the host clock had jumped.
    guard.inspect(|h| {
        h.cache.insert(
            "apns_jwt:TEAM123456:KEY1234567".into(),
            (b"old.jwt.token".to_vec(), u64::MAX),
        )
    });
    let sent = PushPlugin::send(message("ios", "a"), conn());
    assert!(sent.is_ok(), "{sent:?}");
    guard.inspect(|h| {
        assert_eq!(h.requests.len(), 2);
        assert_eq!(bearer(&h.requests[0]), "old.jwt.token");
        let fresh = bearer(&h.requests[1]);
        assert!(es256_verifies(
            &decode_jwt(&fresh).input,
            &decode_jwt(&fresh).sig
        ));
        assert_eq!(
            h.cache["apns_jwt:TEAM123456:KEY1234567"].0,
            fresh.as_bytes()
        );
    });
    drop(guard);
    let guard = apple(2, expired).install();
    let e = PushPlugin::send(message("ios", "a"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.provider_code.as_deref()),
        (
            FailureReason::PermissionDenied,
            Some("ExpiredProviderToken")
        )
    );
    guard.inspect(|h| assert_eq!(h.requests.len(), 2));
}

#[test]
fn every_reason_maps() {
    use FailureReason as R;
    let rows: &[(u16, &str, R, bool)] = &[
        (400, "BadDeviceToken", R::RecipientInvalid, false),
        (410, "Unregistered", R::RecipientInvalid, false),
        (400, "DeviceTokenNotForTopic", R::RecipientInvalid, false),
        (400, "BadCollapseId", R::InvalidFormat, false),
        (400, "BadExpirationDate", R::InvalidFormat, false),
        (400, "MissingTopic", R::InvalidFormat, false),
        (413, "PayloadTooLarge", R::InvalidFormat, false),
        (400, "TopicDisallowed", R::PermissionDenied, false),
        (403, "InvalidProviderToken", R::PermissionDenied, false),
        (403, "MissingProviderToken", R::PermissionDenied, false),
        (429, "TooManyRequests", R::RateLimited, true),
        (500, "InternalServerError", R::ProviderTransient, true),
        (503, "ServiceUnavailable", R::ProviderTransient, true),
        (505, "HTTP2Required", R::ProviderError, false),
    ];
    for (status, reason, expected, retryable) in rows {
        let body = format!(r#"{{"reason":"{reason}"}}"#);
        let e = apns::map_error(&resp(*status, &[], &body));
        assert_eq!((e.reason, e.retryable), (*expected, *retryable), "{reason}");
        assert_eq!(e.provider_code.as_deref(), Some(*reason));
        if *expected == R::RecipientInvalid {
            assert!(
                e.detail.contains("marks it invalid on the contact"),
                "{}",
                e.detail
            );
        }
    }
    let e = apns::map_error(&resp(
        410,
        &[],
        r#"{"reason":"Unregistered","timestamp":1700000000000}"#,
    ));
    assert!(e.detail.contains("1700000000000"), "{}", e.detail);
    let e = apns::map_error(&resp(503, &[("Retry-After", "3")], ""));
    assert_eq!(
        (e.reason, e.retry_after_ms),
        (R::ProviderTransient, Some(3000))
    );
}

#[test]
fn an_android_only_connection_refuses_ios() {
    let guard = fcm_host().install();
    let e = PushPlugin::send(message("ios", "a"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable),
        (FailureReason::PermissionDenied, false)
    );
    assert!(e.detail.contains("not configured for ios"), "{}", e.detail);
    guard.inspect(|h| assert!(h.requests.is_empty()));
}

/// Found by the property test: bad UTF-8 in a field serde_json skips did not stop it reading
/// the rest. A body that is not UTF-8 is not Apple's JSON, and nothing is read from it.
#[test]
fn a_body_that_is_not_utf8_gives_no_reason_and_no_timestamp() {
    let mut body = br#"{"x":{"\xff":null},"reason":"Unregistered","timestamp":0}"#.to_vec();
    body[7] = 0xff;
    let answer = Response {
        status: 410,
        headers: vec![],
        body,
    };
    assert_eq!(apns::reason(&answer), (None, None));
}
