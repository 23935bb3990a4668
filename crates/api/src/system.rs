//! Health, metrics, the plugin list and the API document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ReadKey;
use super::error::ErrorBody;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::PluginList;
use switchboard_gateway::runtime::convert;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `database_unavailable` (then with status 503: this node cannot accept work).
    pub status: String,
    pub plugins: usize,
    /// `pooling` or `on-demand`.
    pub allocator: String,
    pub database: DatabaseHealth,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseHealth {
    /// `sqlite` (this node's own file) or `postgres` (shared by every node).
    pub backend: String,
    /// Whether a round trip to it just succeeded.
    pub reachable: bool,
}

#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "The database cannot be reached")))]
pub async fn healthz(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    let reachable = gw.store.ping().await.is_ok();
    let health = Health {
        status: if reachable {
            "ok"
        } else {
            "database_unavailable"
        }
        .into(),
        plugins: gw.runtime.plugins().len(),
        allocator: gw.runtime.allocator().into(),
        database: DatabaseHealth {
            backend: if gw.store.is_shared() {
                "postgres"
            } else {
                "sqlite"
            }
            .into(),
            reachable,
        },
    };
    let status = if reachable {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (status, Json(health)).into_response();
    if !reachable {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(1u16));
    }
    response
}

/// What `/metrics` is served as (`prometheus-client` encodes OpenMetrics text). The document
/// must say the same; a test compares them.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "system", responses((status = 200,
    description = "Prometheus metrics in the OpenMetrics text format",
    content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    gw.metrics.quarantined.set(gw.runtime.quarantined() as i64);
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        gw.metrics.encode(),
    )
}

/// The OpenAPI document, byte for byte the checked-in `schemas/openapi.json` (both are
/// [`super::openapi::document`]), so a client generator can point at a running gateway.
#[utoipa::path(get, path = "/openapi.json", operation_id = "get_openapi_document", tag = "system",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
pub async fn openapi_document() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.get_or_init(super::openapi::document).as_str(),
    )
}

/// Loaded channel plugins and their manifests.
#[utoipa::path(get, path = "/v1/plugins", operation_id = "list_plugins", tag = "plugins",
    responses((status = 200, body = PluginList), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn plugins(State(gw): State<Arc<Gateway>>, _ws: ReadKey) -> Json<PluginList> {
    Json(PluginList {
        data: gw
            .runtime
            .plugins()
            .iter()
            .map(|p| convert::plugin_view(p))
            .collect(),
        refused: gw
            .runtime
            .refused()
            .into_iter()
            .map(|r| switchboard_gateway::model::RefusedPluginView {
                source: r.source,
                error: r.error,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_document_names_the_content_type_metrics_are_served_as() {
        let doc = serde_json::to_value(super::super::openapi::ApiDoc::openapi()).unwrap();
        let content = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
        let types: Vec<&String> = content.as_object().unwrap().keys().collect();
        assert_eq!(types, [super::METRICS_CONTENT_TYPE]);
    }
}
