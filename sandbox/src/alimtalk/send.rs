//! `POST /messages/v4/send`: authentication, fault injection, validation and the outcome.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Uri;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::reports::{self, Accepted, status_message};
use super::state::Received;
use super::{SANDBOX_ALIMTALK_API_KEY, SANDBOX_ALIMTALK_API_SECRET, auth, templates, time};
use crate::Shared;
use crate::conn::ConnKill;
use crate::faults::{Answer, FaultAction};

/// Bounds memory; an AlimTalk body is a few kilobytes.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
const OUTSIDE_HOURS: &str = "3108";

/// The answer to a send: HTTP status, JSON body and what to record about it.
struct Outcome {
    http: StatusCode,
    body: Value,
    status_code: Option<String>,
    message_id: Option<String>,
}

impl Outcome {
    /// Solapi's HTTP error envelope.
    fn error(http: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            http,
            body: json!({ "errorCode": code, "errorMessage": message.into() }),
            status_code: None,
            message_id: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::error(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    fn message(body: Value) -> Self {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            http: StatusCode::OK,
            status_code: s("statusCode"),
            message_id: s("messageId"),
            body,
        }
    }
}

/// The magic recipient numbers and the failure each stands for.
pub fn magic_failure(to: &str) -> Option<&'static str> {
    Some(match to {
        "01000003104" => "3104",
        "01000003107" => "3107",
        "01000001030" => "1030",
        "01000001061" => "1061",
        _ => return None,
    })
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..15)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub(super) async fn send(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let now = shared.clock.now_ms();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let raw = to_bytes(body, MAX_REQUEST_BODY).await.unwrap_or_default();
    let json: Option<Value> = serde_json::from_slice(&raw).ok();
    let mut rec = Received {
        seq: 0,
        received_at_ms: now,
        headers,
        body: String::from_utf8_lossy(&raw).into_owned(),
        http_status: None,
        response: Value::Null,
        status_code: None,
        message_id: None,
        fault_id: None,
        reports: Vec::new(),
    };

    // Authentication before faults, so a test's deliberately bad signature never consumes a
    // fault meant for the gateway.
    if let Err(e) = authenticate(&shared, &parts.headers, now) {
        return answer(&shared, rec, e);
    }

    let to = json
        .as_ref()
        .and_then(|j| j.pointer("/message/to"))
        .and_then(Value::as_str);
    let facts: Vec<(&str, &str)> = to.map(|to| ("to", to)).into_iter().collect();
    let action = match shared.faults.take(super::CHANNEL.name, &facts) {
        Some(applied) => {
            rec.fault_id = Some(applied.rule_id);
            applied.action
        }
        None => FaultAction::default(),
    };
    if let Some(ms) = action.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let processed = action
        .processes_request()
        .then(|| process(&shared, json.as_ref(), &action, now));
    match action.answer() {
        Answer::Normal => {
            let outcome = processed.unwrap_or_else(|| {
                Outcome::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "internal error",
                )
            });
            answer(&shared, rec, outcome)
        }
        Answer::Error {
            status,
            retry_after_s,
            ..
        } => {
            if let Some(p) = processed {
                // An `accept` fault: the message exists, only the answer is lost.
                rec.message_id = p.message_id;
                rec.status_code = p.status_code;
            }
            let http = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let code = match status {
                429 => "TooManyRequests",
                401 => "Unauthorized",
                403 => "Forbidden",
                500 => "InternalError",
                s if s > 500 => "ServiceUnavailable",
                _ => "BadRequest",
            };
            let mut resp = answer(&shared, rec, Outcome::error(http, code, "injected fault"));
            if status == 429 {
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_s.unwrap_or(1)),
                );
            }
            resp
        }
        Answer::Timeout | Answer::Reset => {
            if let Some(p) = processed {
                rec.message_id = p.message_id;
                rec.status_code = p.status_code;
            }
            shared.alimtalk.record(rec);
            if action.answer() == Answer::Timeout {
                shared.hold().await;
            }
            crate::drop_connection(kill.as_ref())
        }
    }
}

/// Solapi's request authentication, shared by every API route: key, date window, signature,
/// then the `(date, salt)` replay check.
fn authenticate(shared: &Shared, headers: &HeaderMap, now: u64) -> Result<(), Outcome> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth_error = match auth::verify(
        authorization,
        SANDBOX_ALIMTALK_API_KEY,
        SANDBOX_ALIMTALK_API_SECRET,
        now,
    ) {
        Err(e) => Some(e),
        Ok((p, date_ms)) if !shared.alimtalk.first_use(&p.date, &p.salt, date_ms, now) => {
            Some(auth::AuthError::DuplicatedSignature)
        }
        Ok(_) => None,
    };
    match auth_error {
        None => Ok(()),
        Some(e) => {
            let http = if e == auth::AuthError::Missing {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            Err(Outcome::error(http, e.code(), e.message()))
        }
    }
}

/// Records the request with its answer and builds the HTTP response.
fn answer(shared: &Shared, mut rec: Received, outcome: Outcome) -> Response {
    rec.http_status = Some(outcome.http.as_u16());
    rec.response = outcome.body.clone();
    rec.status_code = outcome.status_code.or(rec.status_code);
    rec.message_id = outcome.message_id.or(rec.message_id);
    shared.alimtalk.record(rec);
    (outcome.http, Json(outcome.body)).into_response()
}

/// The fields of a valid ATA send.
struct Checked<'a> {
    to: &'a str,
    from: &'a str,
    template_id: &'a str,
    variables: Map<String, Value>,
    text: Option<&'a str>,
    buttons: Option<&'a Vec<Value>>,
    custom_fields: Value,
}

fn validate(msg: &Value) -> Result<Checked<'_>, Outcome> {
    let s = |p: &str| msg.pointer(p).and_then(Value::as_str);
    let to = s("/to").ok_or_else(|| Outcome::invalid("message.to is required"))?;
    let mobile = to.len() >= 10
        && to.len() <= 11
        && to.starts_with("01")
        && to.bytes().all(|b| b.is_ascii_digit());
    if !mobile {
        return Err(Outcome::invalid(format!(
            "message.to {to:?} is not a Korean mobile number (01012345678)"
        )));
    }
    let from = s("/from").ok_or_else(|| Outcome::invalid("message.from is required"))?;
    if from != super::SANDBOX_ALIMTALK_SENDER {
        return Err(Outcome::invalid(format!(
            "message.from {from:?} is not a registered sender number"
        )));
    }
    if s("/type") != Some("ATA") {
        return Err(Outcome::invalid(
            "message.type must be ATA (this simulator only sends AlimTalk)",
        ));
    }
    let kakao = msg
        .get("kakaoOptions")
        .filter(|k| k.is_object())
        .ok_or_else(|| Outcome::invalid("message.kakaoOptions is required for ATA"))?;
    if kakao.get("pfId").and_then(Value::as_str) != Some(super::SANDBOX_ALIMTALK_PF_ID) {
        return Err(Outcome::invalid(
            "kakaoOptions.pfId is not a KakaoTalk channel of this account",
        ));
    }
    let template_id = kakao
        .get("templateId")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Outcome::invalid("kakaoOptions.templateId is required"))?;
    if kakao.get("disableSms") != Some(&Value::Bool(true)) {
        return Err(Outcome::invalid(
            "kakaoOptions.disableSms must be true: the sandbox does not send substitute SMS (the gateway runs that leg itself)",
        ));
    }
    let variables = match kakao.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) if v.values().all(Value::is_string) => v.clone(),
        Some(_) => {
            return Err(Outcome::invalid(
                "kakaoOptions.variables must map #{name} to strings",
            ));
        }
    };
    let buttons = match kakao.get("buttons") {
        None | Some(Value::Null) => None,
        Some(Value::Array(b)) => Some(b),
        Some(_) => return Err(Outcome::invalid("kakaoOptions.buttons must be an array")),
    };
    let text = match msg.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err(Outcome::invalid("message.text must be a string")),
    };
    Ok(Checked {
        to,
        from,
        template_id,
        variables,
        text,
        buttons,
        custom_fields: msg
            .get("customFields")
            .cloned()
            .unwrap_or_else(|| json!({})),
    })
}

fn message_body(m: &Checked<'_>, group_id: &str, message_id: &str, code: &str) -> Value {
    json!({
        "groupId": group_id,
        "messageId": message_id,
        "accountId": "SANDBOX0000",
        "statusCode": code,
        "statusMessage": status_message(code),
        "to": m.to,
        "from": m.from,
        "type": "ATA",
        "country": "82",
    })
}

/// Validates the send and decides its fate; every valid send is a new message.
fn process(shared: &Arc<Shared>, json: Option<&Value>, action: &FaultAction, now: u64) -> Outcome {
    let Some(msg) = json
        .and_then(|j| j.get("message"))
        .filter(|m| m.is_object())
    else {
        return Outcome::invalid("the body must be a JSON object with a `message` object");
    };
    let m = match validate(msg) {
        Ok(m) => m,
        Err(outcome) => return outcome,
    };
    let stamp = time::kst_compact(now);
    let suffix = random_suffix();
    let (group_id, message_id) = (format!("G4V{stamp}{suffix}"), format!("M4V{stamp}{suffix}"));
    let cfg = shared.alimtalk.config();
    let immediate = match templates::check(m.template_id, &m.variables, m.text, m.buttons) {
        Err(mismatch) => Some(mismatch.code),
        Ok(_) if cfg.enforce_sending_hours && !(8..20).contains(&time::kst_hour(now)) => {
            Some(OUTSIDE_HOURS)
        }
        Ok(_) => magic_failure(m.to).filter(|_| cfg.immediate_failures),
    };
    if let Some(code) = immediate {
        return Outcome::message(message_body(&m, &group_id, &message_id, code));
    }
    let body = message_body(&m, &group_id, &message_id, "2000");
    let accepted = Accepted {
        message_id,
        group_id,
        to: m.to.to_owned(),
        from: m.from.to_owned(),
        custom_fields: m.custom_fields.clone(),
        created_ms: now,
        outcome: magic_failure(m.to).unwrap_or("4000").to_owned(),
    };
    reports::schedule(shared, &accepted, action);
    Outcome::message(body)
}

/// `GET /messages/v4/list`: the account's messages (see [`super::list`]). Faults apply to
/// sends only, and a list request is not recorded among them.
pub(super) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let now = shared.clock.now_ms();
    if let Err(o) = authenticate(&shared, &headers, now) {
        return (o.http, Json(o.body)).into_response();
    }
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let stored: Vec<super::list::Stored> = shared
        .alimtalk
        .received()
        .iter()
        .filter_map(super::list::Stored::from_received)
        .collect();
    let answer = super::list::ListQuery::parse(&pairs).and_then(|q| super::list::page(stored, &q));
    match answer {
        Ok(body) => Json(body).into_response(),
        Err(message) => {
            let o = Outcome::invalid(message);
            (o.http, Json(o.body)).into_response()
        }
    }
}
