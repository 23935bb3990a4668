//! `GET /v1/automations/{id}/stats` and `/runs`: what an automation did, from the events its
//! runs recorded (the service is `switchboard_gateway::automations`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::ReadKey;
use super::error::{ApiError, ErrorBody};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::automation::{
    AutomationStats, AutomationVisitorPage, VisitorOutcome,
};

const PAGE_SIZE: super::paging::PageSize = super::paging::PageSize {
    default: 50,
    max: 200,
};

fn limit_schema() -> utoipa::openapi::Object {
    PAGE_SIZE.schema()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start (inclusive): RFC 3339 or `YYYY-MM-DD`; default 30 days before `until`.
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub since: Option<String>,
    /// End (exclusive): RFC 3339 or `YYYY-MM-DD`; default now.
    #[param(schema_with = crate::billing::date_or_time, required = false)]
    pub until: Option<String>,
}

/// An automation's figures over a window: triggers, triggered visitors, participants and
/// completions, participation and completion as exact ratios, and counts per step and
/// branch (`docs/automations.md`).
#[utoipa::path(get, path = "/v1/automations/{id}/stats", operation_id = "automation_stats", tag = "automations",
    params(("id" = String, Path, description = "Automation id"), StatsQuery),
    responses((status = 200, body = AutomationStats), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn stats(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<AutomationStats>, ApiError> {
    let q = super::paging::query(query)?;
    let until = match &q.until {
        Some(t) => crate::billing::parse_time("until", t)?,
        None => switchboard_gateway::model::now_ms(),
    };
    let since = match &q.since {
        Some(t) => crate::billing::parse_time("since", t)?,
        None => until - 30 * 24 * 3_600_000,
    };
    gw.automation_stats(ws, id, since, until.max(since))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("automation"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only visitors with this outcome.
    pub status: Option<VisitorOutcome>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    #[param(schema_with = limit_schema, required = false)]
    pub limit: Option<u32>,
}

/// The automation's visitors, one row each: completed, participated or not, their trigger
/// count, channel, first and last trigger, their latest run and a link to the conversation.
#[utoipa::path(get, path = "/v1/automations/{id}/runs", operation_id = "automation_runs", tag = "automations",
    params(("id" = String, Path, description = "Automation id"), RunsQuery),
    responses((status = 200, body = AutomationVisitorPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn runs(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Json<AutomationVisitorPage>, ApiError> {
    let q = super::paging::query(query)?;
    let limit = PAGE_SIZE.limit(q.limit)?;
    let data = gw
        .automation_visitors(ws, id, q.status, q.cursor, limit)
        .await?
        .ok_or_else(|| ApiError::not_found("automation"))?;
    let next_cursor = (data.len() == limit as usize)
        .then(|| data.last().map(|v| v.contact.clone()))
        .flatten();
    Ok(Json(AutomationVisitorPage { data, next_cursor }))
}
