use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::bindings::wit;
use crate::{ConnectionCtx, LoadedPlugin, PluginRuntime, RuntimeLimits, Secret};

const WINDOW: Duration = Duration::from_secs(300);
const NOW: i64 = 1_800_000_000_000;

fn verified_at(t: u64) -> CallRecord {
    let mut r = CallRecord {
        verified: true,
        signed_at: None,
    };
    r.declare_signed_at(t, NOW);
    r
}

#[test]
fn nothing_verified_is_refused_whatever_else_was_declared() {
    let mut r = CallRecord::default();
    assert_eq!(r.verdict(NOW, WINDOW), Err(Refusal::Unverified));
    r.declare_signed_at(NOW as u64, NOW);
    assert_eq!(r.verdict(NOW, WINDOW), Err(Refusal::Unverified));
    assert_eq!(
        Refusal::Unverified.to_string(),
        "the plugin accepted the callback without verifying a signature"
    );
    r.verified = true;
    assert_eq!(r.verdict(NOW, WINDOW), Ok(()));
}

#[test]
fn a_signed_time_must_be_inside_the_window_either_way() {
    let now = NOW as u64;
    assert!(verified_at(now - 300_000).verdict(NOW, WINDOW).is_ok());
    assert!(verified_at(now + 300_000).verdict(NOW, WINDOW).is_ok());
    let late = verified_at(now - 600_000).verdict(NOW, WINDOW).unwrap_err();
    assert_eq!(
        late.to_string(),
        format!(
            "the callback was signed at {} (Unix ms), 600 s from the gateway's clock, outside the 300 s replay window",
            now - 600_000
        )
    );
    assert!(verified_at(now - 300_001).verdict(NOW, WINDOW).is_err());
    assert!(verified_at(now + 300_001).verdict(NOW, WINDOW).is_err());
    // Providers that sign no time (Twilio, Messenger) declare none; freshness is not judged.
    let r = CallRecord {
        verified: true,
        signed_at: None,
    };
    assert!(r.verdict(NOW, WINDOW).is_ok());
}

#[test]
fn a_fresh_declaration_does_not_cover_a_stale_one() {
    let now = NOW as u64;
    let mut r = verified_at(now - 3_600_000);
    r.declare_signed_at(now, NOW);
    assert_eq!(r.signed_at, Some(now - 3_600_000));
    assert!(r.verdict(NOW, WINDOW).is_err());
}

#[test]
fn comparisons_are_exact() {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"key").unwrap();
    m.update(b"data");
    let mac = m.finalize().into_bytes();
    assert!(hmac_matches(HmacAlgorithm::Sha256, b"key", b"data", &mac));
    assert!(!hmac_matches(HmacAlgorithm::Sha256, b"key", b"datA", &mac));
    assert!(!hmac_matches(HmacAlgorithm::Sha256, b"kez", b"data", &mac));
    assert!(!hmac_matches(
        HmacAlgorithm::Sha256,
        b"key",
        b"data",
        &mac[..31]
    ));
    assert!(!hmac_matches(HmacAlgorithm::Sha1, b"key", b"data", &mac));

    assert!(same_token(b"vt-123", b"vt-123"));
    assert!(!same_token(b"vt-123", b"vt-124"));
    assert!(!same_token(b"vt-123", b"vt-1234"));
    assert!(!same_token(b"vt-123", b""));

    let key = switchboard_sandbox::sendgrid_webhook_public_key();
    assert!(p256_key(&key).is_some());
    assert!(p256_key("bm90IGEga2V5").is_none());
}

fn connection(config: &[(&str, &str)], secrets: &[(&str, &str)]) -> Arc<ConnectionCtx> {
    Arc::new(ConnectionCtx {
        id: "con_test".into(),
        name: "test".into(),
        webhook_url: "http://gw.test/v1/webhooks/con_test".into(),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        secrets: secrets
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect(),
        allowed_origins: vec![],
    })
}

fn request(headers: &[(&str, String)], body: &str) -> wit::WebhookRequest {
    wit::WebhookRequest {
        method: "POST".into(),
        url: "http://gw.test/v1/webhooks/con_test".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

/// A small pool: each test builds its own engine.
fn limits() -> RuntimeLimits {
    RuntimeLimits {
        max_instances: 4,
        ..RuntimeLimits::default()
    }
}

async fn load(runtime: &Arc<PluginRuntime>, source: &str, wasm: Vec<u8>) -> Arc<LoadedPlugin> {
    runtime.load(source, wasm).await.expect("plugin loads")
}

fn refused(answer: Result<wit::WebhookOutcome, wit::WebhookError>) -> String {
    match answer {
        Err(wit::WebhookError::Unauthorized(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The hostile `test-trusting` plugin accepts every callback; only what it verified through
/// the host may stand.
#[tokio::test]
async fn a_plugin_that_accepts_without_verifying_is_refused() {
    let runtime = PluginRuntime::new(limits(), None).unwrap();
    let wasm =
        std::fs::read(switchboard_test_plugins::path("trusting")).expect("test plugin built");
    let plugin = load(&runtime, "test:trusting", wasm).await;
    let conn = connection(&[], &[("api_key", "tok")]);
    let call = |headers: Vec<(&'static str, String)>| {
        let (runtime, plugin, conn) = (runtime.clone(), plugin.clone(), conn.clone());
        async move {
            runtime
                .handle_webhook(&plugin, conn, &request(&headers, "trusting-msg_1"))
                .await
                .expect("the call itself succeeds")
        }
    };

    let why = refused(call(vec![]).await);
    assert_eq!(
        why,
        "the plugin accepted the callback without verifying a signature"
    );
    // A verification that failed does not count, even if the plugin ignores its answer.
    let why = refused(call(vec![("x-trusting-token", "guess".into())]).await);
    assert!(why.contains("without verifying"), "{why}");

    // The same plugin, verified: its answer stands.
    let out = call(vec![("x-trusting-token", "tok".into())])
        .await
        .unwrap();
    assert_eq!(out.events.len(), 1);

    // The next call runs on the warm instance the verified one gave back; what that call
    // proved does not carry over.
    assert_eq!(runtime.warm_instances("con_test"), 1);
    let why = refused(call(vec![]).await);
    assert!(why.contains("without verifying"), "{why}");

    // Verified, but with a signed time ten minutes old that the plugin ignores: refused.
    let stale = (switchboard_model::clock::now_ms() - 600_000).to_string();
    let why = refused(
        call(vec![
            ("x-trusting-token", "tok".into()),
            ("x-trusting-signed-at", stale),
        ])
        .await,
    );
    assert!(why.contains("outside the 300 s replay window"), "{why}");
    let fresh = switchboard_model::clock::now_ms().to_string();
    assert!(
        call(vec![
            ("x-trusting-token", "tok".into()),
            ("x-trusting-signed-at", fresh),
        ])
        .await
        .is_ok()
    );
}

/// The bundled email plugin against SendGrid-signed events: a good signature on an old
/// timestamp is refused by the replay window, and the window is the operator's to set.
#[tokio::test]
async fn a_correctly_signed_but_old_sendgrid_event_is_refused() {
    let (_, wasm) = switchboard_bundled_plugins::PLUGINS
        .iter()
        .find(|(name, _)| *name == "email")
        .expect("bundled email plugin");
    let key = switchboard_sandbox::sendgrid_webhook_public_key();
    let conn = connection(&[("webhook_public_key", &key)], &[]);
    let body = r#"[{"event":"delivered","sg_message_id":"X.filter0001","timestamp":1}]"#;
    let signed = |age_s: i64| {
        let ts = (switchboard_model::clock::now_ms() / 1000 - age_s).to_string();
        let sig = switchboard_sandbox::sendgrid_event_signature(&ts, body.as_bytes());
        request(
            &[
                ("x-twilio-email-event-webhook-timestamp", ts),
                ("x-twilio-email-event-webhook-signature", sig),
            ],
            body,
        )
    };

    let runtime = PluginRuntime::new(limits(), None).unwrap();
    let email = load(&runtime, "bundled:email", wasm.to_vec()).await;
    let fresh = runtime
        .handle_webhook(&email, conn.clone(), &signed(5))
        .await
        .unwrap();
    assert_eq!(fresh.unwrap().events.len(), 1);
    let old = runtime
        .handle_webhook(&email, conn.clone(), &signed(600))
        .await
        .unwrap();
    assert!(refused(old).contains("replay window"));

    let wide = RuntimeLimits {
        callback_replay_window: Duration::from_secs(900),
        ..limits()
    };
    let runtime = PluginRuntime::new(wide, None).unwrap();
    let email = load(&runtime, "bundled:email", wasm.to_vec()).await;
    let old = runtime
        .handle_webhook(&email, conn, &signed(600))
        .await
        .unwrap();
    assert!(old.is_ok(), "{old:?}");
}
