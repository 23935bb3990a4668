//! Webhook endpoints, the event log and deliveries, in the gateway's SQLite file: the views
//! and records both halves share here, the endpoints in [`endpoints`], the fan-out, delivery
//! attempts, replay and the event listing in [`deliveries`].

use serde::Serialize;
use switchboard_store::sql::{OptionalExtension, params};
use utoipa::ToSchema;

use crate::model::Millis;
use crate::store::Store;

/// The event log as a service: endpoints, the fan-out of events into deliveries, attempts,
/// replay and the listing. It owns the event feed's tables (`workspace_events`,
/// `webhook_endpoints`, `webhook_deliveries`, ...) and runs its SQL inside the store's unit of
/// work.
#[derive(Clone)]
pub struct EventLog {
    store: std::sync::Arc<Store>,
}

impl EventLog {
    pub fn new(store: std::sync::Arc<Store>) -> EventLog {
        EventLog { store }
    }
}

/// The associated data an endpoint's signing secret is sealed under.
pub fn secret_owner(endpoint_id: &str) -> String {
    format!("webhook-endpoint:{endpoint_id}")
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// The event types delivered here; empty means every type.
    pub event_types: Vec<String>,
    /// `enabled`, or `disabled` (by the workspace, or after failing for days).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    /// When the current run of failed attempts began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An endpoint just created, or its secret just rotated: the only answers with the secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_…`: verify our `webhook-signature` with it. Not shown again.
    pub secret: String,
}

/// One attempt to deliver an event to an endpoint (`WebhookAttemptView` in the API document;
/// a message's own `AttemptView` is a different thing).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WebhookAttemptView)]
pub struct AttemptView {
    pub number: u32,
    pub at: String,
    /// The endpoint's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// An event's delivery to one endpoint (`WebhookDeliveryView` in the API document; a
/// message's own `DeliveryView` is a different thing).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WebhookDeliveryView)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (every scheduled attempt failed).
    pub state: String,
    pub replay: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub attempts: Vec<AttemptView>,
}

/// A delivery claimed for one attempt.
#[derive(Debug)]
pub struct DueDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub sealed_secret: String,
    pub sealed_previous: Option<String>,
    pub event_id: String,
    pub payload: String,
    /// Attempts already made.
    pub attempts: u32,
}

/// How one attempt went.
#[derive(Debug)]
pub struct AttemptResult {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub number: u32,
    pub at: Millis,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub ok: bool,
    /// When to try again, if the schedule has attempts left.
    pub retry_at: Option<Millis>,
}

/// Patch for an endpoint.
#[derive(Debug, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `enabled` or `disabled`.
    pub status: Option<String>,
}

mod deliveries;
mod endpoints;

pub use deliveries::ReplayRange;
pub use endpoints::EndpointSecretError;

/// One column of a workspace's live endpoint; `None` when the workspace has no such
/// endpoint (another workspace's id reads exactly like a missing one).
pub(super) fn live_endpoint_column<T: switchboard_store::sql::FromSql>(
    c: &switchboard_store::sql::Connection,
    workspace_id: &str,
    id: &str,
    column: &str,
) -> switchboard_store::sql::Result<Option<T>> {
    c.query_row(
        &format!(
            "SELECT {column} FROM webhook_endpoints WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL"
        ),
        params![id, workspace_id],
        |r| r.get(0),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::model::{new_id, now_ms};
    use crate::store::Store;
    use crate::vault::Vault;

    #[tokio::test]
    async fn fan_out_follows_subscriptions_and_prune_keeps_what_is_in_flight() {
        let dir = std::env::temp_dir().join(format!("sb-events-{}", new_id("t")));
        let store = Arc::new(Store::open(&dir).unwrap());
        let log = super::EventLog::new(store.clone());
        let vault = Arc::new(Vault::new(vec![crate::vault::MasterKey::generate()]).unwrap());
        store.ensure_workspace("ws_a", "A").await.unwrap();
        let all = log
            .create_endpoint(
                "ws_a".into(),
                "https://a.example".into(),
                String::new(),
                vec![],
                "whsec_AAAA".into(),
                vault.clone(),
            )
            .await
            .unwrap();
        log.create_endpoint(
            "ws_a".into(),
            "https://b.example".into(),
            String::new(),
            vec!["message.failed".into()],
            "whsec_AAAA".into(),
            vault.clone(),
        )
        .await
        .unwrap();
        store
            .write(|t| {
                super::super::record(t, "ws_a", "message.sent", 1_000, serde_json::json!({}))?;
                super::super::record(t, "ws_a", "message.failed", 1_000, serde_json::json!({}))?;
                super::super::record(t, "ws_b", "message.failed", 1_000, serde_json::json!({}))?;
                Ok::<_, crate::store::StoreError>(())
            })
            .await
            .unwrap();
        assert_eq!(log.fan_out_events(100).await.unwrap(), 3);
        assert_eq!(
            log.fan_out_events(100).await.unwrap(),
            0,
            "the cursor moved"
        );
        // A later event, not yet fanned out: the newest event is never pruned, and this one
        // takes that place so the three above can go.
        store
            .write(|t| {
                super::super::record(t, "ws_b", "message.sent", 1_000, serde_json::json!({}))?;
                Ok::<_, crate::store::StoreError>(())
            })
            .await
            .unwrap();
        // Two events for the catch-all endpoint, one for the failed-only one, none for B.
        let a = log
            .webhook_deliveries("ws_a".into(), all.endpoint.id.clone(), 10)
            .await
            .unwrap();
        assert_eq!(a.len(), 2);
        let pending: i64 = store
            .read(|c| {
                Ok::<_, crate::store::StoreError>(c.query_row(
                    "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(pending, 3);
        // Pending deliveries keep their events.
        assert_eq!(
            log.prune_events(now_ms(), 100).await.unwrap(),
            1,
            "only B's event had no delivery"
        );
        store
            .write(|t| {
                Ok::<_, crate::store::StoreError>(
                    t.execute("UPDATE webhook_deliveries SET state = 'delivered'", [])?,
                )
            })
            .await
            .unwrap();
        assert_eq!(log.prune_events(now_ms(), 100).await.unwrap(), 2);
        assert!(
            log.events("ws_a".into(), None, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Pruning every old event must not restart the numbering below the fan-out cursor:
    /// an event recorded afterwards still goes out.
    #[tokio::test]
    async fn an_event_after_a_full_prune_is_still_fanned_out() {
        let dir = std::env::temp_dir().join(format!("sb-events-{}", new_id("t")));
        let store = Arc::new(Store::open(&dir).unwrap());
        let log = super::EventLog::new(store.clone());
        let record = |kind: &'static str| {
            store.write(move |t| {
                super::super::record(t, "ws_a", kind, 1_000, serde_json::json!({}))?;
                Ok::<_, crate::store::StoreError>(())
            })
        };
        record("message.sent").await.unwrap();
        record("message.delivered").await.unwrap();
        assert_eq!(log.fan_out_events(100).await.unwrap(), 2);
        assert_eq!(
            log.prune_events(now_ms(), 100).await.unwrap(),
            1,
            "all but the newest"
        );
        record("message.failed").await.unwrap();
        assert_eq!(
            log.fan_out_events(100).await.unwrap(),
            1,
            "the new event is past the cursor"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
