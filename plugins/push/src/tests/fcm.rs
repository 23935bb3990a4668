//! FCM: the service-account JWT, the token cache, the send body and the error mapping.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::json;
use switchboard_plugin_sdk::prelude::*;

use super::*;
use crate::PushPlugin;
use crate::fcm::{self, TOKEN_SAFETY_MARGIN_S};

const NAME: &str = r#"{"name":"projects/proj-1/messages/0:1700000000000000%abc"}"#;

/// Token endpoint issues `ya29.N` (N counts exchanges); sends answer `send_status` for the
/// first `fail_sends` sends, then 200.
fn google(fail_sends: u32, failure: Response) -> (MockHost, Rc<Cell<u32>>) {
    let exchanges = Rc::new(Cell::new(0u32));
    let sends = Rc::new(Cell::new(0u32));
    let ex = exchanges.clone();
    let host = fcm_host().on_http(move |req| {
        if req.url == TOKEN_URI {
            ex.set(ex.get() + 1);
            let body = format!(
                r#"{{"access_token":"ya29.{}","expires_in":3599,"token_type":"Bearer"}}"#,
                ex.get()
            );
            return Ok(Response::new(200, &[], body));
        }
        sends.set(sends.get() + 1);
        if sends.get() <= fail_sends {
            return Ok(failure.clone());
        }
        Ok(Response::new(200, &[], NAME))
    });
    (host, exchanges)
}

fn ok_host() -> (MockHost, Rc<Cell<u32>>) {
    google(0, resp(500, &[], ""))
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[test]
fn token_exchange_sends_a_signed_service_account_jwt() {
    let (host, _) = ok_host();
    let guard = host.install();
    let sent = PushPlugin::send(message("android", "fcm-tok-1"), conn()).unwrap();
    assert_eq!(
        sent.provider_message_id,
        "projects/proj-1/messages/0:1700000000000000%abc"
    );
    guard.inspect(|h| {
        let now_s = h.now_ms / 1000;
        let r = &h.requests[0];
        assert_eq!((r.method.as_str(), r.url.as_str()), ("POST", TOKEN_URI));
        assert_eq!(
            header(r, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert!(r.auth.is_none());
        let f = form(&r.body);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0],
            (
                "grant_type".into(),
                "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
            )
        );
        assert_eq!(f[1].0, "assertion");
        let jwt = decode_jwt(&f[1].1);
        assert_eq!(jwt.header, json!({"alg": "RS256", "typ": "JWT"}));
        assert_eq!(
            jwt.claims,
            json!({
                "iss": "sender@proj-1.iam.gserviceaccount.com",
                "scope": "https://www.googleapis.com/auth/firebase.messaging",
                "aud": TOKEN_URI,
                "iat": now_s,
                "exp": now_s + 3600,
            })
        );
        assert!(rs256_verifies(&jwt.input, &jwt.sig));
        assert!(!rs256_verifies(&format!("{}x", jwt.input), &jwt.sig));
    });
}

#[test]
fn send_body_and_headers_field_by_field() {
    let (host, _) = ok_host();
    let guard = host.install();
    PushPlugin::send(message("android", "fcm-tok-1"), conn()).unwrap();
    guard.inspect(|h| {
        let r = &h.requests[1];
        assert_eq!(
            r.url,
            "https://fcm.example.test/v1/projects/proj-1/messages:send"
        );
        assert!(!r.http2);
        assert_eq!(header(r, "authorization"), Some("Bearer ya29.1"));
        assert_eq!(header(r, "content-type"), Some("application/json"));
        assert_eq!(
            json(&r.body),
            json!({"message": {
                "token": "fcm-tok-1",
                "notification": {"title": "Shipped", "body": "Your order shipped"},
                "data": {"order": "42", "sb_message_id": "msg_1"},
                "android": {"priority": "high"},
            }})
        );
    });
}

#[test]
fn options_image_and_data_only_messages() {
    let (host, _) = ok_host();
    let guard = host.install();
    let mut m = message("android", "t");
    m.options = vec![
        ("priority".into(), "normal".into()),
        ("ttl_s".into(), "600".into()),
        ("collapse_id".into(), "order-42".into()),
    ];
    m.content.media = vec![Media {
        kind: MediaKind::Image,
        url: "https://cdn.example.test/a.png".into(),
        mime_type: "image/png".into(),
        size: 10,
    }];
    PushPlugin::send(m, conn()).unwrap();
    let mut silent = message("android", "t");
    silent.content.text = None;
    silent.content.subject = None;
    PushPlugin::send(silent, conn()).unwrap();
    guard.inspect(|h| {
        let b = json(&h.requests[1].body);
        assert_eq!(
            b["message"]["notification"]["image"],
            "https://cdn.example.test/a.png"
        );
        assert_eq!(
            b["message"]["android"],
            json!({"priority": "normal", "ttl": "600s", "collapse_key": "order-42"})
        );
        let b = json(&h.requests[2].body);
        assert!(b["message"].get("notification").is_none());
        assert_eq!(b["message"]["android"], json!({"priority": "normal"}));
        assert_eq!(b["message"]["data"]["sb_message_id"], "msg_1");
    });
}

#[test]
fn access_token_is_cached_until_shortly_before_expiry() {
    let (host, exchanges) = ok_host();
    let guard = host.install();
    PushPlugin::send(message("android", "a"), conn()).unwrap();
    PushPlugin::send(message("android", "b"), conn()).unwrap();
    assert_eq!(exchanges.get(), 1);
    let lifetime_ms = (3599 - TOKEN_SAFETY_MARGIN_S) * 1000;
    guard.inspect(|h| h.now_ms += lifetime_ms - 1);
    PushPlugin::send(message("android", "c"), conn()).unwrap();
    assert_eq!(exchanges.get(), 1);
    guard.inspect(|h| h.now_ms += 1);
    PushPlugin::send(message("android", "d"), conn()).unwrap();
    assert_eq!(exchanges.get(), 2);
    guard.inspect(|h| {
        let auths: Vec<_> = h
            .requests
            .iter()
            .filter(|r| r.url.ends_with("messages:send"))
            .map(|r| header(r, "authorization").unwrap().to_owned())
            .collect();
        assert_eq!(
            auths,
            [
                "Bearer ya29.1",
                "Bearer ya29.1",
                "Bearer ya29.1",
                "Bearer ya29.2"
            ]
        );
    });
}

fn unauthenticated() -> Response {
    resp(
        401,
        &[],
        r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
    )
}

#[test]
fn rejected_access_token_is_replaced_once() {
    let (host, exchanges) = google(1, unauthenticated());
    let guard = host.install();
    let sent = PushPlugin::send(message("android", "a"), conn());
    assert!(sent.is_ok(), "{sent:?}");
    assert_eq!(exchanges.get(), 2);
    guard.inspect(|h| {
        assert_eq!(h.requests.len(), 4);
        assert_eq!(
            header(&h.requests[3], "authorization"),
            Some("Bearer ya29.2")
        );
    });
    // The fresh token is what the cache now holds.
    PushPlugin::send(message("android", "b"), conn()).unwrap();
    assert_eq!(exchanges.get(), 2);
}

#[test]
fn a_second_401_is_a_configuration_error() {
    let (host, exchanges) = google(2, unauthenticated());
    let guard = host.install();
    let e = PushPlugin::send(message("android", "a"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable, e.provider_code.as_deref()),
        (
            FailureReason::PermissionDenied,
            false,
            Some("UNAUTHENTICATED")
        )
    );
    assert_eq!(exchanges.get(), 2);
    guard.inspect(|h| assert_eq!(h.requests.len(), 4));
}

#[test]
fn third_party_auth_error_is_not_retried() {
    let body = r#"{"error":{"code":401,"message":"Auth error from APNS or Web Push Service","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"THIRD_PARTY_AUTH_ERROR"}]}}"#;
    let (host, exchanges) = google(1, resp(401, &[], body));
    let guard = host.install();
    let e = PushPlugin::send(message("android", "a"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable, e.provider_code.as_deref()),
        (
            FailureReason::PermissionDenied,
            false,
            Some("THIRD_PARTY_AUTH_ERROR")
        )
    );
    assert_eq!(exchanges.get(), 1);
    guard.inspect(|h| assert_eq!(h.requests.len(), 2));
}

#[test]
fn token_endpoint_refusal_is_permission_denied() {
    let host = fcm_host().on_http(|_| {
        Ok(resp(
            400,
            &[],
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        ))
    });
    let guard = host.install();
    let e = PushPlugin::send(message("android", "a"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable, e.provider_code.as_deref()),
        (
            FailureReason::PermissionDenied,
            false,
            Some("invalid_grant")
        )
    );
    assert!(e.detail.contains("Invalid JWT Signature."), "{}", e.detail);
    guard.inspect(|h| {
        assert_eq!(h.requests.len(), 1);
        assert!(h.cache.values().all(|(v, _)| v.is_empty()));
    });
    let e = fcm::map_token_error(&resp(503, &[("Retry-After", "7")], ""));
    assert_eq!(
        (e.reason, e.retryable, e.retry_after_ms),
        (FailureReason::ProviderTransient, true, Some(7000))
    );
}

fn fcm_error(status: u16, canonical: &str, code: Option<&str>) -> String {
    let details = code
        .map(|c| {
            format!(
                r#","details":[{{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"{c}"}}]"#
            )
        })
        .unwrap_or_default();
    format!(r#"{{"error":{{"code":{status},"message":"m","status":"{canonical}"{details}}}}}"#)
}

#[test]
fn every_error_code_maps_to_its_reason() {
    use FailureReason as R;
    let rows: &[(u16, &str, Option<&str>, R, bool)] = &[
        (
            404,
            "NOT_FOUND",
            Some("UNREGISTERED"),
            R::RecipientInvalid,
            false,
        ),
        (
            403,
            "PERMISSION_DENIED",
            Some("SENDER_ID_MISMATCH"),
            R::RecipientInvalid,
            false,
        ),
        (
            400,
            "INVALID_ARGUMENT",
            Some("INVALID_ARGUMENT"),
            R::InvalidFormat,
            false,
        ),
        (
            401,
            "UNAUTHENTICATED",
            Some("THIRD_PARTY_AUTH_ERROR"),
            R::PermissionDenied,
            false,
        ),
        (
            429,
            "RESOURCE_EXHAUSTED",
            Some("QUOTA_EXCEEDED"),
            R::RateLimited,
            true,
        ),
        (
            500,
            "INTERNAL",
            Some("INTERNAL"),
            R::ProviderTransient,
            true,
        ),
        (
            503,
            "UNAVAILABLE",
            Some("UNAVAILABLE"),
            R::ProviderTransient,
            true,
        ),
        // Without details the canonical status decides.
        (503, "UNAVAILABLE", None, R::ProviderTransient, true),
        (400, "INVALID_ARGUMENT", None, R::InvalidFormat, false),
        (403, "PERMISSION_DENIED", None, R::PermissionDenied, false),
    ];
    for (status, canonical, code, reason, retryable) in rows {
        let e = fcm::map_error(&resp(*status, &[], &fcm_error(*status, canonical, *code)));
        assert_eq!((e.reason, e.retryable), (*reason, *retryable), "{code:?}");
        assert_eq!(e.provider_code.as_deref(), Some(code.unwrap_or(canonical)));
        if *reason == R::RecipientInvalid {
            assert!(
                e.detail.contains("marks it invalid on the contact"),
                "{}",
                e.detail
            );
        }
    }
    let e = fcm::map_error(&resp(502, &[], "<html>bad gateway</html>"));
    assert_eq!((e.reason, e.retryable), (R::ProviderTransient, true));
}

#[test]
fn retry_after_is_honoured_and_quota_waits_a_minute() {
    let quota = fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"));
    let e = fcm::map_error(&resp(429, &[], &quota));
    assert_eq!(e.retry_after_ms, Some(60_000));
    let e = fcm::map_error(&resp(429, &[("Retry-After", "10")], &quota));
    assert_eq!(e.retry_after_ms, Some(60_000));
    let e = fcm::map_error(&resp(429, &[("Retry-After", "120")], &quota));
    assert_eq!(e.retry_after_ms, Some(120_000));
    let e = fcm::map_error(&resp(
        503,
        &[("Retry-After", "5")],
        &fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE")),
    ));
    assert_eq!(e.retry_after_ms, Some(5_000));
}

#[test]
fn dead_token_fails_the_send() {
    let body = fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"));
    let (host, _) = google(1, resp(404, &[], &body));
    let _guard = host.install();
    let e = PushPlugin::send(message("android", "dead-1"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable),
        (FailureReason::RecipientInvalid, false)
    );
}

#[test]
fn an_ios_only_connection_refuses_android() {
    let guard = apns_host().install();
    let e = PushPlugin::send(message("android", "a"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable),
        (FailureReason::PermissionDenied, false)
    );
    assert!(
        e.detail.contains("not configured for android") && e.detail.contains("fcm_project_id"),
        "{}",
        e.detail
    );
    guard.inspect(|h| assert!(h.requests.is_empty()));
}
