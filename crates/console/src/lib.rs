//! The web console: pages for the people of a workspace, served by the gateway at `/console`.
//!
//! Why server-rendered HTML (askama templates compiled into the binary) and almost no script: the
//! console must read with JavaScript off, every page is a view of the services the API
//! already has, and HTML escaping by default is the strongest guard against a message text,
//! a contact or a connection name that is hostile. Live updates (a message's timeline) are
//! one small script on top (`static/console.js`), served from here.
//!
//! Security, page by page:
//! - **Sessions** live on the server (`sessions`, by the SHA-256 digest of a random token);
//!   the browser holds only the token, in an `HttpOnly`, `SameSite=Strict` cookie scoped to
//!   `/console`, `Secure` when the gateway's public URL is HTTPS. They last [`SESSION_TTL`]
//!   and end at sign-out or when the member is removed.
//! - **CSRF.** Every form carries a token: the session's own once signed in; before that (the
//!   sign-in and invitation forms) one that must equal a `SameSite=Strict` cookie set with
//!   the form. A post without the right token is refused with 403.
//! - **Headers.** A strict Content-Security-Policy (scripts, styles and fetches only from
//!   the console itself, no inline script or style, no framing, forms only to the console),
//!   `nosniff`, no referrer, no caching of pages.
//! - **Sign-in** is rate-limited per email ([`SIGN_IN_PER_MINUTE`]), and a wrong email and a
//!   wrong password take the same time and get the same answer.

/// A page whose template includes `nav.html` reads the [`pages::Nav`] in its `nav` field as
/// its own fields.
macro_rules! shows_nav {
    ($page:ty) => {
        impl std::ops::Deref for $page {
            type Target = crate::pages::Nav;
            fn deref(&self) -> &crate::pages::Nav {
                &self.nav
            }
        }
    };
}

mod automation_steps;
mod automations;
mod billing;
mod billing_settings;
mod connections;
mod contacts;
mod conversations;
mod facebook;
mod keys;
mod message_list;
mod messages;
mod pages;
mod plugins;
mod session;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use switchboard_gateway::Gateway;

pub use session::{SESSION_COOKIE, SESSION_TTL, SIGN_IN_PER_MINUTE};

/// The Content-Security-Policy of every console answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("../static/console.css");
const JS: &str = include_str!("../static/console.js");

/// The console's routes, to be nested at `/console`.
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/billing", get(billing::page))
        .route("/billing/usage.csv", get(billing::usage_csv))
        .route("/billing/topups", post(billing::top_up))
        .route("/billing/auto-charge", post(billing_settings::auto_charge))
        .route(
            "/billing/low-balance-alert",
            post(billing_settings::low_balance_alert),
        )
        .route("/messages", get(message_list::list))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}/{action}", post(conversations::action))
        .route("/conversations/list-label", post(conversations::list_label))
        .route("/automations", get(automations::list))
        .route("/automations/{id}", get(automations::show))
        .route("/contacts", get(contacts::list))
        .route("/contacts/{id}", get(contacts::show).post(contacts::edit))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/plugins", get(plugins::page))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/{id}/{action}", post(webhooks::action))
        .route("/connections", get(connections::list))
        .route("/connections/facebook/start", get(facebook::start))
        .route("/connections/facebook/callback", get(facebook::callback))
        .route("/connections/facebook/pick", post(facebook::pick))
        .route("/connections/{id}/{action}", post(connections::action))
        .route("/messages/{id}", get(messages::page))
        .route("/messages/{id}/timeline", get(messages::fragment))
        .route(
            "/invitations/{token}",
            get(pages::invitation_form).post(pages::accept_invitation),
        )
        .route(
            "/static/console.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
        .route(
            "/static/console.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
            }),
        )
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
