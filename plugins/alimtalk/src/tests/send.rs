use serde_json::{Value, json};

use super::*;
use crate::AlimTalkPlugin;

fn accepted() -> Response {
    Response::new(
        200,
        &[("content-type", "application/json")],
        json!({
            "groupId": "G4V20231115071320ABCDEFGHIJKLMNO",
            "messageId": "M4V20231115071320ABCDEFGHIJKLMNO",
            "statusCode": "2000",
            "statusMessage": "정상 접수(이통사로 접수 예정) ",
            "accountId": "12345678",
            "to": "01012345678",
            "from": "0212345678",
            "type": "ATA",
            "country": "82",
        })
        .to_string(),
    )
}

fn status(code: &str) -> Response {
    Response::new(
        200,
        &[],
        json!({"messageId": "M4VX", "statusCode": code, "statusMessage": "failed here"})
            .to_string(),
    )
}

fn error(http: u16, code: &str, headers: &[(&str, &str)]) -> Response {
    Response::new(
        http,
        headers,
        json!({"errorCode": code, "errorMessage": "explained"}).to_string(),
    )
}

fn send_with(m: Message, resp: Response) -> (Result<Sent, SendError>, Vec<Request>) {
    let guard = host().on_http(move |_| Ok(resp.clone())).install();
    let out = AlimTalkPlugin::send(m, connection());
    let requests = guard.inspect(|h| h.requests.clone());
    (out, requests)
}

#[test]
fn request_is_a_signed_ata_send_field_by_field() {
    let mut m = message("+821012345678");
    m.content.buttons = vec![
        button("배송 조회", Some("https://shop.example/track/A-1001")),
        Button {
            title: "상담원 연결".into(),
            url: None,
            payload: Some("agent".into()),
        },
    ];
    let (out, requests) = send_with(m, accepted());
    assert_eq!(
        out.unwrap().provider_message_id,
        "M4V20231115071320ABCDEFGHIJKLMNO"
    );
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.url.as_str()),
        ("POST", "http://sim.test/messages/v4/send")
    );
    assert!(
        r.auth.is_none(),
        "the signature is our own header, not host auth"
    );

    let header = |n: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let authz = header("authorization").unwrap();
    let parsed = crate::auth::parse(&authz).unwrap();
    assert!(
        authz.starts_with(
            "HMAC-SHA256 apiKey=NCSTESTKEY0000001, date=2023-11-14T22:13:20.000Z, salt="
        )
    );
    assert_eq!(parsed.date, "2023-11-14T22:13:20.000Z");
    assert_eq!(
        parsed.salt,
        hmac_hex(
            SECRET,
            format!("switchboard-alimtalk-salt\ndlv_1\n{NOW}").as_bytes()
        )[..32]
    );
    assert_eq!(
        parsed.signature,
        hmac_hex(SECRET, format!("{}{}", parsed.date, parsed.salt).as_bytes())
    );

    let b: Value = serde_json::from_slice(&r.body).unwrap();
    let msg = &b["message"];
    assert_eq!(msg["to"], "01012345678");
    assert_eq!(msg["from"], "0212345678");
    assert_eq!(msg["type"], "ATA");
    assert!(
        msg.get("text").is_none(),
        "the provider renders the template"
    );
    let k = &msg["kakaoOptions"];
    assert_eq!(k["pfId"], "KA01PF_TEST");
    assert_eq!(k["templateId"], "TPL_ORDER_SHIPPED");
    assert_eq!(
        k["variables"],
        json!({"#{name}": "지수", "#{order}": "A-1001"})
    );
    assert_eq!(k["disableSms"], json!(true));
    assert_eq!(
        k["buttons"],
        json!([
            {"buttonType": "WL", "buttonName": "배송 조회",
             "linkMo": "https://shop.example/track/A-1001", "linkPc": "https://shop.example/track/A-1001"},
            {"buttonType": "BK", "buttonName": "상담원 연결"},
        ])
    );
    assert_eq!(
        msg["customFields"],
        json!({"sb_message_id": "msg_1", "sb_delivery_id": "dlv_1"})
    );
}

#[test]
fn optional_text_is_passed_and_buttons_left_out_when_none() {
    let mut m = message("+821012345678");
    m.content.text = Some("지수님, 주문 A-1001이 발송되었습니다.".into());
    let (_, requests) = send_with(m, accepted());
    let b: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        b["message"]["text"],
        "지수님, 주문 A-1001이 발송되었습니다."
    );
    assert!(b["message"]["kakaoOptions"].get("buttons").is_none());
}

#[test]
fn each_attempt_signs_with_a_fresh_date_and_salt() {
    let guard = host().on_http(|_| Ok(accepted())).install();
    AlimTalkPlugin::send(message("+821012345678"), connection()).unwrap();
    guard.inspect(|h| h.now_ms += 1);
    AlimTalkPlugin::send(message("+821012345678"), connection()).unwrap();
    let auths: Vec<_> = guard.inspect(|h| {
        h.requests
            .iter()
            .map(|r| {
                crate::auth::parse(
                    &r.headers
                        .iter()
                        .find(|(k, _)| k == "authorization")
                        .unwrap()
                        .1,
                )
                .unwrap()
            })
            .collect()
    });
    assert_ne!(auths[0].salt, auths[1].salt);
    assert_ne!(auths[0].date, auths[1].date);
}

#[test]
fn immediate_status_codes_map_to_reasons() {
    use FailureReason::*;
    for (code, reason, retryable) in [
        ("3104", RecipientUnavailable, false),
        ("3107", Blocked, false),
        ("3108", OutsideHours, true),
        ("3016", ContentRejected, false),
        ("1030", InsufficientFunds, false),
        ("2230", InsufficientFunds, false),
        ("1060", Blocked, false),
        ("2060", Blocked, false),
        ("1061", OptedOut, false),
        ("2061", OptedOut, false),
        ("3999", ProviderError, false),
    ] {
        let (out, _) = send_with(message("+821012345678"), status(code));
        let e = out.unwrap_err();
        assert_eq!((e.reason, e.retryable), (reason, retryable), "{code}");
        assert_eq!(e.provider_code.as_deref(), Some(code));
        let wait = (code == "3108").then_some(46 * 60_000 + 40_000);
        assert_eq!(e.retry_after_ms, wait, "{code}");
    }
}

#[test]
fn http_errors_map_to_reasons() {
    use FailureReason::*;
    for (http, code, headers, reason, retryable, after) in [
        (403, "InvalidAPIKey", &[][..], PermissionDenied, false, None),
        (
            403,
            "SignatureDoesNotMatch",
            &[],
            PermissionDenied,
            false,
            None,
        ),
        (
            403,
            "RequestTimeTooSkewed",
            &[],
            ProviderTransient,
            true,
            None,
        ),
        (
            403,
            "DuplicatedSignature",
            &[],
            ProviderTransient,
            true,
            None,
        ),
        (
            429,
            "TooManyRequests",
            &[("Retry-After", "3")],
            RateLimited,
            true,
            Some(3000),
        ),
        (500, "InternalError", &[], ProviderTransient, true, None),
        (
            503,
            "ServiceUnavailable",
            &[("retry-after", "1")],
            ProviderTransient,
            true,
            Some(1000),
        ),
        (400, "ValidationError", &[], ProviderError, false, None),
    ] {
        let (out, _) = send_with(message("+821012345678"), error(http, code, headers));
        let e = out.unwrap_err();
        assert_eq!(
            (e.reason, e.retryable, e.retry_after_ms),
            (reason, retryable, after),
            "{code}"
        );
        assert_eq!(e.provider_code.as_deref(), Some(code));
        assert!(e.detail.contains("explained"), "{}", e.detail);
    }
    // Without an envelope the HTTP status is the code.
    let (out, _) = send_with(message("+821012345678"), Response::new(502, &[], "<html>"));
    let e = out.unwrap_err();
    assert_eq!(
        (e.reason, e.provider_code.as_deref()),
        (ProviderTransient, Some("502"))
    );
}

#[test]
fn unreadable_success_is_retryable() {
    let (out, _) = send_with(
        message("+821012345678"),
        Response::new(200, &[], "not json"),
    );
    let e = out.unwrap_err();
    assert_eq!(
        (e.reason, e.retryable),
        (FailureReason::ProviderError, true)
    );
    let (out, _) = send_with(
        message("+821012345678"),
        Response::new(200, &[], r#"{"statusCode":"2000"}"#),
    );
    assert!(out.unwrap_err().retryable);
}

#[test]
fn bad_recipient_and_missing_config_never_reach_the_provider() {
    let (out, requests) = send_with(message("+14155550100"), accepted());
    assert_eq!(out.unwrap_err().reason, FailureReason::RecipientInvalid);
    assert!(requests.is_empty());
    for missing in ["api_key", "pf_id", "sender"] {
        let mut h = host().on_http(|_| Ok(accepted()));
        h.config.remove(missing);
        let g = h.install();
        let e = AlimTalkPlugin::send(message("+821012345678"), connection()).unwrap_err();
        assert_eq!(
            (e.reason, e.retryable),
            (FailureReason::PermissionDenied, false)
        );
        assert!(e.detail.contains(missing), "{}", e.detail);
        assert!(g.inspect(|h| h.requests.is_empty()));
    }
    let mut h = host();
    h.secrets.clear();
    let _g = h.install();
    let e = AlimTalkPlugin::send(message("+821012345678"), connection()).unwrap_err();
    assert!(e.detail.contains("api_secret"), "{}", e.detail);
}
