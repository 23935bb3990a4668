//! Plugin call overhead: instantiate a fresh sandboxed instance of the bundled SMS plugin
//! from its InstancePre and call one export, the way every request does.
//!
//! `cargo bench -p switchboard --bench plugin_call`

use std::time::{Duration, Instant};

use switchboard_gateway::model::{Content, NewMessage, Recipient};
use switchboard_gateway::runtime::{PluginRuntime, RuntimeLimits, convert};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<28} n={:<6} median={:>8.1?} p99={:>8.1?} mean={:>8.1?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        mean
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cache =
        std::env::temp_dir().join(format!("switchboard-bench-cache-{}", std::process::id()));
    let runtime = PluginRuntime::new(RuntimeLimits::default(), Some(cache.clone()))?;
    let (_, wasm) = switchboard_bundled_plugins::PLUGINS
        .iter()
        .find(|(n, _)| *n == "sms")
        .expect("bundled sms plugin");

    let t = Instant::now();
    let plugin = runtime.load("bundled:sms", wasm.to_vec()).await?;
    println!("allocator: {}", runtime.allocator());
    println!(
        "load (compile {} KiB component): {:.1?}",
        wasm.len() / 1024,
        t.elapsed()
    );
    let t = Instant::now();
    runtime.load("bundled:sms", wasm.to_vec()).await?;
    println!("load again (from artifact cache): {:.1?}", t.elapsed());

    let request = NewMessage {
        channel: "sms".into(),
        to: Recipient {
            phone: Some("+14155550100".into()),
            country: Some("US".into()),
            ..Default::default()
        },
        content: Content {
            text: Some("Your verification code is 123456".into()),
            ..Default::default()
        },
        category: Default::default(),
        metadata: Default::default(),
        options: Default::default(),
        connection: None,
        policy: None,
        from: None,
    };
    let msg = convert::wit_message("msg_bench", "ws_bench", &request, "dlv_bench");

    for _ in 0..500 {
        runtime.quote(&plugin, "con_bench", &msg).await?.ok();
    }
    let n = 20_000;
    let mut quote = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let q = runtime.quote(&plugin, "con_bench", &msg).await?;
        quote.push(t.elapsed());
        assert!(q.is_ok());
    }
    report("instantiate + quote", quote);
    let mut validate = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let v = runtime.validate(&plugin, "con_bench", &msg).await?;
        validate.push(t.elapsed());
        assert!(v.is_empty());
    }
    report("instantiate + validate", validate);
    let _ = std::fs::remove_dir_all(cache);
    Ok(())
}
