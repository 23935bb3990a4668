//! Facebook Login's manual flow for the sandbox app: the login dialog (on real Facebook served
//! by www.facebook.com, here by the simulator itself), the code exchange on Graph, the user's
//! pages with their page tokens, and page subscriptions of the app.
//!
//! | endpoint | |
//! |---|---|
//! | `GET /{v}/dialog/oauth?client_id&redirect_uri&state&scope&response_type=code` | login page (HTML); a wrong app id or an unregistered `redirect_uri` gets a 400 error page, never a redirect |
//! | `POST /{v}/dialog/oauth/login` | form `email`, `password` + the dialog's fields: consent page, or the login page again with an error (200, as Facebook) |
//! | `POST /{v}/dialog/oauth/confirm` | form `dialog_id`, `decision=allow\|deny`: 302 to `redirect_uri` with `code`+`state` or the `access_denied` error, then `#_=_` |
//! | `GET`/`POST /{v}/oauth/access_token?client_id&redirect_uri&client_secret&code` | `{"access_token","token_type":"bearer","expires_in"}` |
//! | `GET /{v}/me/accounts` | the user's pages with their current page tokens, cursor paging |
//! | `GET /{v}/me` with a user token | `{"name","id"}` of the user |
//! | `GET`/`POST`/`DELETE /{v}/{page_id}/subscribed_apps` | the app's webhook subscription on the page (page token) |
//!
//! The app's "Valid OAuth Redirect URIs" are `oauth_redirect_uris` in
//! `PUT /_sandbox/messenger/config`, matched exactly (strict mode). Codes and dialogs live
//! ten minutes by the sim clock; a code is single-use and bound to its `redirect_uri`.

mod html;
mod pages;
pub(crate) mod store;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::errors::GraphError;
use super::graph::{query_pairs, valid_version};
use super::{SANDBOX_MESSENGER_APP_ID, SANDBOX_MESSENGER_APP_SECRET};
use crate::Shared;
pub(crate) use pages::user_me;
pub(crate) use store::OAuthData;
use store::{DialogParams, ExchangeError, USER_TOKEN_EXPIRES_IN_S};

/// The app's display name, shown on the consent page and in `subscribed_apps`.
pub const SANDBOX_MESSENGER_APP_NAME: &str = "Switchboard Sandbox App";
/// The sandbox Facebook user, who manages all three sandbox pages.
pub const SANDBOX_FACEBOOK_USER_EMAIL: &str = "owner@sandbox.test";
pub const SANDBOX_FACEBOOK_USER_PASSWORD: &str = "sandbox-facebook";
pub const SANDBOX_FACEBOOK_USER_NAME: &str = "Sandbox Owner";
/// The user's app-scoped id, as `/me` answers it for a user token.
pub const SANDBOX_FACEBOOK_USER_ID: &str = "10160738492015627";

/// Permissions the dialog knows; Facebook flags any other as an invalid scope.
const KNOWN_SCOPES: &[&str] = &[
    "public_profile",
    "email",
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_posts",
    "pages_manage_engagement",
    "business_management",
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{version}/dialog/oauth", get(dialog))
        .route("/{version}/dialog/oauth/login", post(login))
        .route("/{version}/dialog/oauth/confirm", post(confirm))
        .route(
            "/{version}/oauth/access_token",
            get(access_token_get).post(access_token_post),
        )
        .merge(pages::routes())
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn not_found() -> Response {
    html::error_page(
        StatusCode::NOT_FOUND,
        "This page isn't available",
        "The link you followed may be broken, or the page may have been removed.",
    )
}

/// Why the dialog is refused: a 400 error page, never a redirect back to the app.
struct Refusal {
    heading: &'static str,
    text: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        html::error_page(StatusCode::BAD_REQUEST, self.heading, &self.text)
    }
}

/// The dialog's parameters as Facebook checks them; an error page otherwise. Run on the dialog
/// and again on the login post, whose copies came back through the browser.
fn validate_dialog(shared: &Shared, pairs: &[(String, String)]) -> Result<DialogParams, Refusal> {
    let client_id = param(pairs, "client_id").unwrap_or_default();
    if client_id != SANDBOX_MESSENGER_APP_ID.to_string() {
        return Err(Refusal {
            heading: "Invalid App ID",
            text: "The provided app ID does not look like a valid app ID.".to_owned(),
        });
    }
    let redirect_uri = param(pairs, "redirect_uri").unwrap_or_default();
    if !shared
        .messenger
        .config()
        .oauth_redirect_uris
        .iter()
        .any(|u| u == redirect_uri)
    {
        return Err(Refusal {
            heading: "URL blocked",
            text: "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid OAuth Redirect URIs.".to_owned(),
        });
    }
    if let Some(rt) = param(pairs, "response_type").filter(|rt| *rt != "code") {
        // Facebook also has `token` and `code%20token`; the sandbox only simulates the code flow.
        return Err(Refusal {
            heading: "Unsupported response_type",
            text: format!("The sandbox only simulates response_type=code, not {rt:?}."),
        });
    }
    let mut scope: Vec<String> = Vec::new();
    for s in param(pairs, "scope")
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !scope.iter().any(|have| have == s) {
            scope.push(s.to_owned());
        }
    }
    let invalid: Vec<&str> = scope
        .iter()
        .map(String::as_str)
        .filter(|s| !KNOWN_SCOPES.contains(s))
        .collect();
    if !invalid.is_empty() {
        return Err(Refusal {
            heading: "Invalid Scopes",
            text: format!(
                "Invalid Scopes: {}. This message is only shown to developers. Users of your app will ignore these permissions if present. Please read the documentation for valid permissions at: https://developers.facebook.com/docs/facebook-login/permissions",
                invalid.join(", ")
            ),
        });
    }
    if scope.is_empty() {
        scope.push("public_profile".to_owned());
    }
    Ok(DialogParams {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: param(pairs, "state").map(str::to_owned),
        scope,
    })
}

async fn dialog(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    uri: Uri,
) -> Response {
    if !valid_version(&version) {
        return not_found();
    }
    match validate_dialog(&shared, &query_pairs(&uri)) {
        Ok(params) => html::login_page(&version, &params, None),
        Err(refusal) => refusal.into_response(),
    }
}

async fn login(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return not_found();
    }
    let pairs = form(&body);
    let params = match validate_dialog(&shared, &pairs) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    let email = param(&pairs, "email").unwrap_or_default().trim();
    let password = param(&pairs, "password").unwrap_or_default();
    if !email.eq_ignore_ascii_case(SANDBOX_FACEBOOK_USER_EMAIL)
        || password != SANDBOX_FACEBOOK_USER_PASSWORD
    {
        return html::login_page(
            &version,
            &params,
            Some("The email or password you entered is incorrect."),
        );
    }
    let scope = params.scope.clone();
    let now_ms = shared.clock.now_ms();
    let id = shared
        .messenger
        .with_oauth(|o| o.open_dialog(params, now_ms));
    html::consent_page(&version, &id, &scope)
}

/// `redirect_uri` with `pairs` added to its query and Facebook's `#_=_` fragment.
fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let join = match redirect_uri.contains('?') {
        true if redirect_uri.ends_with(['?', '&']) => "",
        true => "&",
        false => "?",
    };
    let location = format!("{redirect_uri}{join}{query}#_=_");
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => html::error_page(
            StatusCode::BAD_REQUEST,
            "URL blocked",
            "The redirect URI cannot be used in a redirect.",
        ),
    }
}

async fn confirm(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return not_found();
    }
    let pairs = form(&body);
    let allow = match param(&pairs, "decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return html::error_page(
                StatusCode::BAD_REQUEST,
                "Something went wrong",
                "The dialog was answered with neither Continue nor Cancel.",
            );
        }
    };
    let now_ms = shared.clock.now_ms();
    let id = param(&pairs, "dialog_id").unwrap_or_default();
    let Some(params) = shared.messenger.with_oauth(|o| o.take_dialog(id, now_ms)) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "This link has expired",
            "This login dialog was already answered or has expired. Please go back to the app and start again.",
        );
    };
    let state = params.state.as_deref();
    if !allow {
        let mut out = vec![
            ("error", "access_denied"),
            ("error_code", "200"),
            ("error_description", "Permissions error"),
            ("error_reason", "user_denied"),
        ];
        out.extend(state.map(|s| ("state", s)));
        return redirect(&params.redirect_uri, &out);
    }
    let code = shared
        .messenger
        .with_oauth(|o| o.issue_code(&params, now_ms));
    let mut out = vec![("code", code.as_str())];
    out.extend(state.map(|s| ("state", s)));
    redirect(&params.redirect_uri, &out)
}

async fn access_token_get(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    uri: Uri,
) -> Response {
    access_token(&shared, &version, &uri, query_pairs(&uri))
}

/// Facebook takes the exchange as a form POST too; body fields win over the query's.
async fn access_token_post(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let mut pairs = if is_form { form(&body) } else { Vec::new() };
    pairs.extend(query_pairs(&uri));
    access_token(&shared, &version, &uri, pairs)
}

fn access_token(
    shared: &Shared,
    version: &str,
    uri: &Uri,
    pairs: Vec<(String, String)>,
) -> Response {
    match exchange(shared, version, uri, &pairs) {
        Ok(token) => Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": USER_TOKEN_EXPIRES_IN_S,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

fn exchange(
    shared: &Shared,
    version: &str,
    uri: &Uri,
    pairs: &[(String, String)],
) -> Result<String, GraphError> {
    if !valid_version(version) {
        return Err(GraphError::unknown_path(uri.path()));
    }
    // Graph's own order and wording; a missing or foreign client_id is 101, not 100.
    let client_id = param(pairs, "client_id")
        .ok_or_else(|| GraphError::new(101, None, "Missing client_id parameter."))?;
    if client_id != SANDBOX_MESSENGER_APP_ID.to_string() {
        return Err(GraphError::new(
            101,
            None,
            "Error validating application. Invalid application ID.",
        ));
    }
    let redirect_uri = param(pairs, "redirect_uri")
        .ok_or_else(|| GraphError::new(100, None, "Missing redirect_uri parameter."))?;
    if param(pairs, "client_secret") != Some(SANDBOX_MESSENGER_APP_SECRET) {
        let mut e = GraphError::new(1, None, "Error validating client secret.");
        e.transient = false;
        return Err(e);
    }
    let code = param(pairs, "code")
        .ok_or_else(|| GraphError::new(100, None, "Missing code parameter."))?;
    let now_ms = shared.clock.now_ms();
    shared
        .messenger
        .with_oauth(|o| o.exchange(code, redirect_uri, now_ms))
        .map_err(|e| match e {
            ExchangeError::Unknown => {
                GraphError::new(100, None, "Invalid verification code format.")
            }
            ExchangeError::Used => {
                GraphError::new(100, Some(36009), "This authorization code has been used.")
            }
            ExchangeError::Expired => {
                GraphError::new(100, Some(36007), "This authorization code has expired.")
            }
            ExchangeError::RedirectMismatch => GraphError::new(
                100,
                Some(36008),
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            ),
        })
}
