//! FCM HTTP v1: the service-account OAuth exchange (cached access token) and
//! `POST /v1/projects/{project}/messages:send`, with FCM's error codes mapped.

use serde::Deserialize;
use serde_json::json;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::secrets::SignatureAlgorithm;

use crate::payload::{self, Options};
use crate::{dead_token, jwt};

pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const PRIVATE_KEY_SECRET: &str = "fcm_private_key";
/// Google accepts assertions valid for at most an hour.
const ASSERTION_LIFETIME_S: u64 = 3600;
/// A cached access token is dropped this long before Google says it expires, so a token
/// never expires between the cache read and the send.
pub const TOKEN_SAFETY_MARGIN_S: u64 = 60;
/// FCM asks for at least a minute of back-off after QUOTA_EXCEEDED.
pub const QUOTA_MIN_BACKOFF_MS: u64 = 60_000;

/// The settings an Android send needs.
#[derive(Debug, Clone)]
pub struct FcmConfig {
    pub project_id: String,
    pub client_email: String,
    pub token_uri: String,
    pub base_url: String,
}

fn setting(key: &str, default: &str) -> String {
    config::get(key)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into())
}

/// The connection's FCM settings, or why it cannot send to Android.
pub fn load_config() -> Result<FcmConfig, SendError> {
    let missing = |key: &str| {
        let mut e = SendError::misconfigured(key);
        e.detail = format!(
            "this connection is not configured for android (FCM): {}",
            e.detail
        );
        e
    };
    let get = |key: &str| {
        config::get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(key))
    };
    let project_id = get("fcm_project_id")?;
    let client_email = get("fcm_client_email")?;
    if !secrets::has(PRIVATE_KEY_SECRET) {
        return Err(missing(PRIVATE_KEY_SECRET));
    }
    Ok(FcmConfig {
        project_id,
        client_email,
        token_uri: setting("fcm_token_uri", DEFAULT_TOKEN_URI),
        base_url: setting("fcm_base_url", DEFAULT_BASE_URL)
            .trim_end_matches('/')
            .into(),
    })
}

/// The service-account JWT exchanged for an access token.
pub fn assertion(cfg: &FcmConfig, now_s: u64) -> Result<String, SendError> {
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({
        "iss": cfg.client_email,
        "scope": SCOPE,
        "aud": cfg.token_uri,
        "iat": now_s,
        "exp": now_s + ASSERTION_LIFETIME_S,
    });
    jwt::sign(
        SignatureAlgorithm::Rs256,
        PRIVATE_KEY_SECRET,
        &header,
        &claims,
    )
}

/// Per service account, so a connection whose account changes never reuses the old token.
pub fn cache_key(cfg: &FcmConfig) -> String {
    format!("fcm_access_token:{}", cfg.client_email)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A cached access token, or a fresh one from the token endpoint.
pub fn access_token(cfg: &FcmConfig) -> Result<String, SendError> {
    if let Some(t) = cache::get(&cache_key(cfg))
        .and_then(|v| String::from_utf8(v).ok())
        .filter(|t| !t.is_empty())
    {
        return Ok(t);
    }
    let now_s = clock::now_ms() / 1000;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion(cfg, now_s)?)
        .finish();
    let resp =
        http::send(Request::post(&cfg.token_uri).form_body(form)).map_err(SendError::from_http)?;
    if !resp.is_success() {
        return Err(map_token_error(&resp));
    }
    let token: TokenResponse = serde_json::from_slice(&resp.body).map_err(|e| {
        SendError::retryable(
            FailureReason::ProviderError,
            None,
            None,
            format!("unreadable token endpoint answer: {e}"),
        )
    })?;
    let lifetime_s = token
        .expires_in
        .unwrap_or(3600)
        .saturating_sub(TOKEN_SAFETY_MARGIN_S);
    if lifetime_s > 0 {
        cache::set(
            &cache_key(cfg),
            token.access_token.as_bytes(),
            lifetime_s * 1000,
        );
    }
    Ok(token.access_token)
}

/// Forget a token the provider rejected; the cache has no delete, so it expires at once.
pub fn drop_token(cfg: &FcmConfig) {
    cache::set(&cache_key(cfg), b"", 0);
}

/// Errors of the token endpoint: a rejected grant is a configuration problem.
pub fn map_token_error(resp: &Response) -> SendError {
    let parsed = serde_json::from_slice::<TokenError>(&resp.body).ok();
    let code = parsed.as_ref().map(|e| e.error.clone());
    let detail = match &parsed {
        Some(e) => format!(
            "FCM token exchange refused: {}{}",
            e.error,
            e.error_description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
        None => format!("FCM token exchange failed: HTTP {}", resp.status),
    };
    match resp.status {
        429 => SendError::retryable(
            FailureReason::RateLimited,
            code,
            resp.retry_after_ms(),
            detail,
        ),
        s if s >= 500 => SendError::retryable(
            FailureReason::ProviderTransient,
            code,
            resp.retry_after_ms(),
            detail,
        ),
        _ => SendError::permanent(FailureReason::PermissionDenied, code, detail),
    }
}

pub fn build_request(cfg: &FcmConfig, body: Vec<u8>, access_token: &str) -> Request {
    let url = format!(
        "{}/v1/projects/{}/messages:send",
        cfg.base_url, cfg.project_id
    );
    Request::post(url)
        .header("authorization", format!("Bearer {access_token}"))
        .json_body(body)
}

#[derive(Deserialize)]
struct SendOk {
    name: String,
}

pub fn send(msg: &Message, token: &str, opts: &Options) -> Result<Sent, SendError> {
    let cfg = load_config()?;
    let body = payload::body_bytes(payload::Platform::Android, msg, token, opts);
    let mut resp = http::send(build_request(&cfg, body.clone(), &access_token(&cfg)?))
        .map_err(SendError::from_http)?;
    // A 401 other than THIRD_PARTY_AUTH_ERROR is our access token (revoked, or expired
    // early): one fresh token, one more try.
    if resp.status == 401 && error_code(&resp).0.as_deref() != Some("THIRD_PARTY_AUTH_ERROR") {
        drop_token(&cfg);
        resp = http::send(build_request(&cfg, body, &access_token(&cfg)?))
            .map_err(SendError::from_http)?;
    }
    if resp.is_success() {
        let ok: SendOk = serde_json::from_slice(&resp.body).map_err(|e| {
            SendError::retryable(
                FailureReason::ProviderError,
                None,
                None,
                format!("unreadable FCM answer: {e}"),
            )
        })?;
        return Ok(Sent {
            provider_message_id: ok.name,
        });
    }
    Err(map_error(&resp))
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

/// FCM's `errorCode` from `error.details[]`, else the canonical `error.status`; and the message.
pub fn error_code(resp: &Response) -> (Option<String>, String) {
    let Ok(env) = serde_json::from_slice::<Envelope>(&resp.body) else {
        return (None, format!("HTTP {}", resp.status));
    };
    let code = env
        .error
        .details
        .iter()
        .find_map(|d| d.get("errorCode").and_then(|c| c.as_str()))
        .map(str::to_owned)
        .or(env.error.status);
    let detail = env
        .error
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    (code, detail)
}

pub fn map_error(resp: &Response) -> SendError {
    use FailureReason as R;
    let (code, message) = error_code(resp);
    let detail = match &code {
        Some(c) => format!("FCM {c}: {message}"),
        None => format!("FCM: {message}"),
    };
    let retry_after = resp.retry_after_ms();
    match code.as_deref() {
        Some("UNREGISTERED") => dead_token(code, detail),
        Some("SENDER_ID_MISMATCH") => dead_token(
            code,
            format!("{detail} (the token belongs to another sender)"),
        ),
        Some("INVALID_ARGUMENT") => SendError::permanent(R::InvalidFormat, code, detail),
        Some("THIRD_PARTY_AUTH_ERROR") => SendError::permanent(
            R::PermissionDenied,
            code,
            format!("{detail} (check the APNs/web push credentials in the Firebase project)"),
        ),
        Some("UNAUTHENTICATED" | "PERMISSION_DENIED") => {
            SendError::permanent(R::PermissionDenied, code, detail)
        }
        Some("QUOTA_EXCEEDED" | "RESOURCE_EXHAUSTED") => SendError::retryable(
            R::RateLimited,
            code,
            Some(retry_after.unwrap_or(0).max(QUOTA_MIN_BACKOFF_MS)),
            detail,
        ),
        Some("INTERNAL" | "UNAVAILABLE") => {
            SendError::retryable(R::ProviderTransient, code, retry_after, detail)
        }
        _ => match resp.status {
            429 => SendError::retryable(
                R::RateLimited,
                code,
                Some(retry_after.unwrap_or(0).max(QUOTA_MIN_BACKOFF_MS)),
                detail,
            ),
            s if s >= 500 => SendError::retryable(R::ProviderTransient, code, retry_after, detail),
            400 => SendError::permanent(R::InvalidFormat, code, detail),
            401 | 403 => SendError::permanent(R::PermissionDenied, code, detail),
            _ => SendError::permanent(R::ProviderError, code, detail),
        },
    }
}
