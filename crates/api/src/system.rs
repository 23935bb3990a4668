//! Health, metrics and the plugin list.

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
    pub status: String,
    pub plugins: usize,
    /// `pooling` or `on-demand`.
    pub allocator: String,
}

#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub async fn healthz(State(gw): State<Arc<Gateway>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        plugins: gw.runtime.plugins().len(),
        allocator: gw.runtime.allocator().into(),
    })
}

#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    gw.metrics.quarantined.set(gw.runtime.quarantined() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gw.metrics.encode(),
    )
}

/// Loaded channel plugins and their manifests.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
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
