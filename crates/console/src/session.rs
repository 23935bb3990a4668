//! Who is signed in: the session cookie, its row, and the CSRF token of each form.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{Role, now_ms};
use switchboard_gateway::store::members::{self as rows, MemberRow};
use switchboard_gateway::tenancy::members::{new_token, token_digest};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sb_session";
/// The cookie that pairs with the CSRF field of the forms shown before sign-in.
pub const FORM_COOKIE: &str = "sb_form";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sign-in attempts per email per minute (a burst of as many).
pub const SIGN_IN_PER_MINUTE: u32 = 10;

/// A value of the request's `Cookie` header.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a console cookie: HttpOnly, SameSite=Strict, scoped to `/console`, Secure
/// when the gateway is reached over HTTPS. `None` clears it.
pub fn set_cookie(gw: &Gateway, name: &str, value: Option<&str>, max_age: Duration) -> String {
    let secure = if gw.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    match value {
        Some(v) => format!(
            "{name}={v}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            max_age.as_secs()
        ),
        None => format!("{name}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The signed-in member of a request; a request without one is sent to the sign-in page.
pub struct Member {
    pub row: MemberRow,
    /// The session's CSRF token, which its forms carry.
    pub csrf: String,
    /// The session token's digest (sign-out deletes its row).
    pub digest: String,
}

impl Member {
    pub fn role(&self) -> Role {
        self.row.view.role
    }

    /// What this member sees: the same rule the API applies to a key that acts as them.
    pub fn viewer(&self) -> switchboard_gateway::model::Viewer {
        let v = &self.row.view;
        switchboard_gateway::model::Viewer::member(&v.id, v.role, v.data_scope, self.row.list_label)
    }
}

impl FromRequestParts<Arc<Gateway>> for Member {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        gw: &Arc<Gateway>,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/console/login").into_response());
        };
        let digest = token_digest(token);
        let found = {
            let digest = digest.clone();
            gw.store
                .read(move |c| rows::session(c, &digest, now_ms()))
                .await
        };
        match found {
            Ok(Some((row, csrf))) => Ok(Member { row, csrf, digest }),
            Ok(None) => Err(Redirect::to("/console/login").into_response()),
            Err(e) => Err(crate::pages::problem_response(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The console cannot reach its database: {e}"),
            )),
        }
    }
}

/// Start a session for `member`: the token for its cookie.
pub async fn start(
    gw: &Gateway,
    member_id: String,
) -> Result<String, switchboard_gateway::store::StoreError> {
    let token = new_token();
    let digest = token_digest(&token);
    let csrf = new_token();
    let now = now_ms();
    gw.store
        .write(move |t| {
            rows::insert_session(
                t,
                &digest,
                &member_id,
                &csrf,
                now,
                now + SESSION_TTL.as_millis() as i64,
            )
        })
        .await?;
    Ok(token)
}

pub async fn end(
    gw: &Gateway,
    digest: String,
) -> Result<(), switchboard_gateway::store::StoreError> {
    gw.store
        .write(move |t| rows::delete_session(t, &digest))
        .await
}

/// Whether a sign-in for `email` may be tried now.
pub fn sign_in_allowed(email: &str) -> bool {
    type Limiter = governor::DefaultKeyedRateLimiter<String>;
    static LIMITER: OnceLock<Limiter> = OnceLock::new();
    let limiter = LIMITER.get_or_init(|| {
        let n = NonZeroU32::new(SIGN_IN_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        governor::RateLimiter::keyed(governor::Quota::per_minute(n))
    });
    limiter
        .check_key(&email.trim().to_ascii_lowercase())
        .is_ok()
}

/// Compare two tokens without leaking, through timing, how much of them matched.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
