//! Requests the simulator refuses: authentication, validation and injected faults.

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::alimtalk::time;
use switchboard_sandbox::{
    SANDBOX_ALIMTALK_API_KEY, SANDBOX_ALIMTALK_API_SECRET, alimtalk_auth_header,
};

use crate::harness::{Sim, TO, order_shipped};

#[tokio::test]
async fn auth_failures_are_403_with_solapi_codes() {
    let sim = Sim::start().await;
    let body = order_shipped(TO);
    let now = sim.sim_now().await;
    let date = time::format_iso(now);
    let cases = [
        (
            alimtalk_auth_header(
                "NCSUNKNOWNKEY000",
                SANDBOX_ALIMTALK_API_SECRET,
                &date,
                "salt00000001",
                None,
            ),
            403,
            "InvalidAPIKey",
        ),
        (
            alimtalk_auth_header(
                SANDBOX_ALIMTALK_API_KEY,
                "WRONGSECRET",
                &date,
                "salt00000002",
                None,
            ),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            alimtalk_auth_header(
                SANDBOX_ALIMTALK_API_KEY,
                SANDBOX_ALIMTALK_API_SECRET,
                &time::format_iso(now - 16 * 60_000),
                "salt00000003",
                None,
            ),
            403,
            "RequestTimeTooSkewed",
        ),
        (
            alimtalk_auth_header(
                SANDBOX_ALIMTALK_API_KEY,
                SANDBOX_ALIMTALK_API_SECRET,
                &time::format_iso(now + 16 * 60_000),
                "salt00000004",
                None,
            ),
            403,
            "RequestTimeTooSkewed",
        ),
        ("Bearer something".to_owned(), 401, "Unauthorized"),
    ];
    for (header, status, code) in cases {
        let (s, v, _) = sim.send_with(&header, &body).await;
        assert_eq!(
            (s.as_u16(), v["errorCode"].as_str()),
            (status, Some(code)),
            "{header}"
        );
        assert!(v["errorMessage"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let good = alimtalk_auth_header(
        SANDBOX_ALIMTALK_API_KEY,
        SANDBOX_ALIMTALK_API_SECRET,
        &date,
        "salt00000005",
        None,
    );
    let (s, v, _) = sim.send_with(&good, &body).await;
    assert_eq!(
        (s, v["statusCode"].as_str()),
        (StatusCode::OK, Some("2000"))
    );
    let (s, v, _) = sim.send_with(&good, &body).await;
    assert_eq!(
        (s, v["errorCode"].as_str()),
        (StatusCode::FORBIDDEN, Some("DuplicatedSignature"))
    );
    // Every request is on record, refused ones included.
    let received = sim.received().await;
    assert_eq!(received.len(), 7);
    assert_eq!(
        received
            .iter()
            .filter(|r| r["status_code"] == "2000")
            .count(),
        1
    );
}

#[tokio::test]
async fn malformed_sends_are_validation_errors() {
    let sim = Sim::start().await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = order_shipped(TO);
        f(&mut b);
        b
    };
    for body in [
        with(&|b| {
            b["message"]["kakaoOptions"]["disableSms"] = json!(false);
        }),
        with(&|b| {
            b["message"]["kakaoOptions"]
                .as_object_mut()
                .unwrap()
                .remove("disableSms");
        }),
        with(&|b| {
            b["message"]["to"] = json!("+821012345678");
        }),
        with(&|b| {
            b["message"]["to"] = json!("0212345678");
        }),
        with(&|b| {
            b["message"]["from"] = json!("0299999999");
        }),
        with(&|b| {
            b["message"]["type"] = json!("SMS");
        }),
        with(&|b| {
            b["message"]["kakaoOptions"]["pfId"] = json!("KA01PF_OTHER");
        }),
        with(&|b| {
            b["message"]["kakaoOptions"]["variables"]["#{name}"] = json!(7);
        }),
        json!({"nope": true}),
    ] {
        let (status, v) = sim.send(&body).await;
        assert_eq!(
            (status, v["errorCode"].as_str()),
            (StatusCode::BAD_REQUEST, Some("ValidationError")),
            "{body}"
        );
    }
    let auth = sim.auth().await;
    let resp = sim
        .http
        .post(sim.url("/messages/v4/send"))
        .header("authorization", auth)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn injected_faults_use_the_error_envelope() {
    let sim = Sim::start().await;
    let add = |rule: Value| {
        let http = sim.http.clone();
        let url = sim.url("/_sandbox/faults");
        async move {
            let resp = http.post(url).json(&rule).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED, "{rule}");
        }
    };
    add(json!({"channel": "alimtalk", "match": {"to": "01011112222"}, "times": 1, "action": {"status": 429, "retry_after_s": 2}})).await;
    add(json!({"channel": "alimtalk", "match": {"to": "01033334444"}, "times": 1, "action": {"status": 500}})).await;
    add(json!({"channel": "alimtalk", "match": {"to": "01055556666"}, "times": 1, "action": {"callback_status": "1061"}})).await;

    let auth = sim.auth().await;
    let (s, v, headers) = sim.send_with(&auth, &order_shipped("01011112222")).await;
    assert_eq!(
        (s, v["errorCode"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("TooManyRequests"))
    );
    assert_eq!(headers.get("retry-after").unwrap(), "2");
    let (s, v) = sim.send(&order_shipped("01033334444")).await;
    assert_eq!(
        (s, v["errorCode"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("InternalError"))
    );
    let (s, v) = sim.send(&order_shipped("01033334444")).await;
    assert_eq!(
        (s, v["statusCode"].as_str()),
        (StatusCode::OK, Some("2000")),
        "the fault was used up"
    );
    let (_, v) = sim.send(&order_shipped("01055556666")).await;
    let reports = sim
        .receiver
        .wait_for(v["messageId"].as_str().unwrap(), 1)
        .await;
    assert_eq!(
        reports.iter().map(|r| r.code()).collect::<Vec<_>>(),
        ["1061"]
    );
}
