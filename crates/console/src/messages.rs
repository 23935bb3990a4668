//! One message's page (roles `admin` and `agent`): every delivery, attempt, route step with
//! its timer, status change, cost and failure with its resend rule, kept current by
//! `static/console.js`, which fetches the timeline fragment again while the message moves.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use switchboard_gateway::Gateway;
use switchboard_gateway::billing::views::decimal;
use switchboard_gateway::model::{MessageView, Role, RouteView};

use crate::pages::{Nav, problem_response, recipient_text, render, require};
use crate::session::Member;

struct DeliveryLine {
    id: String,
    channel: String,
    status: String,
    cost: Option<String>,
    failure: Option<String>,
    next_attempt_at: Option<String>,
    attempts: Vec<String>,
    timeline: Vec<String>,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct Timeline {
    is_final: bool,
    status: String,
    channel: String,
    to: String,
    created_at: String,
    updated_at: String,
    route: Option<RouteView>,
    deliveries: Vec<DeliveryLine>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    nav: Nav,
    id: String,
    subject: Option<String>,
    text: Option<String>,
    /// The timeline, rendered (and escaped) by its own template.
    fragment: String,
}

shows_nav!(MessagePage);

fn timeline(m: &MessageView) -> Timeline {
    Timeline {
        is_final: m.status.is_final()
            && m.route.as_ref().is_none_or(|r| r.outcome != "running")
            && m.deliveries.iter().all(|d| d.status.is_final()),
        status: m.status.as_str().to_string(),
        channel: m.channel.clone(),
        to: recipient_text(&m.to),
        created_at: m.created_at.clone(),
        updated_at: m.updated_at.clone(),
        route: m.route.clone(),
        deliveries: m
            .deliveries
            .iter()
            .map(|d| DeliveryLine {
                id: d.id.clone(),
                channel: d.channel.clone(),
                status: d.status.as_str().to_string(),
                cost: d.cost.as_ref().map(|c| {
                    format!(
                        "{} {} ({} × {}), {}; {} from credit, {} paid",
                        decimal(c.micros),
                        c.currency,
                        c.units,
                        decimal(c.unit_price_micros),
                        c.state,
                        decimal(c.from_credit_micros),
                        decimal(c.from_paid_micros)
                    )
                }),
                failure: d.failure.as_ref().map(|f| {
                    format!(
                        "{}{}: {} — resend {}",
                        f.reason.as_str(),
                        f.provider_code
                            .as_ref()
                            .map(|c| format!(" ({c})"))
                            .unwrap_or_default(),
                        f.detail,
                        if f.resend.allowed {
                            "allowed now".to_string()
                        } else {
                            format!("not yet: {}", f.resend.detail)
                        }
                    )
                }),
                next_attempt_at: d.next_attempt_at.clone(),
                attempts: d
                    .attempts
                    .iter()
                    .map(|a| {
                        format!(
                            "#{} {} → {} in {} ms: {}{}",
                            a.number,
                            a.started_at,
                            a.finished_at,
                            a.duration_ms,
                            a.outcome.as_str(),
                            a.detail
                                .as_ref()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        )
                    })
                    .collect(),
                timeline: d
                    .timeline
                    .iter()
                    .map(|t| {
                        format!(
                            "{} at {} from {}{}{}",
                            t.status.as_str(),
                            t.at,
                            t.source,
                            t.detail
                                .as_ref()
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default(),
                            if t.applied {
                                ""
                            } else {
                                " (late, not applied)"
                            }
                        )
                    })
                    .collect(),
            })
            .collect(),
    }
}

async fn load(gw: &Gateway, member: &Member, id: &str) -> Result<MessageView, Response> {
    require(member, &[Role::Admin, Role::Agent])?;
    let ws = member.row.workspace_id.clone();
    // A message outside the member's data scope is not found, as in the API.
    let found = match gw
        .sees_message(ws.clone(), &member.viewer(), id.to_string())
        .await
    {
        Ok(true) => gw.deliveries.view(&ws, id).await,
        Ok(false) => Ok(None),
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(problem_response(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such message in this workspace.",
        )),
        Err(e) => Err(problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The message cannot be read now: {e}"),
        )),
    }
}

pub async fn page(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path(id): Path<String>,
) -> Response {
    let m = match load(&gw, &member, &id).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let fragment = match timeline(&m).render() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "the timeline failed to render");
            String::new()
        }
    };
    render(
        &MessagePage {
            nav: Nav::of(&member),
            subject: m.content.subject.clone(),
            text: m.content.text.clone(),
            id: m.id,
            fragment,
        },
        StatusCode::OK,
    )
}

/// The timeline alone, for the page's script.
pub async fn fragment(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path(id): Path<String>,
) -> Response {
    match load(&gw, &member, &id).await {
        Ok(m) => match timeline(&m).render() {
            Ok(html) => Html(html).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(r) => r,
    }
}
