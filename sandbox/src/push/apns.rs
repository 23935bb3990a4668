//! Simulated APNs provider API: `POST /3/device/{token}` over HTTP/2 with token-based
//! (ES256 JWT) authentication.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::jwt::Jwt;
use super::keys::{SANDBOX_APNS_KEY_ID, SANDBOX_APNS_TEAM_ID, SANDBOX_APNS_TOPIC};
use super::{MAX_BODY, MAX_PAYLOAD_BYTES, Rejection, conclude, kill_of, record_base};
use crate::Shared;
use crate::faults::FaultAction;

/// Apple refuses provider tokens older than an hour.
pub const MAX_TOKEN_AGE_S: u64 = 3600;
/// Clock skew tolerated for an `iat` in the future.
const MAX_FUTURE_IAT_S: u64 = 300;
const PUSH_TYPES: &[&str] = &[
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "pushtotalk",
];

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A random (v4) UUID in Apple's upper-case form, for requests without `apns-id`.
fn new_apns_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The request's `apns-id` when it is a UUID, else a new one; every answer carries it.
fn apns_id_for(headers: &HeaderMap) -> String {
    header_str(headers, "apns-id")
        .filter(|id| is_uuid(id))
        .map(str::to_owned)
        .unwrap_or_else(new_apns_id)
}

fn with_id(mut resp: Response, apns_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(apns_id) {
        resp.headers_mut().insert("apns-id", v);
    }
    resp
}

/// `{"reason": ...}` (and `timestamp` for 410), with `apns-id`.
fn reject(status: u16, reason: &str, apns_id: &str, timestamp: Option<u64>) -> Rejection {
    let mut body = json!({ "reason": reason });
    if let Some(ts) = timestamp {
        body["timestamp"] = json!(ts);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Rejection {
        response: Box::new(with_id((status, Json(body)).into_response(), apns_id)),
        outcome: reason.to_owned(),
    }
}

pub(super) fn injected(status: u16, retry_after_s: Option<u64>, now_ms: u64) -> Rejection {
    let reason = match status {
        400 => "BadDeviceToken",
        403 => "InvalidProviderToken",
        404 => "BadPath",
        405 => "MethodNotAllowed",
        410 => "Unregistered",
        413 => "PayloadTooLarge",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        s if s >= 500 => "InternalServerError",
        _ => "BadDeviceToken",
    };
    // Unregistered carries the time the token stopped being valid; any past instant will do.
    let ts = (status == 410).then(|| now_ms.saturating_sub(86_400_000));
    let mut r = reject(status, reason, &new_apns_id(), ts);
    if let Some(s) = retry_after_s {
        r.response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// The provider token check; `Err` is Apple's 403 reason.
fn authenticate(headers: &HeaderMap, now_s: u64) -> Result<(), &'static str> {
    let Some(value) = header_str(headers, "authorization") else {
        return Err("MissingProviderToken");
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err("MissingProviderToken");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("MissingProviderToken");
    }
    let jwt = Jwt::parse(token).ok_or("InvalidProviderToken")?;
    let valid = jwt.header_str("alg") == Some("ES256")
        && jwt.header_str("kid") == Some(SANDBOX_APNS_KEY_ID)
        && jwt.claim_str("iss") == Some(SANDBOX_APNS_TEAM_ID)
        && jwt.verify_es256();
    if !valid {
        return Err("InvalidProviderToken");
    }
    let iat = jwt.claim_u64("iat").ok_or("InvalidProviderToken")?;
    if iat > now_s + MAX_FUTURE_IAT_S {
        return Err("InvalidProviderToken");
    }
    if now_s - iat.min(now_s) > MAX_TOKEN_AGE_S {
        return Err("ExpiredProviderToken");
    }
    Ok(())
}

/// `POST /3/device/{token}`.
pub(super) async fn send(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let kill = kill_of(&req);
    let (parts, body) = req.into_parts();
    let raw = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let mut rec = record_base("apns", &parts, &raw, Some(token.clone()));
    let json: Option<Value> = serde_json::from_slice(&raw).ok();
    rec.sb_message_id = json
        .as_ref()
        .and_then(|v| v.get("sb_message_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let apns_id = apns_id_for(&parts.headers);
    let refuse =
        |rec, r: Rejection| conclude(&shared, rec, &FaultAction::default(), Some(Err(r)), None);

    if parts.version != Version::HTTP_2 {
        let r = reject(505, "HTTP2Required", &apns_id, None);
        return refuse(rec, r);
    }
    if let Err(reason) = authenticate(&parts.headers, shared.clock.now_secs()) {
        return refuse(rec, reject(403, reason, &apns_id, None));
    }
    match header_str(&parts.headers, "apns-topic") {
        None | Some("") => return refuse(rec, reject(400, "MissingTopic", &apns_id, None)),
        Some(SANDBOX_APNS_TOPIC) => {}
        Some(_) => return refuse(rec, reject(400, "DeviceTokenNotForTopic", &apns_id, None)),
    }

    let facts = [("to", token.as_str())];
    let now_ms = shared.clock.now_ms();
    super::answer(
        &shared,
        rec,
        &facts,
        kill,
        |_| {
            process(
                &parts.headers,
                &raw,
                json.as_ref(),
                &token,
                &apns_id,
                now_ms,
            )
        },
        injected,
    )
    .await
}

fn process(
    headers: &HeaderMap,
    raw: &[u8],
    json: Option<&Value>,
    token: &str,
    apns_id: &str,
    now_ms: u64,
) -> Result<(String, Response), Rejection> {
    let bad = |reason: &str| Err(reject(400, reason, apns_id, None));
    if !super::token_chars_ok(token) || token.starts_with("bad") {
        return bad("BadDeviceToken");
    }
    if header_str(headers, "apns-id").is_some_and(|id| !is_uuid(id)) {
        return bad("BadMessageId");
    }
    if header_str(headers, "apns-push-type").is_some_and(|t| !PUSH_TYPES.contains(&t)) {
        return bad("InvalidPushType");
    }
    if header_str(headers, "apns-priority").is_some_and(|p| !matches!(p, "1" | "5" | "10")) {
        return bad("BadPriority");
    }
    if header_str(headers, "apns-expiration").is_some_and(|e| e.parse::<u64>().is_err()) {
        return bad("BadExpirationDate");
    }
    if header_str(headers, "apns-collapse-id").is_some_and(|c| c.len() > 64) {
        return bad("BadCollapseId");
    }
    if raw.is_empty() {
        return bad("PayloadEmpty");
    }
    if raw.len() > MAX_PAYLOAD_BYTES {
        return Err(reject(413, "PayloadTooLarge", apns_id, None));
    }
    // Apple has no documented reason for a payload that is not a JSON object with an `aps`
    // dictionary; the sandbox says BadPayload.
    if !json
        .and_then(|v| v.get("aps"))
        .is_some_and(Value::is_object)
    {
        return bad("BadPayload");
    }
    if token.starts_with("dead") {
        let since = now_ms.saturating_sub(86_400_000);
        return Err(reject(410, "Unregistered", apns_id, Some(since)));
    }
    let resp = with_id(
        Response::builder()
            .status(StatusCode::OK)
            .body(Body::empty())
            .unwrap_or_default(),
        apns_id,
    );
    Ok((apns_id.to_owned(), resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        let id = new_apns_id();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("8e2f1c3a-0000-4000-8000-00000000000g"));
    }
}
