//! APNs over HTTP/2: the ES256 provider token (cached for 40 minutes), the request headers and
//! `POST /3/device/{token}`, with Apple's `reason` codes mapped.

use serde::Deserialize;
use serde_json::json;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::secrets::SignatureAlgorithm;

use crate::payload::{self, Options, Priority};
use crate::{dead_token, jwt};

pub const DEFAULT_BASE_URL: &str = "https://api.push.apple.com";
pub const PRIVATE_KEY_SECRET: &str = "apns_private_key";
/// Apple wants a provider token refreshed between 20 and 60 minutes of age; 40 leaves room on
/// both sides for clock skew.
pub const JWT_TTL_MS: u64 = 40 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct ApnsConfig {
    pub team_id: String,
    pub key_id: String,
    pub topic: String,
    pub base_url: String,
}

/// The connection's APNs settings, or why it cannot send to iOS.
pub fn load_config() -> Result<ApnsConfig, SendError> {
    let missing = |key: &str| {
        let mut e = SendError::misconfigured(key);
        e.detail = format!(
            "this connection is not configured for ios (APNs): {}",
            e.detail
        );
        e
    };
    let get = |key: &str| {
        config::get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(key))
    };
    let team_id = get("apns_team_id")?;
    let key_id = get("apns_key_id")?;
    let topic = get("apns_topic")?;
    if !secrets::has(PRIVATE_KEY_SECRET) {
        return Err(missing(PRIVATE_KEY_SECRET));
    }
    let base_url = config::get("apns_base_url")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into())
        .trim_end_matches('/')
        .to_owned();
    Ok(ApnsConfig {
        team_id,
        key_id,
        topic,
        base_url,
    })
}

pub fn cache_key(cfg: &ApnsConfig) -> String {
    format!("apns_jwt:{}:{}", cfg.team_id, cfg.key_id)
}

/// A signed provider token, without the cache.
pub fn provider_token(cfg: &ApnsConfig, now_s: u64) -> Result<String, SendError> {
    let header = json!({"alg": "ES256", "kid": cfg.key_id});
    let claims = json!({"iss": cfg.team_id, "iat": now_s});
    jwt::sign(
        SignatureAlgorithm::Es256,
        PRIVATE_KEY_SECRET,
        &header,
        &claims,
    )
}

/// The cached provider token, or a newly signed (and cached) one.
pub fn cached_provider_token(cfg: &ApnsConfig) -> Result<String, SendError> {
    if let Some(t) = cache::get(&cache_key(cfg))
        .and_then(|v| String::from_utf8(v).ok())
        .filter(|t| !t.is_empty())
    {
        return Ok(t);
    }
    let token = provider_token(cfg, clock::now_ms() / 1000)?;
    cache::set(&cache_key(cfg), token.as_bytes(), JWT_TTL_MS);
    Ok(token)
}

pub fn drop_provider_token(cfg: &ApnsConfig) {
    cache::set(&cache_key(cfg), b"", 0);
}

/// Every header but `authorization`, in the order they are sent.
pub fn headers(
    cfg: &ApnsConfig,
    msg: &Message,
    opts: &Options,
    now_s: u64,
) -> Vec<(String, String)> {
    let alert = payload::is_alert(&msg.content);
    // Apple requires priority 5 for background pushes; an alert may ask for 5 to save power.
    let priority = if !alert || opts.priority == Some(Priority::Normal) {
        "5"
    } else {
        "10"
    };
    let expiration = match opts.ttl_s {
        Some(ttl) if ttl > 0 => (now_s + ttl).to_string(),
        _ => "0".into(),
    };
    let mut h = vec![
        ("apns-topic".to_owned(), cfg.topic.clone()),
        (
            "apns-push-type".to_owned(),
            if alert { "alert" } else { "background" }.to_owned(),
        ),
        ("apns-priority".to_owned(), priority.to_owned()),
        ("apns-expiration".to_owned(), expiration),
        ("apns-id".to_owned(), jwt::uuid_v5(&msg.idempotency_key)),
    ];
    if let Some(c) = &opts.collapse_id {
        h.push(("apns-collapse-id".to_owned(), c.clone()));
    }
    h
}

pub fn build_request(
    cfg: &ApnsConfig,
    device_token: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    jwt: &str,
) -> Request {
    let mut req = Request::post(format!("{}/3/device/{device_token}", cfg.base_url))
        .http2()
        .header("authorization", format!("bearer {jwt}"));
    for (k, v) in headers {
        req = req.header(k, v.clone());
    }
    req.json_body(body)
}

pub fn send(msg: &Message, device_token: &str, opts: &Options) -> Result<Sent, SendError> {
    let cfg = load_config()?;
    let body = payload::body_bytes(payload::Platform::Ios, msg, device_token, opts);
    let headers = headers(&cfg, msg, opts, clock::now_ms() / 1000);
    let jwt = cached_provider_token(&cfg)?;
    let mut resp = http::send(build_request(
        &cfg,
        device_token,
        &headers,
        body.clone(),
        &jwt,
    ))
    .map_err(SendError::from_http)?;
    if resp.status == 403 && reason(&resp).0.as_deref() == Some("ExpiredProviderToken") {
        drop_provider_token(&cfg);
        let jwt = cached_provider_token(&cfg)?;
        resp = http::send(build_request(&cfg, device_token, &headers, body, &jwt))
            .map_err(SendError::from_http)?;
    }
    if resp.is_success() {
        // Apple echoes the apns-id we sent (or one it made up); ours is the fallback.
        let id = resp
            .header("apns-id")
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| jwt::uuid_v5(&msg.idempotency_key));
        return Ok(Sent {
            provider_message_id: id,
        });
    }
    Err(map_error(&resp))
}

#[derive(Deserialize)]
struct ErrorBody {
    reason: String,
    #[serde(default)]
    timestamp: Option<u64>,
}

/// Apple's `reason` and, for 410, the `timestamp` (ms) since when the token is invalid.
pub fn reason(resp: &Response) -> (Option<String>, Option<u64>) {
    // JSON is UTF-8; serde_json checks that only in the fields it keeps, so a body with bad
    // bytes in a field it skips would still be read. Such a body is not APNs'.
    let Ok(text) = std::str::from_utf8(&resp.body) else {
        return (None, None);
    };
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(b) => (Some(b.reason), b.timestamp),
        Err(_) => (None, None),
    }
}

pub fn map_error(resp: &Response) -> SendError {
    use FailureReason as R;
    let (code, timestamp) = reason(resp);
    let detail = format!(
        "APNs {} {}",
        resp.status,
        code.as_deref().unwrap_or("(no reason)")
    );
    let retry_after = resp.retry_after_ms();
    match (resp.status, code.as_deref()) {
        (410, _) | (400, Some("BadDeviceToken")) => {
            let since = timestamp
                .map(|t| format!(" (invalid since {t} ms)"))
                .unwrap_or_default();
            dead_token(code, format!("{detail}{since}"))
        }
        (400, Some("DeviceTokenNotForTopic")) => {
            dead_token(code, format!("{detail} (the token belongs to another app)"))
        }
        (400, Some("TopicDisallowed")) | (403, _) => {
            SendError::permanent(R::PermissionDenied, code, detail)
        }
        (400 | 413, _) => SendError::permanent(R::InvalidFormat, code, detail),
        (429, _) => SendError::retryable(R::RateLimited, code, retry_after, detail),
        // The request did not go out over HTTP/2 (the host or a proxy downgraded it): the
        // same again would fail the same way.
        (505, _) => SendError::permanent(
            R::ProviderError,
            code,
            format!("{detail}: APNs only speaks HTTP/2"),
        ),
        (s, _) if s >= 500 => SendError::retryable(R::ProviderTransient, code, retry_after, detail),
        _ => SendError::permanent(R::ProviderError, code, detail),
    }
}
