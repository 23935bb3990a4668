//! HTTP API v1 (axum). Handlers stay thin: they authenticate, parse and hand over to the
//! gateway ([`crate::intake`], [`crate::callbacks`], the store).

pub mod auth;
pub mod error;
pub mod messages;
pub mod openapi;
pub mod system;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::Gateway;
use error::ApiError;

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages::create).get(messages::list))
        .route("/v1/messages/preview", post(messages::preview))
        .route("/v1/messages/{id}", get(messages::get))
        .route(
            "/v1/webhooks/{connection}",
            get(webhooks::verify).post(webhooks::receive),
        )
        .route("/v1/plugins", get(system::plugins))
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(gw.max_body_bytes))
        .with_state(gw)
}
