//! The message list (roles `admin` and `agent`): newest first, searched by status, channel,
//! recipient and creation date, through the same store query as `GET /v1/messages`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{AddressKey, Role, Status};
use switchboard_gateway::store::MessageFilter;

use crate::pages::{Nav, problem_response, recipient_text, render, require};
use crate::session::Member;

const PAGE_SIZE: u32 = 50;
const DAY_MS: i64 = 86_400_000;
/// The statuses to search by; `exhausted` is `failed` because the attempts ran out (a dead
/// letter, which the API's `POST /v1/messages/redrive` resends).
const STATUSES: [&str; 7] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "seen",
    "failed",
    "exhausted",
];

struct MessageLine {
    id: String,
    channel: String,
    status: String,
    to: String,
    created_at: String,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct Messages {
    nav: Nav,
    q: MessagesQuery,
    statuses: &'static [&'static str],
    channels: Vec<String>,
    error: Option<String>,
    messages: Vec<MessageLine>,
    /// The query string of the next page: these filters and its cursor.
    next: Option<String>,
}

shows_nav!(Messages);

/// The search form as typed. Dates are days (UTC); `to` includes its day.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct MessagesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// Midnight UTC of a `YYYY-MM-DD` day, or which field is wrong.
fn day(field: &str, value: &str) -> Result<Option<i64>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = (value.len() == 10)
        .then(|| switchboard_iso_time::parse_iso_signed(&format!("{value}T00:00:00Z")))
        .flatten();
    parsed
        .map(Some)
        .ok_or_else(|| format!("{field}: `{value}` is not a date (YYYY-MM-DD)"))
}

impl MessagesQuery {
    fn filter(&self, own_member: Option<String>) -> Result<MessageFilter, String> {
        let (status, exhausted) = match self.status.as_str() {
            "" => (None, None),
            "exhausted" => (Some(Status::Failed), Some(true)),
            s => (
                Some(Status::parse(s).ok_or_else(|| format!("status: `{s}` is not a status"))?),
                None,
            ),
        };
        Ok(MessageFilter {
            status,
            channel: Some(self.channel.trim().to_string()).filter(|c| !c.is_empty()),
            recipient: Some(AddressKey::search_form(&self.recipient)).filter(|r| !r.is_empty()),
            created_from: day("from", &self.from)?,
            created_to: day("to", &self.to)?.map(|t| t + DAY_MS),
            exhausted,
            own_member,
        })
    }
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin, Role::Agent]) {
        return refused;
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut channels: Vec<String> = gw
        .runtime
        .plugins()
        .iter()
        .map(|p| p.channel().to_string())
        .collect();
    channels.sort();
    channels.dedup();
    let mut page = Messages {
        nav: Nav::of(&member),
        q: q.clone(),
        statuses: &STATUSES,
        channels,
        error: None,
        messages: Vec::new(),
        next: None,
    };
    let filter = match q.filter(member.viewer().own_only) {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e);
            return render(&page, StatusCode::BAD_REQUEST);
        }
    };
    let found = match gw
        .store
        .list_messages(
            &member.row.workspace_id,
            filter,
            q.cursor.clone(),
            PAGE_SIZE,
        )
        .await
    {
        Ok(p) => p,
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The messages cannot be read now: {e}"),
            );
        }
    };
    page.messages = found
        .data
        .into_iter()
        .map(|m| MessageLine {
            to: recipient_text(&m.to),
            id: m.id,
            channel: m.channel,
            status: if m.exhausted {
                "failed (attempts ran out)".to_string()
            } else {
                m.status.as_str().to_string()
            },
            created_at: m.created_at,
        })
        .collect();
    page.next = found.next_cursor.and_then(|cursor| {
        serde_urlencoded::to_string(MessagesQuery {
            cursor: Some(cursor),
            ..q
        })
        .ok()
    });
    render(&page, StatusCode::OK)
}
