//! "Connect with Facebook" in the console (role `admin`); the flow itself is the gateway's
//! `facebook_login` service, which explains why the callback needs no session.
//!
//! Starting is a link, not a form: the answer redirects to Facebook, and the console's CSP
//! (`form-action 'self'`) rightly stops a form's redirect to another origin.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::facebook_login::{Callback, LoginError, PageChoice};
use switchboard_gateway::model::Role;

use crate::pages::{problem_response, render, require};
use crate::session::Member;

#[derive(Deserialize, Default)]
pub struct StartQuery {
    reconnect: Option<String>,
}

pub async fn start(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    query: Result<Query<StartQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin]) {
        return refused;
    }
    let ws = member.row.workspace_id.clone();
    let reconnect = query.ok().and_then(|Query(q)| q.reconnect);
    if let Some(id) = &reconnect
        && gw.connections.get(id).is_none_or(|c| c.workspace_id != ws)
    {
        return problem_response(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such connection in this workspace.",
        );
    }
    match gw
        .facebook
        .start(ws, member.row.view.id.clone(), reconnect)
        .await
    {
        Ok(dialog) => Redirect::to(&dialog).into_response(),
        Err(e) => failed(&e),
    }
}

fn failed(e: &LoginError) -> Response {
    let (status, heading) = match e {
        LoginError::BadState | LoginError::BadFlow => {
            (StatusCode::BAD_REQUEST, "Sign-in with Facebook refused")
        }
        LoginError::Denied { .. } => (StatusCode::OK, "Facebook was not connected"),
        LoginError::NothingPicked => (StatusCode::UNPROCESSABLE_ENTITY, "No page picked"),
        LoginError::Unconfigured | LoginError::PluginMissing => {
            (StatusCode::CONFLICT, "Facebook is not set up")
        }
        LoginError::Unreachable { .. } | LoginError::Provider { .. } => {
            (StatusCode::BAD_GATEWAY, "Facebook refused")
        }
        LoginError::Store(_) | LoginError::Connections(_) => {
            tracing::error!(error = %e, "connecting Facebook pages failed");
            (StatusCode::SERVICE_UNAVAILABLE, "Unavailable")
        }
    };
    let mut page = problem_response(status, heading, &e.to_string());
    *page.status_mut() = status;
    page
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    #[serde(default)]
    state: String,
    code: Option<String>,
    error: Option<String>,
    error_reason: Option<String>,
    error_description: Option<String>,
}

#[derive(Template)]
#[template(path = "facebook_pick.html")]
struct Pick {
    flow: String,
    token: String,
    pages: Vec<PageChoice>,
    reconnect: Option<String>,
}

/// Facebook's redirect. No session is asked for (see the module docs); the state proves it.
pub async fn callback(
    State(gw): State<Arc<Gateway>>,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let back = Callback {
        state: q.state,
        code: q.code,
        error: q.error,
        error_reason: q.error_reason,
        error_description: q.error_description,
    };
    match gw.facebook.callback(back).await {
        Ok(picking) => render(
            &Pick {
                flow: picking.flow_id,
                token: picking.pick_token,
                pages: picking.pages,
                reconnect: picking.reconnect,
            },
            StatusCode::OK,
        ),
        Err(e) => failed(&e),
    }
}

/// The pick form: `flow`, `token`, and a `page:<id>` field per ticked page.
pub async fn pick(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin]) {
        return refused;
    }
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let picked: Vec<String> = form
        .keys()
        .filter_map(|k| k.strip_prefix("page:"))
        .map(str::to_string)
        .collect();
    match gw
        .facebook
        .connect(
            &member.row.workspace_id,
            &member.row.view.id,
            &field("flow"),
            &field("token"),
            &picked,
        )
        .await
    {
        Ok(_) => Redirect::to("/console/connections?notice=connected").into_response(),
        Err(e) => failed(&e),
    }
}
