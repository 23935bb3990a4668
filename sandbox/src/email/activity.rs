//! SendGrid's Email Activity API: `GET /v3/messages?query=…&limit=…` (filter all messages) and
//! `GET /v3/messages/{msg_id}` (one message with its events), the queries a client makes to
//! learn whether a send whose answer was lost was accepted.
//!
//! A row is one recipient of one send, as in SendGrid: `msg_id` is the recipient's
//! `sg_message_id`, `unique_args` its personalization's custom args. A row exists once its
//! first event (`processed`, or `dropped`) came due: SendGrid shows a message only once it was
//! processed, and its feed lags behind; the sandbox's lag is `processed_delay`. So "not
//! found" right after a send does not mean "not sent".
//!
//! `status` is `processed` until a final event, then `delivered` (delivered, open, spam
//! report) or `not_delivered` (bounce, block, drop). Rows come newest `last_event_time`
//! first. `limit` is 1 to 1000, default 10. The real API needs the paid "additional email
//! activity history" add-on and a key with Email Activity access; the sandbox key has both.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::errors::SendGridError;
use super::query::{self, Clause, Field};
use super::state::{EventDue, Message};
use crate::Shared;

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 1000;

/// One row of `GET /v3/messages`, fields in SendGrid's order.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub from_email: String,
    pub msg_id: String,
    pub subject: String,
    pub to_email: String,
    pub status: &'static str,
    pub opens_count: u64,
    pub clicks_count: u64,
    pub last_event_time: String,
    #[serde(skip)]
    last_event_secs: u64,
    #[serde(skip)]
    unique_args: BTreeMap<String, String>,
    #[serde(skip)]
    events: Vec<EventDue>,
}

/// `2017-10-13T18:56:21Z`, SendGrid's form of `last_event_time`.
fn iso_secs(secs: u64) -> String {
    let iso = switchboard_iso_time::format_iso(secs.saturating_mul(1000));
    format!("{}Z", iso.get(..19).unwrap_or(&iso))
}

fn status_of(events: &[EventDue]) -> &'static str {
    let mut status = "processed";
    for e in events {
        match e.event.as_str() {
            "delivered" | "open" | "spamreport" => status = "delivered",
            "bounce" | "dropped" => status = "not_delivered",
            _ => {}
        }
    }
    status
}

/// Every visible row of `msg`: recipients with at least one event due.
fn rows_of(msg: &Message) -> Vec<Row> {
    msg.recipients()
        .filter_map(|(p, email, sg_message_id)| {
            let events: Vec<EventDue> = msg
                .events
                .iter()
                .filter(|e| e.sg_message_id == sg_message_id)
                .cloned()
                .collect();
            let last = events.iter().map(|e| e.timestamp).max()?;
            Some(Row {
                from_email: msg.mail.from.email.clone(),
                msg_id: sg_message_id.to_owned(),
                subject: msg.mail.subject_for(p).unwrap_or_default(),
                to_email: email.to_owned(),
                status: status_of(&events),
                opens_count: events.iter().filter(|e| e.event == "open").count() as u64,
                clicks_count: 0,
                last_event_time: iso_secs(last),
                last_event_secs: last,
                unique_args: p.custom_args.clone(),
                events,
            })
        })
        .collect()
}

fn matches(row: &Row, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| match c {
        Clause::Eq(field, value) => {
            let have = match field {
                Field::ToEmail => Some(row.to_email.as_str()),
                Field::FromEmail => Some(row.from_email.as_str()),
                Field::Subject => Some(row.subject.as_str()),
                Field::Status => Some(row.status),
                Field::MsgId => Some(row.msg_id.as_str()),
                Field::UniqueArg(k) => row.unique_args.get(k).map(String::as_str),
            };
            have == Some(value.as_str())
        }
        Clause::LastEventBetween(from, to) => (*from..=*to).contains(&row.last_event_secs),
    })
}

/// All rows, newest `last_event_time` first (later sends first on a tie).
fn all_rows(shared: &Shared) -> Vec<Row> {
    let mut rows: Vec<Row> = shared
        .email
        .messages()
        .iter()
        .rev()
        .flat_map(rows_of)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.last_event_secs));
    rows
}

fn bad_request(message: impl Into<String>) -> Response {
    SendGridError::new(StatusCode::BAD_REQUEST, None, message).into_response()
}

/// `GET /v3/messages`.
pub(super) async fn filter_messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !super::authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return bad_request(format!(
                    "limit must be greater than 0 and less than or equal to {MAX_LIMIT}"
                ));
            }
        },
    };
    let clauses = match query::parse(get("query").unwrap_or_default()) {
        Ok(c) => c,
        Err(e) => return bad_request(e.to_string()),
    };
    let messages: Vec<Row> = all_rows(&shared)
        .into_iter()
        .filter(|r| matches(r, &clauses))
        .take(limit)
        .collect();
    Json(json!({ "messages": messages })).into_response()
}

/// Email Activity's event names for the sandbox's webhook events.
fn activity_event(e: &EventDue) -> Value {
    let processed = iso_secs(e.timestamp);
    match (e.event.as_str(), e.bounce_type) {
        ("bounce", kind) => json!({
            "event_name": "bounced",
            "processed": processed,
            "bounce_type": if kind == Some("blocked") { "soft" } else { "hard" },
        }),
        ("open", _) => json!({"event_name": "opened", "processed": processed}),
        ("spamreport", _) => json!({"event_name": "spam_report", "processed": processed}),
        ("deferred", _) => {
            json!({"event_name": "deferred", "processed": processed, "attempt_num": 1})
        }
        ("dropped", _) => {
            json!({"event_name": "dropped", "processed": processed, "reason": "Unsubscribed Address"})
        }
        (name, _) => json!({"event_name": name, "processed": processed}),
    }
}

/// `GET /v3/messages/{msg_id}`.
pub(super) async fn get_message(
    State(shared): State<Arc<Shared>>,
    Path(msg_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !super::authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let Some(row) = all_rows(&shared).into_iter().find(|r| r.msg_id == msg_id) else {
        return SendGridError::not_found().into_response();
    };
    // SendGrid documents unique_args as a string holding the JSON hash of the args.
    let unique_args = serde_json::to_string(&row.unique_args).unwrap_or_default();
    let api_key_id = crate::SANDBOX_SENDGRID_API_KEY
        .split('.')
        .nth(1)
        .unwrap_or_default();
    Json(json!({
        "from_email": row.from_email,
        "msg_id": row.msg_id,
        "subject": row.subject,
        "to_email": row.to_email,
        "status": row.status,
        "template_id": null,
        "asm_group_id": null,
        "teammate": "",
        "api_key_id": api_key_id,
        "events": row.events.iter().map(activity_event).collect::<Vec<_>>(),
        "originating_ip": "127.0.0.1",
        "categories": [],
        "unique_args": unique_args,
        "outbound_ip": "203.0.113.25",
        "outbound_ip_type": "shared",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(event: &str, ts: u64) -> EventDue {
        EventDue {
            email: "a@b.co".into(),
            event: event.into(),
            sg_event_id: "e".into(),
            sg_message_id: "m".into(),
            timestamp: ts,
            bounce_type: None,
        }
    }

    #[test]
    fn statuses_follow_the_events() {
        assert_eq!(status_of(&[due("processed", 1)]), "processed");
        assert_eq!(
            status_of(&[due("processed", 1), due("deferred", 2)]),
            "processed"
        );
        assert_eq!(
            status_of(&[due("processed", 1), due("delivered", 2), due("open", 3)]),
            "delivered"
        );
        assert_eq!(
            status_of(&[due("processed", 1), due("bounce", 2)]),
            "not_delivered"
        );
        assert_eq!(status_of(&[due("dropped", 1)]), "not_delivered");
        assert_eq!(iso_secs(1_507_920_981), "2017-10-13T18:56:21Z");
    }
}
