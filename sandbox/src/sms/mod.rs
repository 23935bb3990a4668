//! Simulated Twilio Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`, the
//! matching fetch and the filtered, paged list of [`list`]), following Twilio's documented
//! format byte for byte where a client library would notice (`docs/sandbox.md`, "SMS
//! simulator").
//!
//! Request handling order: count the request, authenticate, consult the fault book (keyed on
//! `to` / `from`), apply latency, then either answer with the injected fault or process the
//! send (validation, acceptance). Twilio has no idempotency key and neither has the sandbox: a
//! repeated send is a second message, and a client whose answer was lost looks the first one
//! up with the [`list`] before sending again. Authentication comes before faults so a
//! test's deliberately bad credentials never consume a fault meant for the gateway.

pub mod errors;
mod lifecycle;
pub mod list;
pub mod message;
pub mod segments;
pub mod signature;
pub(crate) mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use tokio::time::Instant;

use self::errors::{TwilioError, json_response};
use self::message::field;
pub(crate) use self::state::SmsState;
use crate::Shared;
use crate::conn::ConnKill;
use crate::faults::{Answer, ChannelSpec, FaultAction};

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "sms",
    match_keys: &["to", "from"],
    callback_statuses: &["sent", "delivered", "undelivered", "failed", "read"],
};

/// Twilio caps request bodies far below this; it only bounds memory.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(send).get(list_messages),
        )
        .route("/2010-04-01/Accounts/{account}/Messages/{file}", get(fetch))
}

/// Twilio's 404 envelope for any unknown path.
pub(crate) async fn not_found(uri: Uri) -> Response {
    TwilioError::new(
        StatusCode::NOT_FOUND,
        20404,
        format!("The requested resource {} was not found", uri.path()),
    )
    .into_response()
}

/// HTTP Basic with the sandbox account, and the path naming the same account.
fn authorized(headers: &HeaderMap, path_account: &str) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(credentials) = std::str::from_utf8(&decoded) else {
        return false;
    };
    let Some((user, password)) = credentials.split_once(':') else {
        return false;
    };
    user == crate::SANDBOX_ACCOUNT_SID
        && password == crate::SANDBOX_AUTH_TOKEN
        && path_account == user
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    req: Request,
) -> Response {
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    shared.sms.count_request();
    if !authorized(&parts.headers, &account) {
        return TwilioError::authenticate().into_response();
    }
    let Ok(bytes) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return TwilioError::bad_request(20001, "Unable to read the request body").into_response();
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();

    let mut facts = Vec::new();
    if let Some(to) = field(&form, "To") {
        facts.push(("to", to));
    }
    if let Some(from) = field(&form, "From") {
        facts.push(("from", from));
    }
    let applied = shared.faults.take(CHANNEL.name, &facts);
    let (fault_id, action) = match applied {
        Some(a) => (Some(a.rule_id), a.action),
        None => (None, FaultAction::default()),
    };
    if let Some(ms) = action.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    let processed = action
        .processes_request()
        .then(|| process(&shared, &account, form, &action, fault_id));
    match action.answer() {
        Answer::Normal => processed.unwrap_or_else(|| {
            TwilioError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            )
            .into_response()
        }),
        Answer::Error {
            status,
            code,
            retry_after_s,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = TwilioError::injected(status, code).into_response();
            if let Some(secs) = retry_after_s {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Answer::Timeout => {
            shared.hold().await;
            crate::drop_connection(kill.as_ref())
        }
        Answer::Reset => crate::drop_connection(kill.as_ref()),
    }
}

/// Validates and accepts the send.
fn process(
    shared: &Arc<Shared>,
    account: &str,
    form: Vec<(String, String)>,
    action: &FaultAction,
    fault_id: Option<String>,
) -> Response {
    let accepted_at = Instant::now();
    // Twilio stamps its messages with its own clock: the sandbox's, which tests move.
    let outcome = shared
        .sms
        .accept(account, form, fault_id, shared.clock.now());
    let (status, body) = match outcome {
        state::Outcome::Rejected(err) => (err.status, err.body()),
        state::Outcome::Accepted { msg, body } => {
            lifecycle::schedule(shared, &msg, accepted_at, action);
            (StatusCode::CREATED, body)
        }
    };
    json_response(status, body)
}

/// `GET /2010-04-01/Accounts/{sid}/Messages/{SMsid}.json`: the message with its current status.
async fn fetch(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !authorized(&headers, &account) {
        return TwilioError::authenticate().into_response();
    }
    let found = file
        .strip_suffix(".json")
        .and_then(|sid| shared.sms.get(&account, sid));
    match found {
        Some(msg) => json_response(StatusCode::OK, state::resource_body(&msg)),
        None => not_found(uri).await,
    }
}

/// `GET /2010-04-01/Accounts/{sid}/Messages.json`: the account's messages, filtered and paged
/// as Twilio does (see [`list`]). Faults apply to sends only, so a client reconciling after an
/// injected timeout always gets an answer here.
async fn list_messages(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !authorized(&headers, &account) {
        return TwilioError::authenticate().into_response();
    }
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let query = match list::ListQuery::parse(&pairs) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let mine: Vec<message::Message> = shared
        .sms
        .messages()
        .into_iter()
        .filter(|m| m.account_sid == account)
        .collect();
    match list::page(&account, mine, &query) {
        Ok(body) => json_response(StatusCode::OK, body.to_string().into()),
        Err(e) => e.into_response(),
    }
}
