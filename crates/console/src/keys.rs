//! API keys (role `admin`): the workspace's keys, a new key shown once, revoking one, through
//! the same service calls as `/v1/keys`.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::Role;
use switchboard_gateway::tenancy::{self, ApiKeyView, Scope, Scopes};

use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

/// A display name's longest (as `check_name` in the API).
const NAME_MAX: usize = 100;

#[derive(Template)]
#[template(path = "keys.html")]
struct Keys {
    nav: Nav,
    keys: Vec<ApiKeyView>,
    scopes: [&'static str; 4],
    /// A key just made: the one time its value is shown.
    created: Option<(String, String)>,
    error: Option<String>,
}

shows_nav!(Keys);

async fn page(
    gw: &Gateway,
    member: &Member,
    created: Option<(String, String)>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    match gw.store.api_keys(member.row.workspace_id.clone()).await {
        Ok(keys) => render(
            &Keys {
                nav: Nav::of(member),
                keys,
                scopes: Scope::ALL.map(Scope::as_str),
                created,
                error,
            },
            status,
        ),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The keys cannot be read now: {e}"),
        ),
    }
}

pub async fn list(State(gw): State<Arc<Gateway>>, member: Member) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin]) {
        return refused;
    }
    page(&gw, &member, None, None, StatusCode::OK).await
}

#[allow(clippy::result_large_err)] // the refusal is the page itself
fn admin_form(member: &Member, csrf: &str) -> Result<(), Response> {
    crate::pages::form_allowed(member, csrf, &[Role::Admin])
}

/// The new-key form: `csrf`, `name` and a `scope:<name>` field per ticked scope.
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(no) = admin_form(&member, form.get("csrf").map_or("", String::as_str)) {
        return no;
    }
    let name = form.get("name").map_or("", |n| n.trim()).to_string();
    let scopes: Vec<Scope> = form
        .keys()
        .filter_map(|k| k.strip_prefix("scope:"))
        .filter_map(Scope::parse)
        .collect();
    let problem = if name.is_empty() || name.chars().count() > NAME_MAX {
        Some(format!("name: must be 1 to {NAME_MAX} characters"))
    } else if scopes.is_empty() {
        Some("scopes: tick at least one".to_string())
    } else {
        None
    };
    if let Some(why) = problem {
        return page(
            &gw,
            &member,
            None,
            Some(why),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match tenancy::create_api_key(
        &gw.store,
        member.row.workspace_id.clone(),
        name,
        Scopes::of(&scopes),
    )
    .await
    {
        Ok(new) => {
            page(
                &gw,
                &member,
                Some((new.view.name, new.key)),
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The key could not be made: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(no) = admin_form(&member, &form.csrf) {
        return no;
    }
    match gw.revoke_api_key(member.row.workspace_id.clone(), id).await {
        Ok(true) => Redirect::to("/console/keys").into_response(),
        Ok(false) => problem_response(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such key in this workspace.",
        ),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The key could not be revoked: {e}"),
        ),
    }
}
