//! Warm instances against real plugins: kept per connection, reused, and never after a fault.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bindings::wit;
use crate::{ConnectionCtx, PluginRuntime, RuntimeLimits};

pub(crate) fn limits() -> RuntimeLimits {
    RuntimeLimits {
        max_instances: 16,
        ..RuntimeLimits::default()
    }
}

pub(crate) fn sms() -> Vec<u8> {
    switchboard_bundled_plugins::PLUGINS
        .iter()
        .find(|(name, _)| *name == "sms")
        .expect("bundled sms plugin")
        .1
        .to_vec()
}

pub(crate) fn message(text: &str) -> wit::Message {
    let request: switchboard_model::NewMessage = serde_json::from_value(serde_json::json!({
        "channel": "sms", "to": {"phone": "+14155550100"}, "content": {"text": text}
    }))
    .expect("a message");
    crate::convert::wit_message("msg_1", "ws_1", &request, "dlv_1")
}

#[tokio::test]
async fn pure_calls_reuse_an_instance_per_connection() {
    let runtime = PluginRuntime::new(limits(), None).unwrap();
    let plugin = runtime.load("bundled:sms", sms()).await.unwrap();
    let msg = message("hello");
    for _ in 0..3 {
        let (violations, quote) = runtime.assess(&plugin, "con_a", &msg).await.unwrap();
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(quote.unwrap().unwrap().units, 1);
    }
    // Sequential calls on one connection share one instance.
    assert_eq!(runtime.warm_instances("con_a"), 1);
    // Another connection never gets it.
    runtime.validate(&plugin, "con_b", &msg).await.unwrap();
    assert_eq!(runtime.warm_instances("con_a"), 1);
    assert_eq!(runtime.warm_instances("con_b"), 1);
    // Answers on a warm instance are the plugin's own: a long text still costs more segments.
    let long = message(&"x".repeat(400));
    let quote = runtime
        .quote(&plugin, "con_a", &long)
        .await
        .unwrap()
        .unwrap();
    assert!(quote.units > 1, "{quote:?}");
    // Changed settings drop what was kept for the connection.
    runtime.forget_cached("con_a");
    assert_eq!(runtime.warm_instances("con_a"), 0);
    assert_eq!(runtime.warm_instances("con_b"), 1);
    // A reload of the plugin drops every instance of the old one.
    runtime.load("bundled:sms", sms()).await.unwrap();
    assert_eq!(runtime.warm_instances("con_b"), 0);
}

#[tokio::test]
async fn a_faulting_call_gives_no_instance_back() {
    let runtime = PluginRuntime::new(limits(), None).unwrap();
    let wasm = std::fs::read(switchboard_test_plugins::path("trap")).expect("test plugin built");
    let plugin = runtime.load("test:trap", wasm).await.unwrap();
    let err = runtime
        .validate(&plugin, "con_t", &message("hi"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("trapped"), "{err}");
    assert_eq!(runtime.warm_instances("con_t"), 0);
    let conn = Arc::new(ConnectionCtx {
        id: "con_t".into(),
        name: "t".into(),
        webhook_url: "http://gw.test/v1/webhooks/con_t".into(),
        config: BTreeMap::new(),
        secrets: BTreeMap::new(),
        allowed_origins: vec![],
    });
    let req = wit::WebhookRequest {
        method: "POST".into(),
        url: "http://gw.test/v1/webhooks/con_t".into(),
        headers: vec![],
        body: vec![],
    };
    assert!(runtime.handle_webhook(&plugin, conn, &req).await.is_err());
    assert_eq!(runtime.warm_instances("con_t"), 0);
}

#[tokio::test]
async fn sends_reuse_an_instance_with_a_fresh_budget_each_call() {
    let runtime = PluginRuntime::new(limits(), None).unwrap();
    let wasm = std::fs::read(switchboard_test_plugins::path("exfil")).expect("test plugin built");
    let plugin = runtime.load("test:exfil", wasm).await.unwrap();
    let conn = Arc::new(ConnectionCtx {
        id: "con_x".into(),
        name: "x".into(),
        webhook_url: "http://gw.test/v1/webhooks/con_x".into(),
        config: BTreeMap::new(),
        secrets: BTreeMap::from([("api_key".to_string(), crate::Secret::new("s3cret"))]),
        allowed_origins: vec![],
    });
    for round in 0..3 {
        let answer = runtime
            .send(&plugin, conn.clone(), &message("0"), None)
            .await
            .unwrap();
        let err = answer.result.unwrap_err();
        // Seven attempts against a budget of 4 requests: 4 denied, 3 over budget, on every
        // call. A budget spent by the call before would show more "BudgetExhausted".
        let denied = err
            .detail
            .matches("is not on this plugin's allow-list")
            .count();
        let over = err.detail.matches("BudgetExhausted").count();
        assert_eq!((denied, over), (4, 3), "round {round}: {}", err.detail);
        assert!(!err.detail.contains("s3cret"), "{}", err.detail);
        assert_eq!(runtime.warm_instances("con_x"), 1, "round {round}");
    }
    // New settings for the connection: the kept instance is not used for them.
    let changed = Arc::new(ConnectionCtx {
        allowed_origins: vec!["https://api.allowed.example".into()],
        ..(*conn).clone()
    });
    runtime
        .send(&plugin, changed, &message("0"), None)
        .await
        .unwrap();
    assert_eq!(runtime.warm_instances("con_x"), 1);
}

#[tokio::test]
async fn a_full_pool_takes_slots_back_from_idle_instances() {
    // Two slots, both held by idle instances of other connections: a call on a third
    // connection must still get an instance, not wait for a slot no call will free.
    let runtime = PluginRuntime::new(
        RuntimeLimits {
            max_instances: 2,
            ..RuntimeLimits::default()
        },
        None,
    )
    .unwrap();
    let plugin = runtime.load("bundled:sms", sms()).await.unwrap();
    let msg = message("hello");
    runtime.validate(&plugin, "con_a", &msg).await.unwrap();
    runtime.validate(&plugin, "con_b", &msg).await.unwrap();
    assert_eq!(
        runtime.warm_instances("con_a") + runtime.warm_instances("con_b"),
        2
    );
    let third = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        runtime.validate(&plugin, "con_c", &msg),
    )
    .await
    .expect("a call waited for a slot only an idle instance held");
    assert!(third.unwrap().is_empty());
    assert_eq!(runtime.warm_instances("con_c"), 1);
    assert_eq!(
        runtime.warm_instances("con_a") + runtime.warm_instances("con_b"),
        1
    );
}

#[tokio::test]
async fn a_call_waiting_for_a_slot_gets_one_when_the_busy_instance_is_kept() {
    // One slot, held by a busy instance. A call that starts waiting for it must not wait
    // forever when the busy call ends by keeping its instance idle instead of freeing the slot.
    let runtime = PluginRuntime::new(
        RuntimeLimits {
            max_instances: 1,
            ..RuntimeLimits::default()
        },
        None,
    )
    .unwrap();
    let plugin = runtime.load("bundled:sms", sms()).await.unwrap();
    let deadline = std::time::Duration::from_secs(1);
    let busy = runtime
        .checkout(&plugin, "con_a", None, crate::warm::Kind::Pure, deadline)
        .await
        .unwrap();
    let waiting = {
        let (runtime, plugin) = (runtime.clone(), plugin.clone());
        tokio::spawn(async move { runtime.validate(&plugin, "con_b", &message("hello")).await })
    };
    // Let the second call find the pool full and start waiting.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    runtime.warm.give_back(busy);
    assert_eq!(runtime.warm_instances("con_a"), 1);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("the waiting call never got the slot the idle instance kept")
        .unwrap()
        .unwrap();
    assert!(answer.is_empty());
    assert_eq!(
        runtime.warm_instances("con_a"),
        0,
        "evicted for the waiting call"
    );
}
