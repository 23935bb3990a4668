//! The network policy's sandbox transport: with it, the providers' names resolve to the
//! simulators' TLS listener and its CA is trusted; without it (every mode but `serve
//! --sandbox`), neither holds, even with the simulators' address allow-listed.

use std::sync::Arc;

use switchboard_runtime::netguard::{AllowEntry, NetPolicy, SandboxTransport, denied_in};

async fn simulators() -> switchboard_sandbox::SandboxHandle {
    switchboard_sandbox::start(
        "127.0.0.1:0".parse().unwrap(),
        switchboard_sandbox::SandboxConfig::default(),
    )
    .await
    .unwrap()
}

fn transport(sim: &switchboard_sandbox::SandboxHandle) -> SandboxTransport {
    SandboxTransport {
        hosts: switchboard_sandbox::PROVIDER_HOSTS
            .iter()
            .map(|h| h.to_string())
            .collect(),
        addr: sim.tls_addr,
        ca_pem: sim.ca_pem().to_string(),
    }
}

fn client(policy: &Arc<NetPolicy>, http2: bool) -> reqwest::Client {
    let b = policy.guard(reqwest::Client::builder().no_proxy());
    let b = if http2 { b.http2_prior_knowledge() } else { b };
    b.build().unwrap()
}

fn twilio_list() -> String {
    format!(
        "https://api.twilio.com/2010-04-01/Accounts/{}/Messages.json",
        switchboard_sandbox::SANDBOX_ACCOUNT_SID
    )
}

async fn transport_log(sim: &switchboard_sandbox::SandboxHandle) -> String {
    reqwest::get(format!("{}/_sandbox/transport", sim.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn in_sandbox_mode_the_real_names_reach_the_simulators_over_tls() {
    let sim = simulators().await;
    let policy = NetPolicy::new(Vec::new());
    policy.use_sandbox_transport(transport(&sim));

    let resp = client(&policy, false)
        .get(twilio_list())
        .basic_auth(
            switchboard_sandbox::SANDBOX_ACCOUNT_SID,
            Some(switchboard_sandbox::SANDBOX_AUTH_TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // APNs: the runtime's HTTP/2 client, over TLS, negotiates h2 by ALPN.
    let resp = client(&policy, true)
        .post("https://api.push.apple.com/3/device/abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    // Another port of the simulators' address is no provider: still a private address.
    let e = client(&policy, false)
        .get(format!(
            "http://127.0.0.1:{}/_sandbox/transport",
            sim.addr.port()
        ))
        .send()
        .await
        .unwrap_err();
    assert!(denied_in(&e).is_some(), "{e:?}");
}

#[tokio::test]
async fn outside_sandbox_mode_neither_the_names_nor_the_ca_apply() {
    let sim = simulators().await;
    // The operator even allow-lists the simulators' TLS address: the CA is still not
    // trusted, and Twilio's name is not redirected there.
    let policy = NetPolicy::new(vec![AllowEntry::parse(&sim.tls_addr.to_string()).unwrap()]);
    let e = client(&policy, false)
        .get(format!("https://localhost:{}/", sim.tls_addr.port()))
        .send()
        .await
        .unwrap_err();
    let chain = format!("{e:?}");
    assert!(
        chain.contains("UnknownIssuer"),
        "the sandbox CA is not trusted: {chain}"
    );
    let before = transport_log(&sim).await;
    // Whatever this machine's resolver makes of api.twilio.com (here, most likely nothing),
    // it is not the simulators.
    let _ = client(&policy, false)
        .get(twilio_list())
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert_eq!(
        before,
        transport_log(&sim).await,
        "a request reached the simulators by Twilio's name"
    );
}
