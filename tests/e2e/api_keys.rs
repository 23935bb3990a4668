//! API keys: shown once, stored only as a hash, revocable at once, and each with its own
//! request rate.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Gateway;

#[tokio::test]
async fn keys_are_shown_once_hashed_at_rest_and_revocable() {
    let gw = Gateway::start("api-keys", &[]);
    // Only the operator creates workspaces.
    let (s, _) = gw
        .call(
            Method::POST,
            "/v1/workspaces",
            &gw.key,
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (ws, owner) = gw.new_workspace("Keys Inc").await;
    let (s, me) = gw.call(Method::GET, "/v1/workspace", &owner, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["id"], ws);

    let (s, created) = gw
        .call(
            Method::POST,
            "/v1/keys",
            &owner,
            Some(&json!({"name": "ci", "scopes": ["send", "read"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sk_") && secret.len() > 40);
    let (_, listed) = gw.call(Method::GET, "/v1/keys", &owner, None).await;
    assert!(!listed.to_string().contains(&secret), "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // Hashed at rest: the value is nowhere in the database file.
    let db = crate::support::database_contents(&gw.data_dir).await;
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "API key in the database"
    );

    let (s, _) = gw.call(Method::GET, "/v1/messages", &secret, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, bad) = gw
        .call(
            Method::POST,
            "/v1/keys",
            &secret,
            Some(&json!({"name": "x", "scopes": ["admin"]})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{bad}");
    let (s, bad) = gw
        .call(
            Method::POST,
            "/v1/keys",
            &owner,
            Some(&json!({"name": "x", "scopes": []})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["error"]["field"], "scopes");

    let id = created["id"].as_str().unwrap();
    assert_eq!(
        gw.call(Method::DELETE, &format!("/v1/keys/{id}"), &owner, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (s, _) = gw.call(Method::GET, "/v1/messages", &secret, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a revoked key stops at once");
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let gw = Gateway::start("key-rate", &["--rate-limit-per-key", "5"]);
    let mut limited = None;
    for _ in 0..40 {
        let r = gw
            .http()
            .get(format!("{}/v1/plugins", gw.url))
            .bearer_auth(&gw.key)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("no 429 within 40 quick requests at 5/s");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another workspace's key is not slowed by it.
    let (_, other) = gw.new_workspace("Unthrottled").await;
    let (s, _) = gw.call(Method::GET, "/v1/plugins", &other, None).await;
    assert_eq!(s, StatusCode::OK);
}
