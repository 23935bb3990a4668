//! What a Facebook Login user token unlocks: `/me` as the user, `/me/accounts` with each
//! page's current token, and the page-token side of subscribing the app to a page's webhooks.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::super::conversations::{cursor, decode_cursor};
use super::super::errors::GraphError;
use super::super::graph::{guard, query_pairs, request_token, valid_version};
use super::super::{SANDBOX_MESSENGER_APP_ID, SANDBOX_MESSENGER_PAGES, SandboxPage};
use super::store::UserToken;
use super::{SANDBOX_FACEBOOK_USER_ID, SANDBOX_FACEBOOK_USER_NAME, SANDBOX_MESSENGER_APP_NAME};
use crate::Shared;
use crate::transport::Origin;

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// Everything a page admin can do; the sandbox user is a full admin of every page.
const TASKS: [&str; 6] = [
    "ANALYZE",
    "ADVERTISE",
    "MESSAGING",
    "MODERATE",
    "CREATE_CONTENT",
    "MANAGE",
];

/// The webhook fields a page subscription can name (Graph refuses others).
const PAGE_FIELDS: &[&str] = &[
    "messages",
    "message_deliveries",
    "message_reads",
    "message_echoes",
    "message_reactions",
    "message_edits",
    "messaging_postbacks",
    "messaging_optins",
    "messaging_referrals",
    "messaging_handovers",
    "messaging_policy_enforcement",
    "messaging_account_linking",
    "messaging_customer_information",
    "standby",
    "feed",
    "inbox_labels",
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{version}/me/accounts", get(accounts))
        .route(
            "/{version}/{page_id}/subscribed_apps",
            get(subscribed_apps).post(subscribe).delete(unsubscribe),
        )
}

/// `(category, category id)` of each sandbox page, in [`SANDBOX_MESSENGER_PAGES`] order.
fn category(page: &SandboxPage) -> (&'static str, &'static str) {
    match SANDBOX_MESSENGER_PAGES.iter().position(|p| p.id == page.id) {
        Some(0) => ("Shopping & retail", "200600219953504"),
        Some(1) => ("Product/service", "2201"),
        _ => ("Media/news company", "2233"),
    }
}

/// The user token of the request, checked against the sim clock. `Ok(None)` when the token is
/// not a user token at all (it may still be a page's).
fn user_token(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<UserToken>, GraphError> {
    let Some(t) = request_token(headers, uri) else {
        return Err(GraphError::no_token());
    };
    match shared.messenger.with_oauth(|o| o.user_token(&t)) {
        Some(u) if u.expired(shared.clock.now_ms()) => Err(GraphError::session_expired()),
        Some(u) => Ok(Some(u)),
        None => Ok(None),
    }
}

/// `/me` with a user token; `None` lets the page-token `/me` answer.
pub(crate) fn user_me(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
    match user_token(shared, headers, uri) {
        Ok(Some(_)) => Some(
            Json(json!({"name": SANDBOX_FACEBOOK_USER_NAME, "id": SANDBOX_FACEBOOK_USER_ID}))
                .into_response(),
        ),
        Err(e) if e.code == 190 => Some(e.into_response()),
        _ => None,
    }
}

async fn accounts(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    Origin(origin): Origin,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match list_accounts(&shared, &version, &origin, &headers, &uri) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn list_accounts(
    shared: &Shared,
    version: &str,
    origin: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Value, GraphError> {
    if !valid_version(version) {
        return Err(GraphError::unknown_path(uri.path()));
    }
    let user = match user_token(shared, headers, uri)? {
        Some(u) => u,
        None => {
            let t = request_token(headers, uri).unwrap_or_default();
            return Err(match shared.messenger.page_for_token(&t) {
                // `me` is then a Page, which has no `accounts` edge.
                Some(_) => GraphError::param(
                    "Tried accessing nonexisting field (accounts) on node type (Page)",
                ),
                None => GraphError::invalid_token(),
            });
        }
    };
    let pairs = query_pairs(uri);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .trim()
            .parse::<usize>()
            .map_err(|_| GraphError::param("Param limit must be a positive integer"))?
            .clamp(1, MAX_LIMIT),
    };
    // Without pages_show_list Graph lists no pages rather than failing.
    let all: Vec<&SandboxPage> = if user.scope.iter().any(|s| s == "pages_show_list") {
        SANDBOX_MESSENGER_PAGES.iter().collect()
    } else {
        Vec::new()
    };
    let position = |c: &str| -> Result<usize, GraphError> {
        let id = decode_cursor(c).ok_or_else(|| GraphError::param("The cursor is invalid"))?;
        all.iter()
            .position(|p| p.id == id)
            .ok_or_else(|| GraphError::param("The cursor is invalid"))
    };
    let (start, end) = match (get("after"), get("before")) {
        (Some(a), _) => {
            let s = position(&a)? + 1;
            (s, (s + limit).min(all.len()))
        }
        (None, Some(b)) => {
            let e = position(&b)?;
            (e.saturating_sub(limit), e)
        }
        (None, None) => (0, limit.min(all.len())),
    };
    let slice = &all[start.min(all.len())..end.max(start.min(all.len()))];
    let data: Vec<Value> = slice
        .iter()
        .map(|p| {
            let (cat, cat_id) = category(p);
            json!({
                "access_token": shared.messenger.current_token(p),
                "category": cat,
                "category_list": [{"id": cat_id, "name": cat}],
                "name": p.name,
                "id": p.id,
                "tasks": TASKS,
            })
        })
        .collect();
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (slice.first(), slice.last()) {
        let (before, after) = (cursor(first.id), cursor(last.id));
        let kept = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(k, _)| k != "after" && k != "before"))
            .finish();
        let enc = |c: &str| form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>();
        let base = format!("{origin}{}?{kept}", uri.path());
        let join = if kept.is_empty() { "" } else { "&" };
        let mut paging = json!({"cursors": {"before": before, "after": after}});
        if end < all.len() {
            paging["next"] = json!(format!("{base}{join}after={}", enc(&after)));
        }
        if start > 0 {
            paging["previous"] = json!(format!("{base}{join}before={}", enc(&before)));
        }
        body["paging"] = paging;
    }
    Ok(body)
}

async fn subscribed_apps(
    State(shared): State<Arc<Shared>>,
    Path((version, page_id)): Path<(String, String)>,
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
    let data: Vec<Value> = shared
        .messenger
        .with_oauth(|o| o.subscription(page.id))
        .map(|fields| {
            json!({
                "category": "Business",
                "link": "https://switchboard.sandbox.test/",
                "name": SANDBOX_MESSENGER_APP_NAME,
                "id": SANDBOX_MESSENGER_APP_ID.to_string(),
                "subscribed_fields": fields,
            })
        })
        .into_iter()
        .collect();
    Json(json!({ "data": data })).into_response()
}

/// `subscribed_fields` as SDKs send it: `a,b` or a JSON array.
fn parse_fields(raw: &str) -> Result<Vec<String>, GraphError> {
    let items: Vec<String> = if raw.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(raw)
            .map_err(|_| GraphError::param("Param subscribed_fields must be an array"))?
    } else {
        raw.split(',').map(|s| s.trim().to_owned()).collect()
    };
    let mut fields: Vec<String> = Vec::new();
    for (i, f) in items.into_iter().filter(|f| !f.is_empty()).enumerate() {
        if !PAGE_FIELDS.contains(&f.as_str()) {
            return Err(GraphError::param(format!(
                "Param subscribed_fields[{i}] must be one of {{{}}} - got \"{f}\"",
                PAGE_FIELDS.join(", ")
            )));
        }
        if !fields.contains(&f) {
            fields.push(f);
        }
    }
    if fields.is_empty() {
        return Err(GraphError::param(
            "The parameter subscribed_fields is required",
        ));
    }
    Ok(fields)
}

async fn subscribe(
    State(shared): State<Arc<Shared>>,
    Path((version, page_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let page = match guard(
        &shared.messenger,
        &version,
        &uri,
        &headers,
        Some(&page_id),
        "post",
    ) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut pairs = query_pairs(&uri);
    pairs.extend(form_urlencoded::parse(&body).into_owned());
    let raw = pairs
        .iter()
        .find(|(k, _)| k == "subscribed_fields")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    match parse_fields(raw) {
        Ok(fields) => {
            shared
                .messenger
                .with_oauth(|o| o.subscribe(page.id, fields));
            Json(json!({"success": true})).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn unsubscribe(
    State(shared): State<Arc<Shared>>,
    Path((version, page_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match guard(
        &shared.messenger,
        &version,
        &uri,
        &headers,
        Some(&page_id),
        "delete",
    ) {
        Ok(page) => {
            shared.messenger.with_oauth(|o| o.unsubscribe(page.id));
            Json(json!({"success": true})).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribed_fields_parse_both_ways() {
        assert_eq!(
            parse_fields("messages, message_reads,messages").unwrap(),
            ["messages", "message_reads"]
        );
        assert_eq!(
            parse_fields(r#"["messaging_postbacks"]"#).unwrap(),
            ["messaging_postbacks"]
        );
        assert_eq!(
            parse_fields("").unwrap_err().message,
            "(#100) The parameter subscribed_fields is required"
        );
        assert!(
            parse_fields("messages,nope")
                .unwrap_err()
                .message
                .contains("subscribed_fields[1]")
        );
    }
}
