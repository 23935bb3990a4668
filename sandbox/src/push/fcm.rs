//! Simulated Google OAuth token endpoint (`POST /token`) and FCM HTTP v1
//! (`POST /v1/projects/{project}/messages:send`).

use std::sync::Arc;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::jwt::Jwt;
use super::keys::{SANDBOX_FCM_CLIENT_EMAIL, SANDBOX_FCM_PROJECT_ID};
use super::{MAX_BODY, MAX_PAYLOAD_BYTES, Rejection, kill_of, record_base};
use crate::Shared;
use crate::faults::FaultAction;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Google's access tokens live an hour; it says 3599 to be safe.
pub const EXPIRES_IN_S: u64 = 3599;
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// A refused grant: Google answers 400 `{"error","error_description"}`.
struct OAuthError {
    error: &'static str,
    description: String,
}

fn oauth_error(error: &'static str, description: &str) -> OAuthError {
    OAuthError {
        error,
        description: description.to_owned(),
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// The token URLs this request could have been sent to: its own origin plus `/token`.
fn token_urls(headers: &HeaderMap, uri: &axum::http::Uri) -> Vec<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    host.map(|h| vec![format!("http://{h}/token"), format!("https://{h}/token")])
        .unwrap_or_default()
}

/// `POST /token`: the JWT-bearer grant of a service account.
pub(super) async fn token(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let resp = match to_bytes(body, MAX_BODY).await {
        Ok(raw) => exchange(&shared, &token_urls(&parts.headers, &parts.uri), &raw),
        Err(_) => Err(oauth_error("invalid_request", "Request body too large")),
    };
    match resp {
        Ok(r) => r,
        Err(e) => {
            shared.push.refuse_token();
            e.into_response()
        }
    }
}

fn exchange(shared: &Shared, audiences: &[String], raw: &[u8]) -> Result<Response, OAuthError> {
    let form: Vec<(String, String)> = form_urlencoded::parse(raw).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match field("grant_type") {
        Some(GRANT_TYPE) => {}
        Some(other) => {
            return Err(oauth_error(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            ));
        }
        None => {
            return Err(oauth_error(
                "invalid_request",
                "Missing required parameter: grant_type",
            ));
        }
    }
    let Some(assertion) = field("assertion") else {
        return Err(oauth_error(
            "invalid_request",
            "Missing required parameter: assertion",
        ));
    };
    let invalid = |d: &str| oauth_error("invalid_grant", d);
    let jwt = Jwt::parse(assertion).ok_or_else(|| invalid("Invalid JWT: malformed"))?;
    if jwt.header_str("alg") != Some("RS256") {
        return Err(invalid("Invalid JWT: only RS256 is accepted"));
    }
    if jwt.claim_str("iss") != Some(SANDBOX_FCM_CLIENT_EMAIL) {
        return Err(invalid("Invalid grant: account not found"));
    }
    if !jwt.verify_rs256() {
        return Err(invalid("Invalid JWT Signature."));
    }
    if !jwt
        .claim_str("aud")
        .is_some_and(|a| audiences.iter().any(|u| u == a))
    {
        return Err(invalid("Invalid JWT: Failed audience check."));
    }
    let now_s = shared.clock.now_secs();
    let timely = match (jwt.claim_u64("iat"), jwt.claim_u64("exp")) {
        // Google allows a little skew and at most an hour of validity.
        (Some(iat), Some(exp)) => {
            iat <= now_s + 60 && exp > now_s && exp > iat && exp - iat <= 3600
        }
        _ => false,
    };
    if !timely {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes = jwt.claim_str("scope").unwrap_or_default();
    if !scopes.split(' ').any(|s| s == SCOPE) {
        return Err(oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    let token = format!(
        "ya29.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 30]>())
    );
    shared
        .push
        .issue_token(token.clone(), shared.clock.now_ms() + EXPIRES_IN_S * 1000);
    Ok(Json(json!({
        "access_token": token,
        "expires_in": EXPIRES_IN_S,
        "token_type": "Bearer",
    }))
    .into_response())
}

/// Google's error envelope; `error_code` adds the FcmError detail.
pub fn fcm_error(status: u16, message: &str, error_code: Option<&str>) -> Response {
    let canonical = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        s if s >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    };
    let mut error = json!({"code": status, "message": message, "status": canonical});
    if let Some(code) = error_code {
        error["details"] = json!([{"@type": FCM_ERROR_TYPE, "errorCode": code}]);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({ "error": error }))).into_response()
}

fn rejection(status: u16, code: &str, message: &str) -> Rejection {
    Rejection {
        response: Box::new(fcm_error(status, message, Some(code))),
        outcome: code.to_owned(),
    }
}

/// An injected status in FCM's shape, with the errorCode FCM gives that status.
pub(super) fn injected(status: u16, retry_after_s: Option<u64>, _now_ms: u64) -> Rejection {
    let (code, message) = match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "THIRD_PARTY_AUTH_ERROR",
            "Auth error from APNS or Web Push Service",
        ),
        403 => ("SENDER_ID_MISMATCH", "SenderId mismatch"),
        404 => ("UNREGISTERED", "Requested entity was not found."),
        429 => (
            "QUOTA_EXCEEDED",
            "Quota exceeded for quota metric 'Send requests'.",
        ),
        503 => ("UNAVAILABLE", "The service is currently unavailable."),
        s if s >= 500 => ("INTERNAL", "Internal error encountered."),
        _ => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    };
    let mut r = rejection(status, code, message);
    if let Some(s) = retry_after_s {
        r.response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `POST /v1/projects/{project}/messages:send`.
pub(super) async fn send(
    State(shared): State<Arc<Shared>>,
    Path(project): Path<String>,
    req: Request,
) -> Response {
    let kill = kill_of(&req);
    let (parts, body) = req.into_parts();
    let raw = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let json: Option<Value> = serde_json::from_slice(&raw).ok();
    let token = json
        .as_ref()
        .and_then(|v| v.pointer("/message/token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let mut rec = record_base("fcm", &parts, &raw, token.clone());
    rec.sb_message_id = json
        .as_ref()
        .and_then(|v| v.pointer("/message/data/sb_message_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    // Authentication and the project come before faults, so a test's deliberately bad
    // credentials never consume a fault meant for the gateway.
    let live =
        bearer(&parts.headers).is_some_and(|t| shared.push.token_live(t, shared.clock.now_ms()));
    if !live {
        let r = Rejection {
            response: Box::new(fcm_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                None,
            )),
            outcome: "UNAUTHENTICATED".into(),
        };
        return super::conclude(&shared, rec, &FaultAction::default(), Some(Err(r)), None);
    }
    if project != SANDBOX_FCM_PROJECT_ID {
        let r = Rejection {
            response: Box::new(fcm_error(
                403,
                &format!(
                    "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
                ),
                None,
            )),
            outcome: "PERMISSION_DENIED".into(),
        };
        return super::conclude(&shared, rec, &FaultAction::default(), Some(Err(r)), None);
    }

    let facts: Vec<(&str, &str)> = token.as_deref().map(|t| ("to", t)).into_iter().collect();
    let now_ms = shared.clock.now_ms();
    super::answer(
        &shared,
        rec,
        &facts,
        kill,
        |_| process(&raw, json.as_ref(), &project, now_ms),
        injected,
    )
    .await
}

/// Validates the message; on success the message name and the 200 answer.
fn process(
    raw: &[u8],
    json: Option<&Value>,
    project: &str,
    now_ms: u64,
) -> Result<(String, Response), Rejection> {
    let Some(message) = json
        .and_then(|v| v.get("message"))
        .filter(|m| m.is_object())
    else {
        return Err(rejection(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received. Unknown name or missing \"message\".",
        ));
    };
    let Some(token) = message
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Err(rejection(
            400,
            "INVALID_ARGUMENT",
            "Recipient of the message is not set.",
        ));
    };
    if raw.len() > MAX_PAYLOAD_BYTES {
        return Err(rejection(400, "INVALID_ARGUMENT", "Message is too big"));
    }
    if let Some(data) = message.get("data") {
        let all_strings = data
            .as_object()
            .is_some_and(|d| d.values().all(Value::is_string));
        if !all_strings {
            return Err(rejection(
                400,
                "INVALID_ARGUMENT",
                "Invalid value at 'message.data' (Map), every value must be a string",
            ));
        }
    }
    if token.starts_with("dead") {
        return Err(rejection(
            404,
            "UNREGISTERED",
            "Requested entity was not found.",
        ));
    }
    if token.starts_with("bad") || !super::token_chars_ok(token) {
        return Err(rejection(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        ));
    }
    let name = format!(
        "projects/{project}/messages/0:{}{:03}%{:016x}",
        now_ms,
        rand::random_range(0..1000u32),
        rand::random::<u64>()
    );
    let resp = Json(json!({ "name": name })).into_response();
    Ok((name, resp))
}
