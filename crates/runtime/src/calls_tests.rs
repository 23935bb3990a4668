//! Deadlines against a real hostile plugin: a call that never returns is stopped at its
//! deadline, and gives its thread back to the executor while it runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::warm::tests::{limits, message, sms};
use crate::{ConnectionCtx, PluginRuntime, RuntimeLimits};

#[tokio::test]
async fn a_spinning_plugin_yields_its_thread_until_its_deadline() {
    // One thread runs everything here (a current-thread runtime). A `send` that never returns
    // must give the thread back as it runs, so another call finishes long before the spinning
    // one is stopped at its deadline.
    let runtime = PluginRuntime::new(
        RuntimeLimits {
            send_deadline: std::time::Duration::from_millis(1500),
            ..limits()
        },
        None,
    )
    .unwrap();
    let wasm = std::fs::read(switchboard_test_plugins::path("spin")).expect("test plugin built");
    let spin = runtime.load("test:spin", wasm).await.unwrap();
    let sms = runtime.load("bundled:sms", sms()).await.unwrap();
    let conn = Arc::new(ConnectionCtx {
        id: "con_s".into(),
        name: "s".into(),
        webhook_url: "http://gw.test/v1/webhooks/con_s".into(),
        config: BTreeMap::new(),
        secrets: BTreeMap::new(),
        allowed_origins: vec![],
    });
    let started = std::time::Instant::now();
    let spinning = {
        let (runtime, spin, conn) = (runtime.clone(), spin.clone(), conn.clone());
        tokio::spawn(async move { runtime.send(&spin, conn, &message("hi"), None).await })
    };
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let violations = runtime.validate(&sms, "con_v", &message("hello")).await;
    let other_done = started.elapsed();
    assert!(violations.unwrap().is_empty());
    let stopped = spinning.await.unwrap();
    let spun = started.elapsed();
    assert!(
        other_done < std::time::Duration::from_millis(1000),
        "the other call waited {other_done:?} for the spinning one"
    );
    let Err(err) = stopped else {
        panic!("a send that never returns was not stopped")
    };
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(
        spun >= std::time::Duration::from_millis(1400),
        "stopped after {spun:?}"
    );
}
