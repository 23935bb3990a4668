//! Conversations (roles `admin` and `agent`): the workspace's conversations by state, the
//! signed-in member's own, and taking, overtaking and finishing them as that member, through
//! the same service calls as `/v1/conversations/{id}/take` and `/finish`.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::conversations::ConversationError;
use switchboard_gateway::conversations::records::RecordFilter;
use switchboard_gateway::model::{ConversationRecord, ConversationTotals, ListLabel, Role};

use crate::pages::{Nav, form_allowed, problem_response, render, require};
use crate::session::Member;

const ROLES: &[Role] = &[Role::Admin, Role::Agent];

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    mine: Option<String>,
    #[serde(default)]
    tag: String,
    /// A take refused because another member owns it: offer the overtake.
    #[serde(default)]
    taken: Option<String>,
}

#[derive(Template)]
#[template(path = "conversations.html")]
struct Conversations {
    nav: Nav,
    me: String,
    state: String,
    mine: bool,
    tag: String,
    tags: Vec<String>,
    totals: ConversationTotals,
    conversations: Vec<ConversationRecord>,
    /// How this member's list names contacts.
    list_label: &'static str,
    /// `(conversation, message)` of a take that needs an overtake.
    taken: Option<(String, String)>,
}

shows_nav!(Conversations);

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, ROLES) {
        return refused;
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let state = Some(q.state.clone())
        .filter(|s| ["unanswered", "active", "finished"].contains(&s.as_str()));
    let me = member.row.view.id.clone();
    let owner = q.mine.is_some().then(|| me.clone());
    let ws = member.row.workspace_id.clone();
    let viewer = member.viewer();
    let tag = Some(q.tag.trim().to_string()).filter(|t| !t.is_empty());
    let query = RecordFilter {
        state: state.clone(),
        owner,
        tag: tag.clone(),
        ..RecordFilter::default()
    };
    let found = async {
        let page = gw
            .list_conversations(ws.clone(), viewer.clone(), query.clone(), None, 100)
            .await?;
        let totals = gw.conversation_totals(ws.clone(), viewer, query).await?;
        let tags = gw.list_tags(ws).await?;
        Ok::<_, switchboard_gateway::store::StoreError>((page, totals, tags))
    };
    let (page, totals, tags) = match found.await {
        Ok(p) => p,
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The conversations cannot be read now: {e}"),
            );
        }
    };
    let taken = match q.taken {
        Some(id) => {
            let owner = page
                .data
                .iter()
                .find(|c| c.summary.id == id)
                .and_then(|c| c.summary.owner.clone())
                .unwrap_or_default();
            Some((
                id,
                format!("This conversation is owned by another member ({owner}). Overtake it?"),
            ))
        }
        None => None,
    };
    render(
        &Conversations {
            nav: Nav::of(&member),
            me,
            state: state.unwrap_or_default(),
            mine: q.mine.is_some(),
            tag: tag.unwrap_or_default(),
            tags: tags.into_iter().map(|t| t.name).collect(),
            totals,
            conversations: page.data,
            list_label: member.row.list_label.as_str(),
            taken,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    overtake: Option<String>,
}

/// `take` (with `overtake` when confirmed) or `finish`, as the signed-in member.
pub async fn action(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(no) = form_allowed(&member, &form.csrf, ROLES) {
        return no;
    }
    let (ws, me) = (member.row.workspace_id.clone(), member.row.view.id.clone());
    let done = match action.as_str() {
        "take" => {
            gw.take_conversation(ws, id.clone(), me, form.overtake.is_some())
                .await
        }
        "finish" => gw.finish_conversation(ws, id.clone(), me).await,
        _ => Err(ConversationError::NotFound("action")),
    };
    match done {
        Ok(_) => Redirect::to("/console/conversations").into_response(),
        Err(ConversationError::Taken { .. }) if action == "take" => {
            Redirect::to(&format!("/console/conversations?taken={id}")).into_response()
        }
        Err(e @ ConversationError::Taken { .. }) | Err(e @ ConversationError::AlreadyFinished) => {
            problem_response(StatusCode::CONFLICT, "Not yours to finish", &e.to_string())
        }
        Err(e @ ConversationError::NotFound(_)) | Err(e @ ConversationError::UnknownMember(_)) => {
            problem_response(StatusCode::NOT_FOUND, "Not found", &e.to_string())
        }
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The conversation could not be changed: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub struct ListLabelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    list_label: String,
}

/// The signed-in member's own choice of how their lists name a contact (it changes no one
/// else's list).
pub async fn list_label(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Form(form): Form<ListLabelForm>,
) -> Response {
    if let Err(no) = form_allowed(&member, &form.csrf, ROLES) {
        return no;
    }
    let Some(label) = ListLabel::parse(&form.list_label) else {
        return problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not a choice",
            "Name contacts by note name or by visitor label.",
        );
    };
    let (ws, me) = (member.row.workspace_id.clone(), member.row.view.id.clone());
    match gw
        .store
        .write(move |t| switchboard_gateway::store::members::set_list_label(t, &ws, &me, label))
        .await
    {
        Ok(_) => Redirect::to("/console/conversations").into_response(),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The choice could not be saved: {e}"),
        ),
    }
}
