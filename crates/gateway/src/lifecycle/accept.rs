//! Accepting a message: the commit behind the API's 202.
//!
//! The message, its first delivery (due now), its contact and its first timeline line are
//! written together. An idempotency key already used in the workspace writes nothing and
//! answers with the original; so does a second resend of the same failed message (writes are
//! serialised, so that check cannot race: a double click or a client retry gets the same
//! new message).

use switchboard_store::sql::Transaction;

use super::status::changed;
use crate::model::{Millis, NewMessage, Status};
use crate::store::deliveries::StatusRow;
use crate::store::{self, AddressKey, DeliveryRow, Inserted, StoreError};

/// A delivery planned at accept time: which connection, and the plugin's quote.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub connection_id: String,
    pub product: Option<String>,
    pub units: Option<u32>,
    pub encoding: Option<String>,
    pub country: Option<String>,
    /// The contact address this delivery goes to (watermarks and activity find it by this).
    pub address: Option<AddressKey>,
}

#[derive(Debug, Clone)]
pub struct InsertMessage {
    pub id: String,
    pub workspace_id: String,
    pub request: NewMessage,
    /// SHA-256 of the canonical request, to tell a retried request from a reused key.
    pub request_hash: String,
    pub idempotency_key: Option<String>,
    pub delivery: NewDelivery,
    /// Set when this message is a resend of an earlier, failed one.
    pub resend_of: Option<String>,
}

/// The message an idempotency key already names in this workspace, if any: a replay answers
/// with it, and `same_request` tells a retried request from a reused key.
pub fn replayed(
    t: &Transaction,
    workspace_id: &str,
    idempotency_key: Option<&str>,
    request_hash: &str,
) -> Result<Option<Inserted>, StoreError> {
    let Some(key) = idempotency_key else {
        return Ok(None);
    };
    Ok(
        store::find_by_key(t, workspace_id, key)?.map(|(id, status, hash)| Inserted::Existing {
            same_request: hash == request_hash,
            id,
            status,
        }),
    )
}

/// The contact behind an address the message goes to, found or created (a push token
/// carries the platform the request names).
pub fn contact_for(
    t: &Transaction,
    key: &AddressKey,
    request: &NewMessage,
    now: Millis,
) -> Result<String, StoreError> {
    let platform = request
        .to
        .push_platform
        .as_deref()
        .filter(|_| key.kind == "push");
    Ok(store::resolve(t, key, request.to.name.as_deref(), platform, now)?.0)
}

pub fn accept(t: &Transaction, m: &InsertMessage, now: Millis) -> Result<Inserted, StoreError> {
    let key = m.idempotency_key.as_deref();
    if let Some(original) = replayed(t, &m.workspace_id, key, &m.request_hash)? {
        return Ok(original);
    }
    if let Some(original) = &m.resend_of
        && let Some((id, status)) = store::find_resend_of(t, original)?
    {
        return Ok(Inserted::Existing {
            id,
            status,
            same_request: true,
        });
    }
    let d = &m.delivery;
    let contact_id = match &d.address {
        Some(key) => Some(contact_for(t, key, &m.request, now)?),
        None => None,
    };
    store::insert_message_row(
        t,
        &m.id,
        &m.workspace_id,
        &m.request,
        &m.request_hash,
        m.idempotency_key.as_deref(),
        contact_id.as_deref(),
        m.resend_of.as_deref(),
        now,
    )?;
    store::insert_delivery(
        t,
        &DeliveryRow {
            id: &d.id,
            message_id: &m.id,
            connection_id: &d.connection_id,
            channel: &m.request.channel,
            product: d.product.as_deref(),
            units: d.units,
            encoding: d.encoding.as_deref(),
            country: d.country.as_deref(),
            address_kind: d.address.as_ref().map(|a| a.kind.as_str()),
            address: d.address.as_ref().map(|a| a.address.as_str()),
            step: None,
        },
        now,
    )?;
    // The `queued` line and event from the rows just written, not read back.
    let queued = StatusRow {
        delivery_id: d.id.clone(),
        workspace_id: m.workspace_id.clone(),
        message_id: m.id.clone(),
        channel: m.request.channel.clone(),
        connection_id: d.connection_id.clone(),
        status: Status::Queued,
        provider_message_id: None,
        failure_reason: None,
        failure_code: None,
        failure_detail: None,
        step: None,
        contact_id,
    };
    changed(t, &queued, now, "api", None)?;
    Ok(Inserted::New)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::lifecycle::Deliveries;
    use crate::model::{Content, Recipient};
    use crate::store::Store;

    fn insert(id: &str, key: Option<&str>, text: &str) -> InsertMessage {
        InsertMessage {
            id: id.into(),
            workspace_id: "ws".into(),
            request: NewMessage {
                channel: "sms".into(),
                to: Recipient {
                    phone: Some("+14155550100".into()),
                    ..Default::default()
                },
                content: Content {
                    text: Some(text.into()),
                    ..Default::default()
                },
                category: Default::default(),
                metadata: Default::default(),
                options: Default::default(),
                connection: None,
                policy: None,
                from: None,
            },
            request_hash: format!("hash-{text}"),
            idempotency_key: key.map(str::to_string),
            delivery: NewDelivery {
                id: format!("dlv-{id}"),
                connection_id: "con".into(),
                product: None,
                units: None,
                encoding: None,
                country: None,
                address: None,
            },
            resend_of: None,
        }
    }

    /// A new store in a temporary directory, with workspace `ws`.
    async fn fresh_store() -> (std::path::PathBuf, Arc<Store>, Deliveries) {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-store-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let store = Arc::new(Store::open(&dir).unwrap());
        store.ensure_workspace("ws", "test").await.unwrap();
        let deliveries = Deliveries::new(store.clone(), "test");
        (dir, store, deliveries)
    }

    #[tokio::test]
    async fn concurrent_inserts_with_one_idempotency_key_commit_one_message() {
        let (dir, store, deliveries) = fresh_store().await;
        let mut tasks = Vec::new();
        for i in 0..50 {
            let deliveries = deliveries.clone();
            // Same key, same body: all in the same group commits, racing.
            tasks.push(tokio::spawn(async move {
                deliveries
                    .accept(insert(&format!("m{i}"), Some("k"), "same"))
                    .await
            }));
        }
        let mut new = 0;
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            match t.await.unwrap().unwrap() {
                Inserted::New => new += 1,
                Inserted::Existing {
                    id, same_request, ..
                } => {
                    assert!(same_request);
                    ids.insert(id);
                }
            }
        }
        assert_eq!(new, 1);
        assert_eq!(ids.len(), 1, "every replay names the one committed message");
        // Unrelated writes in the same batches are unaffected.
        assert_eq!(
            deliveries.accept(insert("other", None, "x")).await.unwrap(),
            Inserted::New
        );
        let count = store
            .read(|c| {
                Ok::<_, crate::store::StoreError>(c.query_row(
                    "SELECT COUNT(*) FROM messages",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(count, 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_queued_event_built_at_accept_is_the_one_the_rows_give() {
        let (dir, store, deliveries) = fresh_store().await;
        let mut m = insert("m1", None, "hi");
        m.delivery.address = Some(AddressKey {
            workspace_id: "ws".into(),
            kind: "phone".into(),
            scope: String::new(),
            address: "+14155550100".into(),
        });
        assert_eq!(deliveries.accept(m).await.unwrap(), Inserted::New);
        // The event accept wrote, and the one the delivery's stored row gives when read back.
        let (written, read_back) = store
            .write(|t| {
                let payload = |t: &switchboard_store::sql::Transaction| -> switchboard_store::sql::Result<serde_json::Value> {
                    let text: String = t.query_row(
                        "SELECT payload FROM workspace_events ORDER BY seq DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )?;
                    Ok(serde_json::from_str(&text).unwrap())
                };
                let written = payload(t)?;
                crate::events::record_delivery_status(t, "dlv-m1", "message.queued", 0, None)?;
                Ok::<_, crate::store::StoreError>((written, payload(t)?))
            })
            .await
            .unwrap();
        assert_eq!(written["type"], "message.queued");
        assert!(written["data"]["contact_id"].is_string(), "{written}");
        assert_eq!(written["data"], read_back["data"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
