use super::*;
use crate::AlimTalkPlugin;
use switchboard_plugin_sdk::testing::handle_webhook;

const BODY: &str = r#"[
 {"messageId":"M4VA","groupId":"G4VA","to":"01012345678","from":"0212345678","type":"ATA","statusCode":"2000","statusMessage":"정상 접수","dateReceived":"2023-11-14T22:13:00.000Z"},
 {"messageId":"M4VA","statusCode":"3000","statusMessage":"이통사로 접수 중","dateReceived":"2023-11-14T22:13:01.000Z"},
 {"messageId":"M4VA","statusCode":"4000","statusMessage":"수신완료","dateReceived":"2023-11-14T22:13:02.500Z"},
 {"messageId":"M4VB","statusCode":"3104","statusMessage":"카카오톡 미사용자"},
 {"messageId":"M4VC","statusCode":3107,"statusMessage":"알림톡 차단"},
 {"messageId":"M4VD","statusCode":"1061","statusMessage":"수신거부"}
]"#;

fn signed(body: &str, api_key: &str, secret: &str, date: &str) -> WebhookRequest {
    let salt = "0123456789abcdef0123456789abcdef";
    let sig = hmac_hex(secret, format!("{date}{salt}{body}").as_bytes());
    WebhookRequest {
        method: "POST".into(),
        url: "https://gw.example/v1/webhooks/conn_1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "Authorization".into(),
                format!("HMAC-SHA256 apiKey={api_key}, date={date}, salt={salt}, signature={sig}"),
            ),
        ],
        body: body.as_bytes().to_vec(),
    }
}

fn good(body: &str) -> WebhookRequest {
    signed(body, API_KEY, SECRET, "2023-11-14T22:13:05.000Z")
}

fn rejected(req: WebhookRequest) -> String {
    let _h = host().install();
    match handle_webhook::<AlimTalkPlugin>(req, connection()) {
        Err(WebhookError::Unauthorized(m)) => m,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

#[test]
fn signed_reports_become_status_updates() {
    let h = host().install();
    let out = handle_webhook::<AlimTalkPlugin>(good(BODY), connection()).unwrap();
    assert!(out.reply.is_none());
    // The host compared the HMAC and was told the signed date (22:13:05, 15 s ago).
    assert_eq!(
        h.inspect(|h| (h.verified, h.signed_at)),
        (true, Some(NOW - 15_000))
    );
    let got: Vec<_> = out
        .events
        .iter()
        .map(|e| match e {
            WebhookEvent::Status(s) => (
                s.provider_message_id.as_str(),
                s.state,
                s.provider_status.as_str(),
                s.failure
                    .as_ref()
                    .map(|f| (f.reason, f.provider_code.clone())),
                s.timestamp_ms,
            ),
            other => panic!("status only, got {other:?}"),
        })
        .collect();
    use FailureReason::*;
    assert_eq!(
        got,
        vec![
            (
                "M4VA",
                DeliveryState::Sent,
                "3000",
                None,
                Some(NOW - 19_000)
            ),
            (
                "M4VA",
                DeliveryState::Delivered,
                "4000",
                None,
                Some(NOW - 17_500)
            ),
            (
                "M4VB",
                DeliveryState::Failed,
                "3104",
                Some((RecipientUnavailable, Some("3104".into()))),
                None
            ),
            (
                "M4VC",
                DeliveryState::Failed,
                "3107",
                Some((Blocked, Some("3107".into()))),
                None
            ),
            (
                "M4VD",
                DeliveryState::Failed,
                "1061",
                Some((OptedOut, Some("1061".into()))),
                None
            ),
        ]
    );
}

#[test]
fn tampered_body_is_rejected() {
    let mut req = good(BODY);
    req.body = BODY.replace("3104", "4000").into_bytes();
    assert!(rejected(req).contains("signature"));
}

#[test]
fn wrong_secret_and_wrong_api_key_are_rejected() {
    let m = rejected(signed(
        BODY,
        API_KEY,
        "another-secret",
        "2023-11-14T22:13:05.000Z",
    ));
    assert!(m.contains("signature"), "{m}");
    let m = rejected(signed(
        BODY,
        "NCSOTHERKEY",
        SECRET,
        "2023-11-14T22:13:05.000Z",
    ));
    assert!(m.contains("apiKey"), "{m}");
}

#[test]
fn dates_outside_the_hosts_replay_window_are_rejected_both_ways() {
    // The mock host's window is the gateway's default, five minutes.
    let m = rejected(signed(BODY, API_KEY, SECRET, "2023-11-14T22:08:19.999Z"));
    assert!(m.contains("replay window"), "{m}");
    let m = rejected(signed(BODY, API_KEY, SECRET, "2023-11-14T22:18:20.001Z"));
    assert!(m.contains("replay window"), "{m}");
    // Exactly five minutes is still inside the window.
    let _h = host().install();
    assert!(
        handle_webhook::<AlimTalkPlugin>(
            signed(BODY, API_KEY, SECRET, "2023-11-14T22:08:20.000Z"),
            connection()
        )
        .is_ok()
    );
}

#[test]
fn the_window_is_the_hosts_not_the_plugins() {
    // An operator who widens the gateway's window gets it: the plugin keeps no limit of its own.
    let mut h = host();
    h.replay_window_ms = 20 * 60 * 1000;
    let _h = h.install();
    assert!(
        handle_webhook::<AlimTalkPlugin>(
            signed(BODY, API_KEY, SECRET, "2023-11-14T21:55:00.000Z"),
            connection()
        )
        .is_ok()
    );
}

#[test]
fn missing_or_malformed_headers_are_rejected() {
    let mut req = good(BODY);
    req.headers.retain(|(k, _)| k != "Authorization");
    assert!(rejected(req).contains("missing"));
    let mut req = good(BODY);
    req.headers[1].1 = "Bearer x".into();
    assert!(rejected(req).contains("HMAC-SHA256"));
    let mut req = good(BODY);
    req.headers[1].1 = req.headers[1].1.replace("signature=", "signature=zz");
    assert!(rejected(req).contains("hex"));
}

#[test]
fn a_signed_body_that_is_not_reports_is_a_bad_request() {
    let _h = host().install();
    let out = handle_webhook::<AlimTalkPlugin>(good("\"hello\""), connection());
    assert!(matches!(out, Err(WebhookError::BadRequest(_))));
    let out = handle_webhook::<AlimTalkPlugin>(good("{nope"), connection());
    assert!(matches!(out, Err(WebhookError::BadRequest(_))));
    // Entries without the fields we need are skipped rather than failing the batch.
    let out = handle_webhook::<AlimTalkPlugin>(
        good(r#"[{"x":1},{"messageId":"M","statusCode":"4000"}]"#),
        connection(),
    )
    .unwrap();
    assert_eq!(out.events.len(), 1);
}
