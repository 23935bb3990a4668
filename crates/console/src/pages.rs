//! The pages: sign-in, sign-out, the home page and accepting an invitation.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::Role;
use switchboard_gateway::tenancy::members::{self, MemberError, new_token};

use crate::session::{
    self, FORM_COOKIE, Member, SESSION_COOKIE, SESSION_TTL, cookie, same_token, set_cookie,
};

/// How long a form shown before sign-in stays good.
const FORM_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the navigation bar of a signed-in page needs.
pub struct Nav {
    pub member_name: String,
    pub role: &'static str,
    pub csrf: String,
    pub can_billing: bool,
    pub can_messages: bool,
    pub can_admin: bool,
}

impl Nav {
    pub fn of(member: &Member) -> Nav {
        let role = member.role();
        Nav {
            member_name: member.row.view.name.clone(),
            role: role.as_str(),
            csrf: member.csrf.clone(),
            can_billing: matches!(role, Role::Admin | Role::Billing),
            can_messages: matches!(role, Role::Admin | Role::Agent),
            can_admin: role == Role::Admin,
        }
    }
}

/// The member's role is one of `roles`, or the answer is the 403 page.
#[allow(clippy::result_large_err)] // the refusal is the page itself
pub fn require(member: &Member, roles: &[Role]) -> Result<(), Response> {
    if roles.contains(&member.role()) {
        Ok(())
    } else {
        Err(problem_response(
            StatusCode::FORBIDDEN,
            "Not for your role",
            &format!(
                "This page is not open to the {} role. Ask an admin if you need it.",
                member.role().as_str()
            ),
        ))
    }
}

/// A recipient as the pages show it: its addresses, as the API writes them (serialising a
/// plain struct of strings cannot fail).
pub fn recipient_text(to: &switchboard_gateway::model::Recipient) -> String {
    serde_json::to_string(to).unwrap_or_default()
}

pub fn render(page: &impl Template, status: StatusCode) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
struct Problem<'a> {
    heading: &'a str,
    message: &'a str,
}

pub fn problem_response(status: StatusCode, heading: &str, message: &str) -> Response {
    render(&Problem { heading, message }, status)
}

pub async fn not_found() -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page in the console.",
    )
}

/// A signed-in page's form: its token must be the session's, and the member's role one of
/// `roles`; otherwise the refusal page.
#[allow(clippy::result_large_err)] // the refusal is the page itself
pub fn form_allowed(member: &Member, csrf: &str, roles: &[Role]) -> Result<(), Response> {
    if !same_token(&member.csrf, csrf) {
        return Err(forbidden_form());
    }
    require(member, roles)
}

fn forbidden_form() -> Response {
    problem_response(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form was not sent from the console (or it is too old). Reload the page and try again.",
    )
}

/// A page shown before sign-in with a form: a fresh form token, in the form and a cookie.
fn with_form_cookie(gw: &Gateway, token: &str, page: Response) -> Response {
    let mut page = page;
    if let Ok(v) = set_cookie(gw, FORM_COOKIE, Some(token), FORM_TTL).parse() {
        page.headers_mut().append(header::SET_COOKIE, v);
    }
    page
}

/// The form cookie matches the form's field.
fn form_token_ok(headers: &HeaderMap, field: &str) -> bool {
    cookie(headers, FORM_COOKIE).is_some_and(|c| !c.is_empty() && same_token(c, field))
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login<'a> {
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

pub async fn login_form(State(gw): State<Arc<Gateway>>) -> Response {
    let token = new_token();
    let page = render(
        &Login {
            csrf: &token,
            email: "",
            error: None,
        },
        StatusCode::OK,
    );
    with_form_cookie(&gw, &token, page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !form_token_ok(&headers, &form.csrf) {
        return forbidden_form();
    }
    let again = |status: StatusCode, error: &str| {
        let token = new_token();
        let page = render(
            &Login {
                csrf: &token,
                email: &form.email,
                error: Some(error),
            },
            status,
        );
        with_form_cookie(&gw, &token, page)
    };
    if !session::sign_in_allowed(&form.email) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts for this email. Wait a minute and try again.",
        );
    }
    let member = match members::authenticate(&gw.store, &form.email, &form.password).await {
        Ok(Some(m)) => m,
        Ok(None) => return again(StatusCode::UNAUTHORIZED, "Wrong email or password."),
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in failed; try again shortly.",
            );
        }
    };
    signed_in(&gw, member.view.id).await
}

/// Start a session and go home.
async fn signed_in(gw: &Gateway, member_id: String) -> Response {
    match session::start(gw, member_id).await {
        Ok(token) => {
            let mut r = Redirect::to("/console").into_response();
            for cookie in [
                set_cookie(gw, SESSION_COOKIE, Some(&token), SESSION_TTL),
                set_cookie(gw, FORM_COOKIE, None, FORM_TTL),
            ] {
                if let Ok(v) = cookie.parse() {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The session could not be started: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !same_token(&member.csrf, &form.csrf) {
        return forbidden_form();
    }
    if let Err(e) = session::end(&gw, member.digest).await {
        return problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("Signing out failed: {e}"),
        );
    }
    let mut r = Redirect::to("/console/login").into_response();
    if let Ok(v) = set_cookie(&gw, SESSION_COOKIE, None, SESSION_TTL).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
    workspace_name: String,
    member_email: String,
}

shows_nav!(Home);

pub async fn home(State(gw): State<Arc<Gateway>>, member: Member) -> Response {
    let workspace = match gw.store.workspace(member.row.workspace_id.clone()).await {
        Ok(w) => w.map(|w| w.name).unwrap_or_default(),
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The console cannot reach its database: {e}"),
            );
        }
    };
    render(
        &Home {
            nav: Nav::of(&member),
            workspace_name: workspace,
            member_email: member.row.view.email.clone(),
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct Invitation<'a> {
    token: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
}

/// An invitation token is 64 hex digits; anything else is not one, and never reaches a page.
fn is_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn invitation_form(
    State(gw): State<Arc<Gateway>>,
    Path(token): Path<String>,
) -> Response {
    if !is_token(&token) {
        return not_found().await;
    }
    let csrf = new_token();
    let page = render(
        &Invitation {
            token: &token,
            csrf: &csrf,
            error: None,
        },
        StatusCode::OK,
    );
    with_form_cookie(&gw, &csrf, page)
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub async fn accept_invitation(
    State(gw): State<Arc<Gateway>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AcceptForm>,
) -> Response {
    if !is_token(&token) {
        return not_found().await;
    }
    if !form_token_ok(&headers, &form.csrf) {
        return forbidden_form();
    }
    match members::accept(&gw.store, &token, &form.name, &form.password).await {
        Ok(member) => signed_in(&gw, member.id).await,
        Err(MemberError::Invalid { message, field }) => {
            let csrf = new_token();
            let error = format!("{field}: {message}");
            let page = render(
                &Invitation {
                    token: &token,
                    csrf: &csrf,
                    error: Some(&error),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
            with_form_cookie(&gw, &csrf, page)
        }
        Err(MemberError::InvalidInvitation) => problem_response(
            StatusCode::NOT_FOUND,
            "Invitation not found",
            "This invitation is unknown, already used or expired. Ask an admin for a new one.",
        ),
        Err(MemberError::EmailTaken) => problem_response(
            StatusCode::CONFLICT,
            "Already a member",
            "A member with this email already exists. Sign in instead.",
        ),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("Joining failed: {e}"),
        ),
    }
}
