//! Properties of the API's JSON input, at the router: whatever the body, the answer is never
//! a 5xx, and every refusal is a 4xx `{"error":{"code","message"}}` naming the field when a
//! field is at fault.
//!
//! A real gateway (sandbox mode: bundled plugins, in-process simulators, a temporary data
//! directory) answers in process through `tower::ServiceExt::oneshot`, so a case costs a
//! request, not a connection.

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use switchboard_plugin_sdk::testing::json::{DEEP, json_any, mutated, nested, quote};
use tower::ServiceExt;

use switchboard_gateway::app::{GatewayConfig, start};
use switchboard_gateway::runtime::outbound::percent_encode;

#[path = "input_props_mutate.rs"]
mod mutate;
use mutate::{Mutation, mutation, valid_messages};

/// Per-case limit: generous for a loaded 2-core machine (a valid message is quoted by a wasm
/// plugin and committed to SQLite); it bounds pathological blowups, not speed.
const CASE_TIMEOUT_MS: u32 = 5_000;
/// Router-level cases cost milliseconds each, so fewer than proptest's 256 by default;
/// `PROPTEST_CASES` raises them for a long run.
const DEFAULT_CASES: u32 = 48;

fn config(test_name: &'static str) -> Config {
    let mut config = Config {
        timeout: CASE_TIMEOUT_MS,
        test_name: Some(test_name),
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    config
}

/// A sandbox gateway on a temporary data directory, removed on drop.
struct TestGateway {
    rt: tokio::runtime::Runtime,
    router: Router,
    key: String,
    billing_key: String,
    dir: PathBuf,
}

impl TestGateway {
    fn start() -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = std::env::temp_dir().join(format!(
            "switchboard-api-props-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // Compiled plugins are shared across runs (the cache key covers the wasm and the
        // engine), so a test process pays cranelift once, not once per gateway.
        let shared = std::env::temp_dir().join("switchboard-test-plugin-cache");
        std::fs::create_dir_all(&shared).unwrap();
        std::os::unix::fs::symlink(&shared, dir.join("plugin-cache")).unwrap();
        let mut cfg = GatewayConfig::new(&dir, "127.0.0.1:0".parse().unwrap());
        cfg.sandbox = true;
        cfg.bundled = switchboard_bundled_plugins::PLUGINS;
        let (router, key, billing_key) = rt.block_on(async {
            let running = start(cfg).await.expect("gateway starts");
            let router = super::router(running.gateway.clone());
            let keys = (
                running.sandbox_key.clone().unwrap(),
                running.sandbox_billing_key.clone().unwrap(),
            );
            // Serve too, so the simulators' callbacks reach it instead of hanging.
            tokio::spawn(super::serve(running));
            (router, keys.0, keys.1)
        });
        TestGateway {
            rt,
            router,
            key,
            billing_key,
            dir,
        }
    }

    /// One request; the status and the body as JSON (`Value::Null` if it is not JSON).
    fn call(&self, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        self.call_with(method, path, &[], body)
    }

    /// Like [`TestGateway::call`], with extra headers (an `authorization` given here replaces
    /// the workspace key).
    fn call_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let key = if path.starts_with("/v1/billing") {
            &self.billing_key
        } else {
            &self.key
        };
        let mut req = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(k, _)| k == "authorization") {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        if !headers.iter().any(|(k, _)| k == "content-type") {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req.body(Body::from(body)).unwrap();
        self.rt.block_on(async {
            let resp = self.router.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Never a 5xx; a refusal is a 4xx with a non-empty code and message.
fn check_answer(status: StatusCode, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{status}: {body}");
    if !status.is_success() {
        prop_assert!(status.is_client_error(), "{status}: {body}");
        let error = &body["error"];
        for key in ["code", "message"] {
            prop_assert!(
                error[key].as_str().is_some_and(|s| !s.is_empty()),
                "{status} without error.{key}: {body}"
            );
        }
    }
    Ok(())
}

/// The error names `path`'s top-level field, in `field`, a violation or the message.
fn names_field(body: &Value, path: &[String]) -> bool {
    let Some(top) = path.first() else {
        return true;
    };
    let error = &body["error"];
    let mentions = |v: &Value| v.as_str().is_some_and(|s| s.contains(top.as_str()));
    mentions(&error["field"])
        || mentions(&error["message"])
        || error["violations"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| mentions(&v["field"])))
}

/// Arbitrary JSON, and arbitrary JSON damaged, as a whole body.
fn any_body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        mutated(json_any()),
        prop::collection::vec(any::<u8>(), 0..512),
    ]
    .boxed()
}

#[test]
fn message_bodies_never_get_a_5xx_and_refusals_name_the_field() {
    let gw = TestGateway::start();
    let mut runner = TestRunner::new(config(concat!(
        module_path!(),
        "::message_bodies_never_get_a_5xx_and_refusals_name_the_field"
    )));
    let strategy = prop_oneof![
        2 => any_body().prop_map(|b| (b, None)),
        5 => (prop::sample::select(valid_messages()), mutation()).prop_map(|(valid, m)| {
            let path = m.path().to_vec();
            (m.apply(valid), Some(path))
        }),
        1 => (prop::sample::select(valid_messages()), mutation())
            .prop_flat_map(|(valid, m)| mutated(Just(String::from_utf8_lossy(&m.apply(valid)).into_owned()).boxed())
            .prop_map(|b| (b, None))),
    ];
    runner
        .run(&strategy, |(body, path)| {
            for endpoint in ["/v1/messages", "/v1/messages/preview"] {
                let (status, answer) = gw.call(Method::POST, endpoint, body.clone());
                check_answer(status, &answer)?;
                let code = answer["error"]["code"].as_str().unwrap_or("");
                if let Some(path) = &path
                    && matches!(code, "invalid_request" | "invalid_format")
                {
                    prop_assert!(names_field(&answer, path), "{path:?}: {answer}");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn other_json_endpoints_never_get_a_5xx() {
    let gw = TestGateway::start();
    let mut runner = TestRunner::new(config(concat!(
        module_path!(),
        "::other_json_endpoints_never_get_a_5xx"
    )));
    let endpoints = vec![
        (Method::POST, "/v1/policies"),
        (Method::POST, "/v1/connections"),
        (Method::POST, "/v1/contacts"),
        (Method::POST, "/v1/receipts"),
        (Method::POST, "/v1/activity"),
        (Method::POST, "/v1/conversations/hosting"),
        (Method::POST, "/v1/webhook-endpoints"),
        (Method::PUT, "/v1/billing/plan"),
        (Method::PUT, "/v1/billing/auto-charge"),
        (Method::PUT, "/v1/billing/low-balance-alert"),
        (Method::POST, "/v1/billing/topups"),
        (Method::POST, "/v1/billing/prices"),
    ];
    let strategy = (prop::sample::select(endpoints), any_body());
    runner
        .run(&strategy, |((method, path), body)| {
            let (status, answer) = gw.call(method, path, body);
            check_answer(status, &answer)
        })
        .unwrap();
}

/// Every route that takes a body answers one over its limit the same way: 413 with code
/// `payload_too_large`. Callbacks are checked twice: refused from the declared length
/// alone, and refused by the body reader when no length is declared.
#[test]
fn oversized_bodies_get_413_payload_too_large_everywhere() {
    let gw = TestGateway::start();
    let operator = std::fs::read_to_string(gw.dir.join("operator.key")).unwrap();
    let operator = vec![(
        "authorization".to_string(),
        format!("Bearer {}", operator.trim()),
    )];
    // Over both the API's limit and the larger callback limit.
    let body = vec![b' '; 2 * 1024 * 1024];
    let declared = vec![("content-length".to_string(), body.len().to_string())];
    // `{con}`: a connection the key owns, so ownership checks pass and the body is read.
    let key_routes = [
        (Method::POST, "/v1/messages"),
        (Method::POST, "/v1/messages/preview"),
        (Method::POST, "/v1/contacts"),
        (Method::POST, "/v1/receipts"),
        (Method::POST, "/v1/activity"),
        (Method::POST, "/v1/conversations/ct_0000/messages"),
        (Method::POST, "/v1/conversations/ct_0000/seen"),
        (Method::POST, "/v1/conversations/hosting"),
        (Method::POST, "/v1/policies"),
        (Method::PUT, "/v1/policies/mine"),
        (Method::POST, "/v1/connections"),
        (Method::PATCH, "/v1/connections/{con}"),
        (Method::POST, "/v1/connections/{con}/resend"),
        (Method::POST, "/v1/connections/{con}/sync-contacts"),
        (Method::POST, "/v1/connections/{con}/blocked-urls"),
        (Method::POST, "/v1/webhook-endpoints"),
        (Method::PATCH, "/v1/webhook-endpoints/we_0000"),
        (Method::POST, "/v1/webhook-endpoints/we_0000/replay"),
        (Method::POST, "/v1/keys"),
        (Method::PUT, "/v1/billing/plan"),
        (Method::PUT, "/v1/billing/auto-charge"),
        (Method::PUT, "/v1/billing/low-balance-alert"),
        (Method::POST, "/v1/billing/topups"),
        (Method::POST, "/v1/billing/prices"),
        (Method::PUT, "/v1/sandbox/clock"),
        (Method::PUT, "/v1/sandbox/wallet"),
        (Method::POST, "/v1/webhooks/{con}"),
    ];
    let routes = key_routes
        .into_iter()
        .map(|(method, path)| (method, path, Vec::new()))
        .chain([
            (Method::POST, "/v1/workspaces", operator),
            (Method::POST, "/v1/webhooks/{con}", declared),
        ]);
    for (method, path, headers) in routes {
        let path = path.replace("{con}", "con_sandbox_twilio_sms");
        let (status, answer) = gw.call_with(method.clone(), &path, &headers, body.clone());
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
            "{method} {path} {headers:?}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{method} {path}: {answer}"
        );
    }
}

/// A query string: known parameter names and random ones, with values that are arbitrary
/// strings (escaped), numbers at the edges, or raw URI characters including broken escapes.
fn any_query() -> BoxedStrategy<String> {
    let name = prop_oneof![
        3 => prop::sample::select(vec![
            "limit", "cursor", "status", "channel", "from", "to", "since", "until", "month",
            "type", "after", "url", "all", "reasons",
        ])
        .prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
    ];
    let value = prop_oneof![
        any::<String>().prop_map(|v| percent_encode(&v)),
        prop::sample::select(vec![
            "0",
            "-1",
            "1",
            "1000",
            "1001",
            "18446744073709551616",
            "1e3",
            "NaN",
            "",
            "%",
            "%zz",
            "%00",
            "%FF%FE",
            "2026-13-45",
            "2026-11",
            "sent",
            "delivered",
            "sms",
        ])
        .prop_map(str::to_string),
        "[A-Za-z0-9%&=+;,/?:@!$'()*.~_-]{0,40}",
    ];
    prop::collection::vec((name, value), 0..6)
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
        .boxed()
}

/// Every listing and lookup, with whatever query string: never a 5xx.
#[test]
fn query_strings_never_get_a_5xx() {
    let gw = TestGateway::start();
    let mut runner = TestRunner::new(config(concat!(
        module_path!(),
        "::query_strings_never_get_a_5xx"
    )));
    let endpoints = vec![
        (Method::GET, "/v1/messages"),
        (Method::GET, "/v1/contacts"),
        (Method::GET, "/v1/events"),
        (Method::GET, "/v1/policies"),
        (Method::GET, "/v1/connections"),
        (Method::GET, "/v1/webhook-endpoints"),
        (Method::GET, "/v1/billing/ledger"),
        (Method::GET, "/v1/billing/usage"),
        (Method::GET, "/v1/billing/usage.csv"),
        (Method::GET, "/v1/billing/prices"),
        (Method::GET, "/v1/billing/topups"),
        (Method::GET, "/v1/contacts/ct_0000/messages"),
        (Method::GET, "/v1/conversations/ct_0000/messages"),
        (Method::GET, "/v1/webhook-endpoints/we_0000/deliveries"),
        (
            Method::GET,
            "/v1/connections/con_sandbox_twilio_sms/blocked-urls",
        ),
        (
            Method::DELETE,
            "/v1/connections/con_sandbox_twilio_sms/blocked-urls",
        ),
    ];
    let strategy = (prop::sample::select(endpoints), any_query());
    runner
        .run(&strategy, |((method, path), query)| {
            let uri = format!("{path}?{query}");
            let (status, answer) = gw.call(method, &uri, Vec::new());
            if status.is_success() && path.ends_with(".csv") {
                return Ok(());
            }
            check_answer(status, &answer)
        })
        .unwrap();
}

/// Whatever the `Idempotency-Key`, `Content-Type` or `Authorization` header holds, a message
/// post is answered with a 2xx or a 4xx JSON error, never a 5xx.
#[test]
fn headers_never_get_a_5xx() {
    let gw = TestGateway::start();
    let mut runner = TestRunner::new(config(concat!(module_path!(), "::headers_never_get_a_5xx")));
    // Visible ASCII and spaces: what a header value can carry without being refused by the
    // HTTP layer before the gateway sees it.
    let value = prop_oneof![
        "[ -~]{0,64}",
        "[ -~]{200,2000}",
        prop::sample::select(vec!["", " ", "Bearer", "Bearer ", "Basic x", "sk_live_"])
            .prop_map(str::to_string),
    ];
    let header = prop_oneof![
        Just("idempotency-key".to_string()),
        Just("content-type".to_string()),
        Just("authorization".to_string()),
    ];
    let strategy = prop::collection::vec((header, value), 1..4);
    let body =
        json!({"channel": "sms", "to": {"phone": "+14155550100"}, "content": {"text": "hi"}})
            .to_string()
            .into_bytes();
    runner
        .run(&strategy, |headers| {
            let (status, answer) =
                gw.call_with(Method::POST, "/v1/messages", &headers, body.clone());
            check_answer(status, &answer)
        })
        .unwrap();
}

/// serde_json's recursion limit (128) must stay on: 100,000 nested arrays or objects, as a
/// body or inside a field, is a 400, not a stack overflow.
#[test]
fn nesting_and_number_bombs_are_client_errors() {
    let gw = TestGateway::start();
    let bombs = [
        nested(DEEP, "1", false),
        nested(DEEP, "1", true),
        format!(
            r#"{{"channel":"sms","to":{{"phone":"+14155550100"}},"content":{{"text":"hi"}},"metadata":{}}}"#,
            nested(DEEP, "", false)
        ),
        format!(
            r#"{{"channel":"sms","to":{{"phone":"+14155550100"}},"content":{{"text":"hi","data":{}}}}}"#,
            "9".repeat(200_000)
        ),
        format!(r#"{{"channel":{}}}"#, quote(&"\u{FEFF}".repeat(50_000))),
    ];
    for bomb in bombs {
        let (status, answer) = gw.call(Method::POST, "/v1/messages", bomb.into_bytes());
        assert!(status.is_client_error(), "{status}: {answer}");
        check_answer(status, &answer).unwrap();
    }
    // Still answering afterwards.
    let ok = json!({"channel": "sms", "to": {"phone": "+14155550100"}, "content": {"text": "hi"}});
    let (status, answer) = gw.call(Method::POST, "/v1/messages", ok.to_string().into_bytes());
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[test]
fn mutations_apply_where_they_say() {
    let valid = json!({"a": {"b": 1}});
    let text = |m: Mutation| String::from_utf8(m.apply(valid.to_string())).unwrap();
    assert_eq!(
        text(Mutation::Remove(vec!["a".into(), "b".into()])),
        r#"{"a":{}}"#
    );
    assert_eq!(
        text(Mutation::Replace(vec!["a".into()], "[1e999]".into())),
        r#"{"a":[1e999]}"#
    );
    assert_eq!(
        text(Mutation::Unknown(vec!["a".into(), "zz".into()])),
        r#"{"a":{"b":1,"zz":null}}"#
    );
}
