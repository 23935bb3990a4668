//! Webhook endpoints (role `admin`): each endpoint with its recent deliveries and their
//! attempts, replaying one event or what failed in the last day, and rotating the signing
//! secret (the new one shown once; the old one keeps signing alongside for the overlap),
//! through the same event-log calls as `/v1/webhook-endpoints`.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::events::log::{DeliveryView, EndpointView, ReplayRange};
use switchboard_gateway::events::signing;
use switchboard_gateway::model::{Millis, Role, now_ms};

use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

const DELIVERIES_SHOWN: u32 = 20;
const DAY_MS: Millis = 86_400_000;

struct Endpoint {
    view: EndpointView,
    deliveries: Vec<DeliveryView>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct Webhooks {
    nav: Nav,
    endpoints: Vec<Endpoint>,
    notice: Option<String>,
    /// A secret just made by a rotation: `(endpoint id, secret)`, shown once.
    rotated: Option<(String, String)>,
}

shows_nav!(Webhooks);

#[derive(Deserialize, Default)]
pub struct Notice {
    replayed: Option<usize>,
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        &format!("The webhook endpoints cannot be read or changed now: {e}"),
    )
}

async fn page(
    gw: &Gateway,
    member: &Member,
    notice: Option<String>,
    rotated: Option<(String, String)>,
) -> Response {
    let ws = member.row.workspace_id.clone();
    let views = match gw.event_log.endpoints(ws.clone()).await {
        Ok(v) => v,
        Err(e) => return unavailable(&e),
    };
    let mut endpoints = Vec::new();
    for view in views {
        match gw
            .event_log
            .webhook_deliveries(ws.clone(), view.id.clone(), DELIVERIES_SHOWN)
            .await
        {
            Ok(deliveries) => endpoints.push(Endpoint { view, deliveries }),
            Err(e) => return unavailable(&e),
        }
    }
    render(
        &Webhooks {
            nav: Nav::of(member),
            endpoints,
            notice,
            rotated,
        },
        StatusCode::OK,
    )
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    notice: Result<Query<Notice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin]) {
        return refused;
    }
    let notice = notice
        .ok()
        .and_then(|Query(n)| n.replayed)
        .map(|n| format!("{n} event(s) queued for delivery again."));
    page(&gw, &member, notice, None).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// Replay just this event.
    #[serde(default)]
    event: Option<String>,
}

/// `replay` (one event, or what failed in the last 24 hours) or `rotate`.
pub async fn action(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(no) = crate::pages::form_allowed(&member, &form.csrf, &[Role::Admin]) {
        return no;
    }
    let ws = member.row.workspace_id.clone();
    let missing = || {
        problem_response(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such webhook endpoint in this workspace.",
        )
    };
    match action.as_str() {
        "replay" => {
            let now = now_ms();
            let one = form.event.filter(|e| !e.is_empty());
            let range = ReplayRange {
                since: if one.is_some() { 0 } else { now - DAY_MS },
                until: now + 1,
                only_failed: one.is_none(),
                event_id: one,
                limit: 10_000,
            };
            match gw.event_log.replay_events(ws, id, range).await {
                Ok(Some(n)) => {
                    Redirect::to(&format!("/console/webhooks?replayed={n}")).into_response()
                }
                Ok(None) => missing(),
                Err(e) => unavailable(&e),
            }
        }
        "rotate" => {
            let overlap = gw.webhooks.rotation_overlap.as_millis() as Millis;
            match gw
                .event_log
                .rotate_endpoint_secret(
                    ws,
                    id.clone(),
                    signing::new_secret(),
                    overlap,
                    gw.vault.clone(),
                )
                .await
            {
                Ok(Some(rotated)) => {
                    let notice = format!(
                        "Secret rotated. The previous one keeps signing alongside for {} minutes.",
                        overlap / 60_000
                    );
                    page(&gw, &member, Some(notice), Some((id, rotated.secret))).await
                }
                Ok(None) => missing(),
                Err(e) => unavailable(&e),
            }
        }
        _ => missing(),
    }
}
