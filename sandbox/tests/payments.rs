//! The simulated card processor (Stripe's Charges API), driven over real HTTP like the
//! gateway's wallet top-ups would.

// A test crate root resolves modules next to itself; keep them in tests/payments/ so cargo does
// not build each as a separate test binary.
mod common;
#[path = "payments/harness.rs"]
mod harness;
#[path = "payments/replays.rs"]
mod replays;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_PAYMENTS_SECRET_KEY;

use crate::common::{control_expect, set_clock};
use crate::harness::{Sim, is_charge_id, topup};

#[tokio::test]
async fn approved_charge_is_a_stripe_charge_object() {
    let sim = Sim::start().await;
    // A day ahead: `created` must come from the simulator clock, not the wall clock.
    set_clock(&sim.http, &sim.base(), 86_400_000).await;
    let clock = sim.control(Method::GET, "clock", None).await;
    let now_s = clock["now_ms"].as_u64().unwrap() / 1000;
    let mut form = topup("tok_visa");
    form.extend([
        ("description", "Wallet top-up"),
        ("metadata[wallet_id]", "wal_1"),
        ("metadata[workspace]", "ws_sandbox"),
    ]);
    let a = sim.charge(&form, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let b = &a.body;
    assert!(is_charge_id(&b["id"]), "{b}");
    assert_eq!(
        (&b["object"], &b["amount"], &b["currency"], &b["status"]),
        (
            &json!("charge"),
            &json!(2000),
            &json!("usd"),
            &json!("succeeded")
        )
    );
    assert_eq!((&b["paid"], &b["captured"]), (&json!(true), &json!(true)));
    assert!(b["created"].as_u64().unwrap().abs_diff(now_s) <= 2);
    assert_eq!(b["description"], "Wallet top-up");
    assert_eq!(
        b["metadata"],
        json!({"wallet_id": "wal_1", "workspace": "ws_sandbox"})
    );
    assert_eq!(
        (
            &b["source"]["object"],
            &b["source"]["brand"],
            &b["source"]["last4"]
        ),
        (&json!("card"), &json!("Visa"), &json!("4242"))
    );
    assert!(b["source"]["id"].as_str().unwrap().starts_with("card_"));
    assert_eq!(a.headers["content-type"], "application/json");
    assert!(a.headers.contains_key("request-id"));

    // Stripe's own libraries send the key as a Bearer token; krw has no minor unit.
    let req = sim
        .request(&[
            ("amount", "10000"),
            ("currency", "KRW"),
            ("source", "tok_mastercard"),
        ])
        .bearer_auth(SANDBOX_PAYMENTS_SECRET_KEY);
    let mc = Sim::send(req).await;
    assert_eq!(mc.status, StatusCode::OK, "{}", mc.body);
    assert_eq!(
        (&mc.body["currency"], &mc.body["amount"]),
        (&json!("krw"), &json!(10000))
    );
    assert_eq!(
        (&mc.body["source"]["brand"], &mc.body["source"]["last4"]),
        (&json!("MasterCard"), &json!("4444"))
    );
    assert!(mc.body["description"].is_null() && mc.body["metadata"] == json!({}));

    let charges = sim.charges().await;
    assert_eq!(charges.len(), 2);
    let c = &charges[0];
    assert_eq!(c["id"], b["id"]);
    assert_eq!(
        (&c["amount"], &c["currency"], &c["source"], &c["status"]),
        (
            &json!(2000),
            &json!("usd"),
            &json!("tok_visa"),
            &json!("succeeded")
        )
    );
    assert!(c["decline_code"].is_null() && c["idempotency_key"].is_null());
    assert_eq!(c["metadata"]["wallet_id"], "wal_1");
    assert_eq!(c["created"], b["created"]);
}

#[tokio::test]
async fn declines_answer_402_and_record_a_failed_charge() {
    let sim = Sim::start().await;
    let cases = [
        (
            "tok_chargeDeclined",
            "card_declined",
            "generic_decline",
            "Your card was declined.",
        ),
        (
            "tok_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        (
            "tok_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
            "Your card has expired.",
        ),
    ];
    for (token, code, decline, message) in cases {
        let a = sim.charge(&topup(token), None).await;
        assert_eq!(
            a.status,
            StatusCode::PAYMENT_REQUIRED,
            "{token}: {}",
            a.body
        );
        assert_eq!(a.error("type"), "card_error");
        assert_eq!(
            (a.error("code"), a.error("decline_code"), a.error("message")),
            (&json!(code), &json!(decline), &json!(message)),
            "{token}"
        );
        assert!(is_charge_id(a.error("charge")));
        let charges = sim.charges().await;
        let c = charges.last().unwrap();
        assert_eq!(&c["id"], a.error("charge"));
        assert_eq!(
            (&c["status"], &c["decline_code"], &c["source"]),
            (&json!("failed"), &json!(decline), &json!(token))
        );
    }
    let stats = sim.stats().await;
    assert_eq!(
        stats,
        json!({"requests": 3, "charges_succeeded": 0, "charges_declined": 3, "duplicates": 0})
    );
}

#[tokio::test]
async fn wrong_or_missing_key_is_401_without_echoing_it() {
    let sim = Sim::start().await;
    // A fault waiting for the gateway must survive a test's deliberately bad requests.
    sim.fault(json!({"channel": "payments", "times": 1, "action": {"latency_ms": 1}}))
        .await;
    let wrong_key = "sk_test_somebody_elses_secret_key_9876";
    let cases = [
        sim.request(&topup("tok_visa"))
            .basic_auth(wrong_key, Some("")),
        sim.request(&topup("tok_visa")).bearer_auth(wrong_key),
        sim.request(&topup("tok_visa")),
        sim.request(&topup("tok_visa"))
            .basic_auth("", Some(SANDBOX_PAYMENTS_SECRET_KEY)),
    ];
    for (i, req) in cases.into_iter().enumerate() {
        let a = Sim::send(req).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "case {i}");
        assert_eq!(a.error("type"), "invalid_request_error");
        assert_eq!(a.headers["www-authenticate"], "Basic realm=\"Stripe\"");
        let message = a.error("message").as_str().unwrap();
        assert!(!message.contains("somebody_elses"), "{message}");
        if i < 2 {
            assert!(
                message.starts_with("Invalid API Key provided: sk_test_*"),
                "{message}"
            );
            assert!(message.ends_with("9876"));
        } else {
            assert!(
                message.starts_with("You did not provide an API key."),
                "{message}"
            );
        }
    }
    assert!(sim.charges().await.is_empty());
    assert_eq!(sim.stats().await["requests"], 4);
    let faults = sim.control(Method::GET, "faults", None).await;
    assert_eq!(faults[0]["hits"], 0);
}

/// A refused form, the `param` blamed and the `code`, if Stripe has one.
type ParamCase<'a> = (&'a [(&'a str, &'a str)], &'a str, Option<&'a str>);

#[tokio::test]
async fn invalid_parameters_get_stripe_param_errors() {
    let sim = Sim::start().await;
    let cases: [ParamCase; 9] = [
        (
            &[("currency", "usd"), ("source", "tok_visa")],
            "amount",
            Some("parameter_missing"),
        ),
        (
            &[
                ("amount", "12.50"),
                ("currency", "usd"),
                ("source", "tok_visa"),
            ],
            "amount",
            Some("parameter_invalid_integer"),
        ),
        (
            &[
                ("amount", "-100"),
                ("currency", "usd"),
                ("source", "tok_visa"),
            ],
            "amount",
            Some("parameter_invalid_integer"),
        ),
        (
            &[
                ("amount", "100000000"),
                ("currency", "usd"),
                ("source", "tok_visa"),
            ],
            "amount",
            Some("amount_too_large"),
        ),
        (
            &[("amount", "100"), ("source", "tok_visa")],
            "currency",
            Some("parameter_missing"),
        ),
        (
            &[
                ("amount", "100"),
                ("currency", "us$"),
                ("source", "tok_visa"),
            ],
            "currency",
            None,
        ),
        (
            &[("amount", "100"), ("currency", "usd")],
            "source",
            Some("parameter_missing"),
        ),
        (
            &[
                ("amount", "100"),
                ("currency", "usd"),
                ("source", "tok_bogus"),
            ],
            "source",
            Some("resource_missing"),
        ),
        (
            &[
                ("amount", "100"),
                ("currency", "usd"),
                ("source", "tok_visa"),
                ("customer", "cus_1"),
            ],
            "customer",
            Some("parameter_unknown"),
        ),
    ];
    for (i, (form, param, code)) in cases.iter().enumerate() {
        let a = sim.charge(form, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "case {i}: {}", a.body);
        assert_eq!(a.error("type"), "invalid_request_error", "case {i}");
        assert_eq!(a.error("param"), &json!(param), "case {i}");
        assert_eq!(a.error("code"), &json!(code), "case {i}");
        assert!(a.error("message").as_str().is_some_and(|m| !m.is_empty()));
    }
    let a = sim.charge(&topup("tok_bogus"), None).await;
    assert_eq!(a.error("message"), "No such token: 'tok_bogus'");
    assert!(sim.charges().await.is_empty());
}

#[tokio::test]
async fn card_control_makes_any_token_decline_or_approve() {
    let sim = Sim::start().await;
    let card = sim.set_card("tok_visa", json!("insufficient_funds")).await;
    assert_eq!(
        (&card["token"], &card["decline"], &card["overridden"]),
        (
            &json!("tok_visa"),
            &json!("insufficient_funds"),
            &json!(true)
        )
    );
    let a = sim.charge(&topup("tok_visa"), None).await;
    assert_eq!(a.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(a.error("decline_code"), "insufficient_funds");
    sim.set_card("tok_visa", json!("generic_decline")).await;
    let a = sim.charge(&topup("tok_visa"), None).await;
    assert_eq!(a.error("decline_code"), "generic_decline");
    sim.set_card("tok_visa", Value::Null).await;
    assert_eq!(
        sim.charge(&topup("tok_visa"), None).await.status,
        StatusCode::OK
    );
    // A declining token can be made to approve.
    sim.set_card("tok_chargeDeclined", Value::Null).await;
    assert_eq!(
        sim.charge(&topup("tok_chargeDeclined"), None).await.status,
        StatusCode::OK
    );

    let cards = sim.control(Method::GET, "payments/cards", None).await;
    let find = |t: &str| {
        cards
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["token"] == t)
            .unwrap()
            .clone()
    };
    assert!(find("tok_chargeDeclined")["decline"].is_null());
    assert_eq!(
        find("tok_chargeDeclinedExpiredCard")["decline"],
        "expired_card"
    );
    assert_eq!(find("tok_chargeDeclinedExpiredCard")["overridden"], false);

    let put = |token: &str, body: Value, expected| {
        let (http, base) = (sim.http.clone(), sim.base());
        let path = format!("payments/cards/{token}");
        async move {
            control_expect(&http, &base, Method::PUT, &path, Some(&body), expected).await;
        }
    };
    put("tok_nope", json!({"decline": null}), StatusCode::NOT_FOUND).await;
    put(
        "tok_visa",
        json!({"decline": "exploded"}),
        StatusCode::BAD_REQUEST,
    )
    .await;
    put("tok_visa", json!({}), StatusCode::BAD_REQUEST).await;
    put(
        "tok_visa",
        json!({"decline": null, "x": 1}),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn stats_and_reset() {
    let sim = Sim::start().await;
    sim.set_card("tok_mastercard", json!("generic_decline"))
        .await;
    sim.charge(&topup("tok_visa"), Some("r1")).await;
    sim.charge(&topup("tok_visa"), Some("r1")).await;
    sim.charge(&topup("tok_mastercard"), None).await;
    sim.charge(&[("amount", "1")], None).await;
    assert_eq!(
        sim.stats().await,
        json!({"requests": 4, "charges_succeeded": 1, "charges_declined": 1, "duplicates": 1})
    );
    let all = sim.control(Method::GET, "stats", None).await;
    assert!(all["sms"].is_object() && all["email"].is_object());

    control_expect(
        &sim.http,
        &sim.base(),
        Method::POST,
        "reset",
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(sim.charges().await.is_empty());
    assert_eq!(
        sim.stats().await,
        json!({"requests": 0, "charges_succeeded": 0, "charges_declined": 0, "duplicates": 0})
    );
    // Overrides and stored keys are gone: the same key charges anew, and Mastercard approves.
    let a = sim.charge(&topup("tok_visa"), Some("r1")).await;
    assert!(a.headers.get("idempotent-replayed").is_none());
    assert_eq!(
        sim.charge(&topup("tok_mastercard"), None).await.status,
        StatusCode::OK
    );
    assert_eq!(sim.charges().await.len(), 2);
}
