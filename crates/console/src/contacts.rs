//! Contacts (roles `admin` and `agent`): first and last activity, messages received, the
//! 24-hour inactivity flag and the addresses per channel, searched by name through the same
//! store query as `GET /v1/contacts?name=`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{ContactView, Role};

use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

const PAGE_SIZE: u32 = 50;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContactsQuery {
    #[serde(default)]
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inactive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct Contacts {
    nav: Nav,
    q: ContactsQuery,
    contacts: Vec<ContactView>,
    next: Option<String>,
}

impl std::ops::Deref for Contacts {
    type Target = Nav;
    fn deref(&self) -> &Nav {
        &self.nav
    }
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    query: Result<Query<ContactsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin, Role::Agent]) {
        return refused;
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let found = gw
        .store
        .list_contacts(
            member.row.workspace_id.clone(),
            q.cursor.clone(),
            PAGE_SIZE,
            q.inactive.is_some(),
            Some(q.name.trim().to_string()).filter(|n| !n.is_empty()),
        )
        .await;
    let page = match found {
        Ok(p) => p,
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The contacts cannot be read now: {e}"),
            );
        }
    };
    let next = page.next_cursor.and_then(|cursor| {
        serde_urlencoded::to_string(ContactsQuery {
            cursor: Some(cursor),
            ..q.clone()
        })
        .ok()
    });
    render(
        &Contacts {
            nav: Nav::of(&member),
            q,
            contacts: page.data,
            next,
        },
        StatusCode::OK,
    )
}
