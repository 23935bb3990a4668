//! What happened in a workspace, told to the business's own endpoints.
//!
//! Every status change writes one event row *in the same transaction* as the change itself
//! (the transactional outbox pattern): an event exists exactly when its change committed, so
//! a crash can neither lose a notification nor announce a change that rolled back. From
//! there:
//!
//! 1. the fan-out ([`worker`]) reads new events in commit order and creates one delivery per
//!    subscribed endpoint;
//! 2. each delivery is POSTed, signed per Standard Webhooks ([`signing`]), and retried on the
//!    fixed schedule in [`schedule`]; an endpoint failing for days is disabled;
//! 3. the replay API creates fresh deliveries for stored events.
//!
//! Events are at-least-once: the `webhook-id` header (the event id) lets a receiver drop a
//! repeat.
//!
//! A crate of its own because it is a capability with its own tables (the event log, the
//! endpoints, their deliveries and attempts), run inside the store's unit of work: the
//! services call [`record`] and its siblings in their transactions, and nothing here knows
//! the services. It sits above the store, the vault (endpoint secrets are sealed) and the
//! runtime's `netguard` (webhook URLs are checked like plugin requests).

// The crates below, at the paths the modules have always used.
use switchboard_model as model;
use switchboard_runtime::netguard;
use switchboard_store as store;
use switchboard_vault as vault;

pub mod log;
pub mod schedule;
pub mod signing;
pub use log::EventLog;
pub mod worker;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_store::sql::{Connection, params};
use utoipa::ToSchema;

use crate::model::{Millis, new_id, rfc3339};

/// Every event type an endpoint can subscribe to.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("message.queued", "A delivery was accepted and committed."),
    ("message.sent", "The provider accepted a delivery."),
    (
        "message.delivered",
        "The provider reported the delivery reached the device or inbox.",
    ),
    ("message.seen", "The recipient read or opened it."),
    (
        "message.failed",
        "A delivery failed for good (the reason says whether it can be resent).",
    ),
    (
        "message.fallback",
        "A routed message moved on: a step finished, or the next channel started.",
    ),
    (
        "wallet.low_balance",
        "The paid balance fell below the workspace's alert threshold.",
    ),
    (
        "wallet.auto_charge.succeeded",
        "An automatic top-up was charged.",
    ),
    (
        "wallet.auto_charge.failed",
        "An automatic top-up was declined or could not be charged.",
    ),
    (
        "connection.needs_reconnect",
        "The provider rejected a connection's credentials.",
    ),
    (
        "connection.reconnected",
        "New credentials put a connection back in service.",
    ),
    (
        "connection.updated",
        "A connection was disabled, enabled or deleted.",
    ),
    (
        "connection.chat_changed",
        "A connection's two-way chat switch or auto-reply was changed (by an admin key or a console admin).",
    ),
    (
        "contact.inbound_refused",
        "A contact wrote to a connection whose two-way chat is off: kept as a contact event, no conversation.",
    ),
    (
        "sender_domain.verified",
        "A sender domain's check passed: messages may name a sender on it.",
    ),
    (
        "sender_domain.failed",
        "A verified sender domain's check failed: new messages from it are refused until a check passes.",
    ),
    (
        "conversation.opened",
        "A contact's conversation began (unanswered when the customer wrote first).",
    ),
    (
        "conversation.taken",
        "An agent took a conversation (by taking it, or by answering it first).",
    ),
    (
        "conversation.overtaken",
        "An agent took a conversation another agent owned.",
    ),
    (
        "conversation.answered",
        "An agent answered a waiting customer (with the response time).",
    ),
    (
        "conversation.finished",
        "Its agent finished a conversation (with the handling time).",
    ),
    (
        "conversation.reopened",
        "A finished conversation began a new round.",
    ),
    (
        "conversation.handed_over",
        "An automation handed a conversation over to the agents: unanswered, with no owner.",
    ),
    (
        "conversation.released",
        "Its owner gave a conversation back to the team: nobody owns it, its state and wait unchanged.",
    ),
    (
        "conversation.hosting_changed",
        "A conversation's bot hosting was switched on or off (by a member, an API call or an automation).",
    ),
    (
        "automation.notification",
        "An automation's run reached a notify step that names this endpoint (sent to that endpoint only).",
    ),
    (
        "result.notification",
        "A result matched a notification rule that names this endpoint (sent to that endpoint only).",
    ),
];

pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.iter().any(|(t, _)| *t == name)
}

/// An event as delivered and as listed: the Standard Webhooks payload shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Also the `webhook-id` header of every delivery of this event.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Write an event in the caller's transaction.
pub fn record(
    t: &Connection,
    workspace_id: &str,
    kind: &'static str,
    at: Millis,
    data: Value,
) -> switchboard_store::sql::Result<()> {
    debug_assert!(is_event_type(kind), "{kind}");
    let id = new_id("evt");
    let payload = json!({ "type": kind, "timestamp": rfc3339(at), "data": data });
    t.prepare_cached(
        "INSERT INTO workspace_events (id, workspace_id, type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, workspace_id, kind, payload.to_string(), at])?;
    Ok(())
}

/// Write an event for one endpoint only (a notification rule's target): the fan-out hands it
/// to that endpoint, whatever it subscribes to, and to no other. Returns its id.
pub fn record_for_endpoint(
    t: &Connection,
    workspace_id: &str,
    endpoint_id: &str,
    kind: &'static str,
    at: Millis,
    data: Value,
) -> switchboard_store::sql::Result<String> {
    debug_assert!(is_event_type(kind), "{kind}");
    let id = new_id("evt");
    let payload = json!({ "type": kind, "timestamp": rfc3339(at), "data": data });
    t.prepare_cached(
        "INSERT INTO workspace_events (id, workspace_id, type, payload, created_at, endpoint_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, workspace_id, kind, payload.to_string(), at, endpoint_id])?;
    Ok(id)
}

/// The event for a delivery's status change, from the delivery's own row.
pub fn record_delivery_status(
    t: &Connection,
    delivery_id: &str,
    kind: &'static str,
    at: Millis,
    detail: Option<&str>,
) -> Result<(), store::StoreError> {
    match store::deliveries::current_status_row(t, delivery_id)? {
        Some(row) => Ok(record_delivery_event(t, &row, kind, at, detail)?),
        None => Ok(()),
    }
}

/// The event for a delivery's status change, from the row the change returned.
pub fn record_delivery_event(
    t: &Connection,
    row: &store::deliveries::StatusRow,
    kind: &'static str,
    at: Millis,
    detail: Option<&str>,
) -> switchboard_store::sql::Result<()> {
    let mut data = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        // Keep payloads small: absent facts are left out rather than sent as null.
        if !v.is_null() {
            data.insert(k.to_string(), v);
        }
    };
    put("message_id", row.message_id.as_str().into());
    put("delivery_id", row.delivery_id.as_str().into());
    put("channel", row.channel.as_str().into());
    put("connection_id", row.connection_id.as_str().into());
    put("status", row.status.as_str().into());
    put(
        "provider_message_id",
        row.provider_message_id.clone().into(),
    );
    if let Some(reason) = &row.failure_reason {
        put(
            "failure",
            json!({
                "reason": reason,
                "provider_code": row.failure_code,
                "detail": row.failure_detail,
            }),
        );
    }
    put("step", row.step.into());
    put("contact_id", row.contact_id.clone().into());
    put("detail", detail.into());
    record(t, &row.workspace_id, kind, at, Value::Object(data))
}

/// A connection health event (`connection.*`), from the connection's row as it now stands.
pub fn record_connection(
    t: &switchboard_store::sql::Transaction,
    id: &str,
    kind: &'static str,
    detail: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    let c = crate::store::connection_summary(t, id)?;
    let mut data = json!({
        "connection_id": id, "name": c.name, "plugin": c.plugin, "channel": c.channel, "status": c.status,
    });
    if let Some(d) = detail {
        data["detail"] = d.into();
    }
    Ok(record(
        t,
        &c.workspace_id,
        kind,
        crate::model::now_ms(),
        data,
    )?)
}

/// An event about a message, in the message's workspace.
pub fn record_for_message(
    t: &Connection,
    message_id: &str,
    kind: &'static str,
    at: Millis,
    mut data: Value,
) -> switchboard_store::sql::Result<()> {
    let ws: Option<String> = switchboard_store::sql::OptionalExtension::optional(
        t.prepare_cached("SELECT workspace_id FROM messages WHERE id = ?1")?
            .query_row([message_id], |r| r.get(0)),
    )?;
    let Some(ws) = ws else { return Ok(()) };
    if let Some(obj) = data.as_object_mut() {
        obj.insert("message_id".into(), message_id.into());
    }
    record(t, &ws, kind, at, data)
}
