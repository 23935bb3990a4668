//! Contacts (roles `admin` and `agent`): first and last activity, messages received, the
//! 24-hour inactivity flag and the addresses per channel, searched by name through the same
//! store query as `GET /v1/contacts?name=`; on a contact's page, the messages a one-way
//! connection refused (`GET /v1/contacts/{id}/events`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{ContactEventView, ContactView, Role};

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

shows_nav!(Contacts);

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
            switchboard_gateway::store::ContactFilter {
                inactive_only: q.inactive.is_some(),
                q: Some(q.name.trim().to_string()).filter(|n| !n.is_empty()),
                name: None,
                own_member: member.viewer().own_only,
            },
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

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    nav: Nav,
    contact: ContactView,
    /// Messages kept outside any conversation (a one-way connection refused them).
    events: Vec<ContactEventView>,
    phone: String,
    email: String,
    saved: bool,
    error: Option<String>,
}

shows_nav!(ContactPage);

fn first_of(c: &ContactView, kind: &str) -> String {
    c.addresses
        .iter()
        .find(|a| a.kind == kind)
        .map(|a| a.address.clone())
        .unwrap_or_default()
}

async fn contact_page(
    gw: &Gateway,
    member: &Member,
    id: String,
    saved: bool,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let ws = member.row.workspace_id.clone();
    // A contact outside the member's data scope is not found, as in the API.
    let read = async {
        if !gw
            .sees_contact(ws.clone(), &member.viewer(), id.clone())
            .await?
        {
            return Ok(None);
        }
        let contact = gw.store.contact_view(ws.clone(), id.clone()).await?;
        let events = gw.contact_events(ws, id).await?.unwrap_or_default();
        Ok::<_, switchboard_gateway::store::StoreError>(contact.map(|c| (c, events)))
    };
    match read.await {
        Ok(Some((contact, events))) => render(
            &ContactPage {
                nav: Nav::of(member),
                phone: first_of(&contact, "phone"),
                email: first_of(&contact, "email"),
                contact,
                events,
                saved,
                error,
            },
            status,
        ),
        Ok(None) => problem_response(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such contact in this workspace.",
        ),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The contact cannot be read now: {e}"),
        ),
    }
}

#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn show(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    axum::extract::Path(id): axum::extract::Path<String>,
    saved: Result<Query<Saved>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin, Role::Agent]) {
        return refused;
    }
    let saved = saved.is_ok_and(|Query(s)| s.saved.is_some());
    contact_page(&gw, &member, id, saved, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

/// The edit form: through the same service call as `PATCH /v1/contacts/{id}`. An emptied
/// field removes it; a phone may be typed with spaces and dashes.
pub async fn edit(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::Form(form): axum::Form<EditForm>,
) -> Response {
    if let Err(no) = crate::pages::form_allowed(&member, &form.csrf, &[Role::Admin, Role::Agent]) {
        return no;
    }
    let ws = member.row.workspace_id.clone();
    match gw.sees_contact(ws, &member.viewer(), id.clone()).await {
        Ok(true) => {}
        Ok(false) => {
            return problem_response(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such contact in this workspace.",
            );
        }
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The contact cannot be read now: {e}"),
            );
        }
    }
    let value = |v: &str| Some(Some(v.trim().to_string()).filter(|v| !v.is_empty()));
    let change = switchboard_gateway::contact_edits::ContactChange {
        name: value(&form.name),
        phone: value(&switchboard_gateway::model::AddressKey::search_form(
            &form.phone,
        )),
        email: value(&form.email),
    };
    match gw
        .edit_contact(member.row.workspace_id.clone(), id.clone(), change)
        .await
    {
        Ok(_) => {
            axum::response::Redirect::to(&format!("/console/contacts/{id}?saved=1")).into_response()
        }
        Err(e @ switchboard_gateway::contact_edits::ContactEditError::NotFound) => {
            problem_response(StatusCode::NOT_FOUND, "Not found", &e.to_string())
        }
        Err(e @ switchboard_gateway::contact_edits::ContactEditError::Store(_)) => {
            problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The contact could not be saved: {e}"),
            )
        }
        Err(e) => {
            let status = if matches!(
                e,
                switchboard_gateway::contact_edits::ContactEditError::Taken { .. }
            ) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            contact_page(&gw, &member, id, false, Some(e.to_string()), status).await
        }
    }
}
