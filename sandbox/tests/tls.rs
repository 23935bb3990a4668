//! The TLS listener: the providers' real host names resolved to the sandbox, its start-up CA
//! trusted, HTTP/2 or HTTP/1.1 by ALPN, the transport log, and faults that drop connections.

mod common;
#[allow(dead_code)]
#[path = "push/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::{Method, Version};
use serde_json::{Value, json};
use switchboard_sandbox::{
    PROVIDER_HOSTS, SANDBOX_ACCOUNT_SID, SANDBOX_APNS_TOPIC, SANDBOX_AUTH_TOKEN,
    SANDBOX_FCM_CLIENT_EMAIL, SANDBOX_FCM_PRIVATE_KEY_PEM, SANDBOX_FROM_NUMBER,
    SANDBOX_MESSENGER_PAGES, SandboxConfig, SandboxHandle,
};

use crate::common::{client, client_builder, control, control_expect, start_sandbox};
use crate::harness::{apns_body, apns_jwt, now_secs, rs256_jwt};

const TWILIO_MESSAGES: &str =
    "https://api.twilio.com/2010-04-01/Accounts/AC5a4db0c0ffee0000000000000000000b/Messages.json";

/// A client as the gateway will build one in sandbox mode: real host names resolved to the
/// TLS listener, the sandbox CA trusted. HTTP/2 is offered by ALPN, never assumed.
fn tls_builder(sb: &SandboxHandle) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(sb.ca_pem().as_bytes()).unwrap();
    let mut builder = client_builder().add_root_certificate(ca);
    for host in PROVIDER_HOSTS {
        builder = builder.resolve(host, sb.tls_addr);
    }
    builder
}

fn tls_client(sb: &SandboxHandle) -> reqwest::Client {
    tls_builder(sb).build().unwrap()
}

fn twilio_send(http: &reqwest::Client) -> reqwest::RequestBuilder {
    http.post(TWILIO_MESSAGES)
        .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
        .form(&[
            ("To", "+15558675310"),
            ("From", SANDBOX_FROM_NUMBER),
            ("Body", "over TLS"),
        ])
}

fn apns_push(http: &reqwest::Client, token: &str) -> reqwest::RequestBuilder {
    http.post(format!("https://api.push.apple.com/3/device/{token}"))
        .header("authorization", format!("bearer {}", apns_jwt()))
        .header("apns-topic", SANDBOX_APNS_TOPIC)
        .header("apns-push-type", "alert")
        .json(&apns_body("msg_tls"))
}

async fn transport(sb: &SandboxHandle) -> Vec<Value> {
    let rows = control(&client(), &sb.base_url(), Method::GET, "transport", None).await;
    rows.as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Value], host: &str, tls: bool) -> Option<&'a Value> {
    rows.iter().find(|r| r["host"] == host && r["tls"] == tls)
}

#[tokio::test]
async fn twilio_and_apns_answer_on_their_real_host_names() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let http = tls_client(&sb);

    let resp = twilio_send(&http).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    // Twilio's `uri` is relative on the real API too, so it needs no host.
    assert!(body["uri"].as_str().unwrap().starts_with("/2010-04-01/"));

    // No prior knowledge: the client offers h2 and http/1.1, and ALPN settles on h2.
    let resp = apns_push(&http, "a1b2c3").send().await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::OK);

    let rows = transport(&sb).await;
    let apns = row(&rows, "api.push.apple.com", true).unwrap();
    assert_eq!(apns["http_version"], "HTTP/2.0");
    assert_eq!(apns["path_prefix"], "/3/device");
    assert_eq!(apns["count"], 1);
    let twilio = row(&rows, "api.twilio.com", true).unwrap();
    assert_eq!(twilio["path_prefix"], "/2010-04-01/Accounts");
    assert_eq!(twilio["count"], 1);
    // Only the two provider requests: the control API's own traffic is not recorded.
    assert_eq!(rows.len(), 2, "{rows:?}");

    control(&client(), &sb.base_url(), Method::POST, "reset", None).await;
    assert!(transport(&sb).await.is_empty());
}

#[tokio::test]
async fn http1_clients_get_http1_and_the_plain_listener_is_recorded_too() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let h1 = tls_builder(&sb).http1_only().build().unwrap();
    let resp = apns_push(&h1, "a1b2c3").send().await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["reason"],
        "HTTP2Required"
    );
    assert_eq!(
        twilio_send(&h1).send().await.unwrap().status(),
        StatusCode::CREATED
    );

    let plain = format!(
        "{}/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json",
        sb.base_url()
    );
    let resp = client()
        .post(plain)
        .basic_auth(SANDBOX_ACCOUNT_SID, Some(SANDBOX_AUTH_TOKEN))
        .form(&[
            ("To", "+15558675310"),
            ("From", SANDBOX_FROM_NUMBER),
            ("Body", "plain"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    let rows = transport(&sb).await;
    let apns = row(&rows, "api.push.apple.com", true).unwrap();
    assert_eq!(apns["http_version"], "HTTP/1.1");
    let twilio = row(&rows, "api.twilio.com", true).unwrap();
    assert_eq!(twilio["http_version"], "HTTP/1.1");
    let local = row(&rows, "127.0.0.1", false).unwrap();
    assert_eq!(
        (&local["http_version"], local["count"].as_u64()),
        (&json!("HTTP/1.1"), Some(1))
    );
}

#[tokio::test]
async fn every_provider_host_is_certified_and_no_other() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let http = tls_client(&sb);
    for host in PROVIDER_HOSTS {
        let resp = http
            .get(format!("https://{host}/_sandbox/echo"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(resp.status(), StatusCode::OK, "{host}");
    }
    let stranger = tls_builder(&sb)
        .resolve("api.example.com", sb.tls_addr)
        .build()
        .unwrap();
    let err = stranger
        .get("https://api.example.com/_sandbox/echo")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");

    // A client outside sandbox mode can fetch what it needs from the control API.
    let tls = control(&client(), &sb.base_url(), Method::GET, "tls", None).await;
    assert_eq!(tls["addr"], sb.tls_addr.to_string());
    assert_eq!(tls["ca_pem"], sb.ca_pem());
    assert_eq!(tls["hosts"], json!(PROVIDER_HOSTS));
    assert!(sb.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails_the_handshake() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let untrusting = client_builder()
        .resolve("api.twilio.com", sb.tls_addr)
        .build()
        .unwrap();
    let err = twilio_send(&untrusting).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // Another start makes another CA: trusting an old one does not help.
    let other = start_sandbox(SandboxConfig::default()).await;
    assert_ne!(other.ca_pem(), sb.ca_pem());
    let stale = tls_builder(&other)
        .resolve("api.twilio.com", sb.tls_addr)
        .build()
        .unwrap();
    assert!(twilio_send(&stale).send().await.unwrap_err().is_connect());
    assert!(transport(&sb).await.is_empty());
}

#[tokio::test]
async fn a_reset_fault_over_tls_drops_the_connection() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let control_http = client();
    let rule = json!({"channel": "sms", "times": 2, "action": {"reset": true}});
    control_expect(
        &control_http,
        &sb.base_url(),
        Method::POST,
        "faults",
        Some(&rule),
        StatusCode::CREATED,
    )
    .await;
    // Over HTTP/2 and over HTTP/1.1: a connection error each time, never a response.
    for http in [
        tls_client(&sb),
        tls_builder(&sb).http1_only().build().unwrap(),
    ] {
        let err = twilio_send(&http).send().await.unwrap_err();
        assert!(err.is_request() || err.is_connect(), "{err:?}");
        assert!(err.status().is_none());
    }
    // Both reached the simulator and were dropped by the rule, not lost in the handshake.
    let rules = control(&control_http, &sb.base_url(), Method::GET, "faults", None).await;
    assert_eq!(rules[0]["hits"], 2, "{rules}");
    let resp = twilio_send(&tls_client(&sb)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let msgs = control(
        &control_http,
        &sb.base_url(),
        Method::GET,
        "sms/messages",
        None,
    )
    .await;
    assert_eq!(msgs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn shutdown_releases_a_request_held_over_tls() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let rule = json!({"channel": "sms", "times": 1, "action": {"timeout": true}});
    control_expect(
        &client(),
        &sb.base_url(),
        Method::POST,
        "faults",
        Some(&rule),
        StatusCode::CREATED,
    )
    .await;
    let http = tls_client(&sb);
    let held = tokio::spawn(async move { twilio_send(&http).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished());
    let started = Instant::now();
    sb.shutdown().await;
    // Well under the 2 s grace after which the server would be aborted instead.
    assert!(started.elapsed() < Duration::from_millis(1500));
    let outcome = tokio::time::timeout(Duration::from_secs(2), held)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
}

#[tokio::test]
async fn absolute_urls_name_the_host_the_client_used() {
    let sb = start_sandbox(SandboxConfig::default()).await;
    let page = &SANDBOX_MESSENGER_PAGES[0];
    let seed = json!({"page_id": page.id, "count": 3, "messages_per_conversation": 1});
    control(
        &client(),
        &sb.base_url(),
        Method::POST,
        "messenger/conversations",
        Some(seed),
    )
    .await;
    let path = format!("/v21.0/{}/conversations?limit=1", page.id);
    let next = |body: Value| body["paging"]["next"].as_str().unwrap().to_owned();

    let over_tls: Value = tls_client(&sb)
        .get(format!("https://graph.facebook.com{path}"))
        .bearer_auth(page.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = next(over_tls);
    let prefix = format!(
        "https://graph.facebook.com/v21.0/{}/conversations?",
        page.id
    );
    assert!(link.starts_with(&prefix), "{link}");

    let plain: Value = client()
        .get(format!("{}{path}", sb.base_url()))
        .bearer_auth(page.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = next(plain);
    assert!(
        link.starts_with(&format!("http://{}/v21.0/", sb.addr)),
        "{link}"
    );

    // Google's token endpoint takes the real audience over HTTP/2, which has no Host header.
    let now = now_secs();
    let assertion = rs256_jwt(
        SANDBOX_FCM_PRIVATE_KEY_PEM,
        json!({"iss": SANDBOX_FCM_CLIENT_EMAIL,
               "scope": "https://www.googleapis.com/auth/firebase.messaging",
               "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600}),
    );
    let resp = tls_client(&sb)
        .post("https://oauth2.googleapis.com/token")
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::OK);
}
