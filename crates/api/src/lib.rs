//! HTTP API v1 (axum). Handlers stay thin: they authenticate, parse and hand over to the
//! gateway's services (`gw.intake`, `gw.deliveries`, `gw.router`, `gw.callbacks`, ...).
//!
//! A crate of its own so the services can be read, built and tested without HTTP, and the
//! HTTP face without re-reading the services: everything here is authentication, parsing,
//! JSON errors that name the field, paging and the OpenAPI document (`schemas` writes it
//! with the JSON Schemas). It depends on `switchboard-gateway`; nothing depends on it but the
//! binary.

pub mod schemas;

pub mod auth;
pub mod automation_runs;
pub mod automations;
pub mod billing;
pub mod connections;
pub mod contacts;
pub mod conversation_tags;
pub mod conversations;
pub mod docs;
pub mod error;
pub mod hosting;
pub mod member_prefs;
pub mod members;
pub mod messages;
pub mod openapi;
pub mod paging;
pub mod policies;
pub mod resend;
pub mod rules;
pub mod sandbox;
pub mod sender_domains;
pub mod system;
pub mod webhook_endpoints;
pub mod webhooks;
pub mod workspaces;

#[cfg(test)]
mod input_props;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};

use error::ApiError;
use switchboard_gateway::Gateway;

/// Serve the HTTP API on the started gateway's listener until the process ends. `running`
/// lives as long as the server: it holds the data directory's lock and, in sandbox mode, the
/// simulators.
pub async fn serve(mut running: switchboard_gateway::Running) -> std::io::Result<()> {
    let listener = running
        .take_listener()
        .ok_or_else(|| std::io::Error::other("the gateway's listener was already taken"))?;
    let app = router(running.gateway.clone());
    let served = axum::serve(listener, app).await;
    drop(running);
    served
}

pub fn router(gw: Arc<Gateway>) -> Router {
    let mut router = Router::new()
        .route("/v1/messages", post(messages::create).get(messages::list))
        .route("/v1/messages/preview", post(messages::preview))
        .route("/v1/messages/redrive", post(resend::redrive))
        .route("/v1/messages/{id}", get(messages::get))
        .route("/v1/messages/{id}/resend", post(resend::resend))
        .route("/v1/contacts", get(contacts::list).post(contacts::create))
        .route(
            "/v1/contacts/{id}",
            get(contacts::get).patch(contacts::patch),
        )
        .route("/v1/contacts/{id}/messages", get(contacts::history))
        .route("/v1/contacts/{id}/events", get(contacts::events))
        .route("/v1/receipts", post(contacts::receipt))
        .route("/v1/activity", post(conversations::activity))
        .route("/v1/conversations", get(conversations::list))
        .route("/v1/conversations/stats", get(conversations::stats))
        .route("/v1/conversations/summary", get(conversations::summary))
        .route(
            "/v1/conversation-tags",
            get(conversation_tags::list).post(conversation_tags::create),
        )
        .route(
            "/v1/conversation-tags/{id}",
            get(conversation_tags::get)
                .patch(conversation_tags::update)
                .delete(conversation_tags::delete),
        )
        .route(
            "/v1/conversations/{contact}/tags",
            post(conversation_tags::tag),
        )
        .route(
            "/v1/conversations/{contact}/tags/{tag}",
            axum::routing::delete(conversation_tags::untag),
        )
        .route("/v1/conversations/hosting", post(hosting::switch))
        .route("/v1/conversations/{contact}", get(conversations::get))
        .route(
            "/v1/conversations/{contact}/take",
            post(conversations::take),
        )
        .route(
            "/v1/conversations/{contact}/release",
            post(conversations::release),
        )
        .route(
            "/v1/conversations/{contact}/finish",
            post(conversations::finish),
        )
        .route(
            "/v1/conversations/{contact}/messages",
            post(conversations::post_message),
        )
        .route(
            "/v1/conversations/{contact}/seen",
            post(conversations::seen),
        )
        .route("/v1/policies", get(policies::list).post(policies::create))
        .route(
            "/v1/policies/{name}",
            get(policies::get)
                .put(policies::update)
                .delete(policies::delete),
        )
        .route(
            "/v1/connections",
            get(connections::list).post(connections::create),
        )
        .route(
            "/v1/connections/{id}",
            get(connections::get)
                .patch(connections::patch)
                .delete(connections::delete),
        )
        .route(
            "/v1/connections/{id}/resend",
            post(connections::bulk_resend),
        )
        .route(
            "/v1/connections/{id}/sync-contacts",
            post(connections::sync),
        )
        .route(
            "/v1/connections/{id}/chat-changes",
            get(connections::chat_changes),
        )
        .route(
            "/v1/connections/{id}/blocked-urls",
            get(connections::blocked)
                .post(connections::block)
                .delete(connections::unblock),
        )
        .route(
            "/v1/sender-domains",
            get(sender_domains::list).post(sender_domains::create),
        )
        .route(
            "/v1/sender-domains/{id}",
            get(sender_domains::get)
                .patch(sender_domains::update)
                .delete(sender_domains::delete),
        )
        .route(
            "/v1/sender-domains/{id}/validate",
            post(sender_domains::validate),
        )
        .route(
            "/v1/webhook-endpoints",
            get(webhook_endpoints::list).post(webhook_endpoints::create),
        )
        .route(
            "/v1/webhook-endpoints/{id}",
            get(webhook_endpoints::get)
                .patch(webhook_endpoints::patch)
                .delete(webhook_endpoints::delete),
        )
        .route(
            "/v1/webhook-endpoints/{id}/rotate-secret",
            post(webhook_endpoints::rotate_secret),
        )
        .route(
            "/v1/webhook-endpoints/{id}/deliveries",
            get(webhook_endpoints::deliveries),
        )
        .route(
            "/v1/webhook-endpoints/{id}/replay",
            post(webhook_endpoints::replay),
        )
        .route("/v1/events", get(webhook_endpoints::events))
        .route(
            "/v1/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            "/v1/workspace",
            get(workspaces::current).patch(workspaces::update),
        )
        .route(
            "/v1/keys",
            get(workspaces::keys).post(workspaces::create_key),
        )
        .route("/v1/keys/{id}", delete(workspaces::revoke_key))
        .route("/v1/members", get(members::list))
        .route("/v1/members/{id}/inbox", get(rules::inbox))
        .route(
            "/v1/members/{id}/preferences",
            get(member_prefs::get).put(member_prefs::put),
        )
        .route("/v1/members/{id}/activity", post(member_prefs::activity))
        .route(
            "/v1/notification-rules",
            get(rules::list).post(rules::create),
        )
        .route(
            "/v1/notification-rules/{id}",
            get(rules::get).put(rules::replace).delete(rules::delete),
        )
        .route(
            "/v1/automations",
            get(automations::list).post(automations::create),
        )
        .route(
            "/v1/automations/{id}",
            get(automations::get)
                .put(automations::replace)
                .delete(automations::delete),
        )
        .route(
            "/v1/automations/{id}/versions/{version}",
            get(automations::version),
        )
        .route("/v1/automations/{id}/stats", get(automation_runs::stats))
        .route("/v1/automations/{id}/runs", get(automation_runs::runs))
        .route("/v1/results", post(rules::submit))
        .route("/v1/results/{id}", get(rules::result))
        .route(
            "/v1/members/invitations",
            get(members::invitations).post(members::invite),
        )
        .route(
            "/v1/members/{id}",
            axum::routing::patch(members::update).delete(members::remove),
        )
        .route("/v1/invitations/accept", post(members::accept))
        .route("/v1/billing/balance", get(billing::balance))
        .route("/v1/billing/plan", put(billing::set_plan))
        .route("/v1/billing/auto-charge", put(billing::set_auto_charge))
        .route(
            "/v1/billing/low-balance-alert",
            put(billing::set_low_balance_alert),
        )
        .route(
            "/v1/billing/topups",
            get(billing::topups).post(billing::top_up),
        )
        .route("/v1/billing/ledger", get(billing::ledger))
        .route("/v1/billing/usage", get(billing::usage))
        .route("/v1/billing/usage.csv", get(billing::usage_csv))
        .route("/v1/billing/messages/{id}", get(billing::message_cost))
        .route(
            "/v1/billing/prices",
            get(billing::prices).post(billing::add_price),
        )
        .route("/v1/billing/prices/{id}", delete(billing::delete_price))
        .route("/v1/plugins", get(system::plugins))
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi_document));
    if gw.sandbox_url.is_some() {
        router = router.route(
            "/v1/sandbox/clock",
            put(sandbox::set_clock).get(sandbox::get_clock),
        );
        router = router.route("/v1/sandbox/wallet", put(sandbox::set_wallet));
    }
    router
        // Applies to the routes above only: a provider callback's answer is the plugin's, and
        // goes to the provider as the plugin wrote it.
        .layer(axum::middleware::map_response(json_errors))
        .route(
            "/v1/webhooks/{connection}",
            get(webhooks::verify)
                .post(webhooks::receive)
                // Providers batch events (SendGrid posts arrays); a larger cap than the
                // API's, still bounded.
                .layer(DefaultBodyLimit::max(gw.max_callback_bytes))
                .layer(axum::middleware::from_fn_with_state(
                    gw.max_callback_bytes,
                    refuse_oversized,
                )),
        )
        // The console's pages: HTML with its own errors, headers and fallback.
        .nest("/console", switchboard_console::routes())
        // The API reference page and its assets: HTML and static files with their own headers.
        .merge(docs::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        // After every route: it applies to the routes registered before it. axum still adds
        // the `Allow` header to the 405.
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("this endpoint does not take {method}"),
            )
        })
        .layer(DefaultBodyLimit::max(gw.max_body_bytes))
        .with_state(gw)
}

/// Every error answer is the JSON envelope, even one an extractor wrote as plain text (a
/// path segment that does not decode, an id out of range): a client parses one shape.
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_path",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_request",
    };
    let (parts, body) = response.into_parts();
    let mut answer = if status.is_server_error() {
        // Whatever a fault wrote stays out of the answer, as with every other 5xx.
        ApiError::internal()
    } else {
        // An extractor's rejection is one short line; past 4 KiB (or unreadable), the
        // status's own reason says enough.
        let text = axum::body::to_bytes(body, 4096).await.ok();
        let message = text
            .map(|t| String::from_utf8_lossy(&t).trim().to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        ApiError::new(status, code, message)
    }
    .into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// Refuse a body whose declared length is over `limit` before reading any of it (the
/// extractor's own limit only trips after reading that much, and a sender still writing
/// would see the connection close rather than the answer).
async fn refuse_oversized(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        use axum::response::IntoResponse;
        return ApiError::payload_too_large(Some(limit)).into_response();
    }
    next.run(req).await
}
