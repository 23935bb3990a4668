//! The Graph API routes: Send API, conversations and `/me` (a user token's `/me` is in
//! [`super::oauth`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::body::{self, SendRequest};
use super::conversations::{self, ListQuery};
use super::errors::GraphError;
use super::state::{Outcome, SendRecord};
use super::{CHANNEL, SandboxPage, webhooks};
use crate::Shared;
use crate::conn::ConnKill;
use crate::faults::{Answer, FaultAction};
use crate::transport::Origin;

const MAX_REQUEST_BODY: usize = 1024 * 1024;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{version}/me/messages", post(send_me))
        .route("/{version}/me", get(me))
        .route("/{version}/{page_id}/messages", post(send_page))
        .route(
            "/{version}/{page_id}/conversations",
            get(list_conversations),
        )
}

/// `v` digits `.` digits, as Graph versions are written.
pub(super) fn valid_version(v: &str) -> bool {
    let Some((major, minor)) = v.strip_prefix('v').and_then(|r| r.split_once('.')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

pub(super) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The request's token: `access_token` in the query, else
/// `Authorization: Bearer|OAuth <token>`.
pub(super) fn request_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let token = query_param(uri, "access_token").or_else(|| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
            .then(|| token.trim().to_owned())
    });
    token.filter(|t| !t.is_empty())
}

/// The page of the request's token. A user token from Facebook Login is known but is not a
/// page's, which Graph tells apart from an unknown token.
fn authenticate(
    state: &super::state::MessengerState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<&'static SandboxPage, GraphError> {
    let Some(t) = request_token(headers, uri) else {
        return Err(GraphError::no_token());
    };
    if let Some(page) = state.page_for_token(&t) {
        return Ok(page);
    }
    if state.with_oauth(|o| o.user_token(&t).is_some()) {
        return Err(GraphError::page_token_required());
    }
    Err(GraphError::invalid_token())
}

pub(super) fn guard(
    state: &super::state::MessengerState,
    version: &str,
    uri: &Uri,
    headers: &HeaderMap,
    path_page: Option<&str>,
    method: &str,
) -> Result<&'static SandboxPage, GraphError> {
    if !valid_version(version) {
        return Err(GraphError::unknown_path(uri.path()));
    }
    let page = authenticate(state, headers, uri)?;
    if let Some(id) = path_page
        && id != page.id
    {
        return Err(GraphError::unknown_object(id, method));
    }
    Ok(page)
}

/// JSON, or a form whose values are JSON-encoded objects (how older SDKs post).
fn parse_body(headers: &HeaderMap, raw: &[u8]) -> Option<Value> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return serde_json::from_slice(raw).ok();
    }
    let obj: Map<String, Value> = form_urlencoded::parse(raw)
        .into_owned()
        .filter(|(k, _)| k != "access_token")
        .map(|(k, v)| {
            let parsed = serde_json::from_str::<Value>(&v)
                .ok()
                .filter(Value::is_object);
            (k, parsed.unwrap_or(Value::String(v)))
        })
        .collect();
    Some(Value::Object(obj))
}

async fn send_me(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    req: Request,
) -> Response {
    send(shared, version, None, req).await
}

async fn send_page(
    State(shared): State<Arc<Shared>>,
    Path((version, page_id)): Path<(String, String)>,
    req: Request,
) -> Response {
    send(shared, version, Some(page_id), req).await
}

fn record(
    page: &SandboxPage,
    psid: Option<String>,
    raw: &str,
    err: &GraphError,
    fault_id: Option<String>,
    now_ms: u64,
) -> SendRecord {
    SendRecord {
        page_id: page.id.to_owned(),
        psid,
        request: raw.to_owned(),
        mid: None,
        http_status: err.status.as_u16(),
        error: Some(match err.subcode {
            Some(s) => format!("{}/{s}", err.code),
            None => err.code.to_string(),
        }),
        fault_id,
        timestamp_ms: now_ms,
        events: Vec::new(),
    }
}

async fn send(
    shared: Arc<Shared>,
    version: String,
    path_page: Option<String>,
    req: Request,
) -> Response {
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    shared.messenger.count_request();
    let page = match guard(
        &shared.messenger,
        &version,
        &parts.uri,
        &parts.headers,
        path_page.as_deref(),
        "post",
    ) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Ok(raw) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return GraphError::param("The request body could not be read").into_response();
    };
    let raw_text = String::from_utf8_lossy(&raw).into_owned();
    let json = parse_body(&parts.headers, &raw);
    let psid = json
        .as_ref()
        .and_then(|v| v.pointer("/recipient/id"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let facts: Vec<(&str, &str)> = psid.as_deref().map(|p| ("to", p)).into_iter().collect();
    let (fault_id, action) = match shared.faults.take(CHANNEL.name, &facts) {
        Some(a) => (Some(a.rule_id), a.action),
        None => (None, FaultAction::default()),
    };
    if let Some(ms) = action.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let processed = action.processes_request().then(|| {
        process(
            &shared,
            page,
            json.as_ref(),
            &raw_text,
            &action,
            fault_id.clone(),
        )
    });
    match action.answer() {
        Answer::Normal => {
            processed.unwrap_or_else(|| GraphError::injected(500, None, None).into_response())
        }
        Answer::Error {
            status,
            code,
            retry_after_s,
        } => {
            let err = GraphError::injected(status, code, retry_after_s);
            if processed.is_none() {
                let now = shared.clock.now_ms();
                shared
                    .messenger
                    .record_answer(record(page, psid, &raw_text, &err, fault_id, now));
            }
            err.into_response()
        }
        Answer::Timeout => {
            shared.hold().await;
            crate::drop_connection(kill.as_ref())
        }
        Answer::Reset => crate::drop_connection(kill.as_ref()),
    }
}

fn process(
    shared: &Arc<Shared>,
    page: &'static SandboxPage,
    json: Option<&Value>,
    raw: &str,
    action: &FaultAction,
    fault_id: Option<String>,
) -> Response {
    let now_ms = shared.clock.now_ms();
    let parsed: Result<SendRequest, GraphError> = match json {
        Some(v) => body::parse(v),
        None => Err(GraphError::param("The parameter recipient is required")),
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            let psid = json
                .and_then(|v| v.pointer("/recipient/id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            shared
                .messenger
                .record_answer(record(page, psid, raw, &e, fault_id, now_ms));
            return e.into_response();
        }
    };
    if req.message.is_none() {
        // A bare sender action: no message id, no webhooks, but the recipient must exist.
        if !shared.messenger.knows(page.id, &req.psid) {
            return GraphError::no_matching_user().into_response();
        }
        return Json(json!({ "recipient_id": req.psid })).into_response();
    }
    match shared.messenger.accept(page, &req, raw, now_ms, fault_id) {
        Outcome::Rejected(e) => e.into_response(),
        Outcome::Accepted { mid, response } => {
            webhooks::schedule_sent(shared, page, &req, &mid, now_ms, action);
            Json(response).into_response()
        }
    }
}

async fn me(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if valid_version(&version)
        && let Some(user) = super::oauth::user_me(&shared, &headers, &uri)
    {
        return user;
    }
    match guard(&shared.messenger, &version, &uri, &headers, None, "get") {
        Ok(page) => Json(json!({ "name": page.name, "id": page.id })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_conversations(
    State(shared): State<Arc<Shared>>,
    Path((version, page_id)): Path<(String, String)>,
    Origin(origin): Origin,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let page = match guard(
        &shared.messenger,
        &version,
        &uri,
        &headers,
        Some(&page_id),
        "get",
    ) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let pairs = query_pairs(&uri);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let q = ListQuery {
        fields: get("fields"),
        limit: get("limit"),
        after: get("after"),
        before: get("before"),
    };
    let kept = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(k, _)| k != "after" && k != "before"))
        .finish();
    let self_url = format!("{origin}{}?{kept}", uri.path());
    // Graph's `user_id` narrows the list to the conversation with one person (PSID), and
    // `platform` picks Messenger or Instagram; the sandbox pages have no Instagram account.
    let platform = get("platform").map(|p| p.to_ascii_lowercase());
    let mut all = match platform.as_deref() {
        None | Some("messenger") => shared.messenger.conversations(page.id),
        Some("instagram") => Vec::new(),
        Some(other) => {
            return GraphError::param(format!(
                "Param platform must be one of {{MESSENGER, INSTAGRAM}} - got \"{other}\""
            ))
            .into_response();
        }
    };
    if let Some(user) = get("user_id") {
        all.retain(|c| c.psid == user);
    }
    match conversations::list(&all, page, &q, &self_url) {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["v21.0", "v2.12", "v100.1"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["21.0", "v21", "v21.", "va.0", "v21.0.1", ""] {
            assert!(!valid_version(bad), "{bad}");
        }
    }
}
