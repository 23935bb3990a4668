//! Receipts that are not per-provider-message callbacks:
//! - watermarks (Messenger's message_deliveries and message_reads): one event that says
//!   "everything sent to this contact up to time W reached state S";
//! - device receipts (`POST /v1/receipts`): the mobile app itself confirms a push arrived or
//!   was opened, which is what "delivered" means for push (FCM or APNs accepting it is only
//!   "sent").
//!
//! Both move deliveries through the same forward-only path as provider callbacks, so the
//! timeline records every receipt and a late or lower one changes nothing.

use rusqlite::{OptionalExtension, params};

use super::outbox::{apply_status, apply_to_delivery};
use super::{Applied, StatusEvent, Store, StoreError};
use crate::model::{Millis, Status};

#[derive(Debug, Clone)]
pub struct Watermark {
    pub connection_id: String,
    /// The contact's address on this connection (a PSID).
    pub address: String,
    pub status: Status,
    pub watermark: Millis,
    /// When the receipt says it happened.
    pub at: Millis,
}

/// What a device receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// No delivery of that message on that connection.
    Unknown,
    Applied(Applied),
}

impl Store {
    /// The app confirmed the push for `message_id` reached `status` (delivered or seen).
    pub async fn apply_device_receipt(
        &self,
        connection_id: String,
        message_id: String,
        status: Status,
        at: Millis,
        detail: String,
    ) -> Result<ReceiptOutcome, StoreError> {
        self.write(move |t| {
            let row = t
                .prepare_cached(
                    "SELECT id, status, provider_message_id FROM deliveries
                     WHERE message_id = ?1 AND connection_id = ?2 ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![message_id, connection_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()?;
            let Some((delivery_id, current, provider_message_id)) = row else {
                return Ok(ReceiptOutcome::Unknown);
            };
            let e = StatusEvent {
                connection_id,
                provider_message_id: provider_message_id.unwrap_or_default(),
                status,
                provider_status: detail,
                failure: None,
                at,
            };
            Ok(ReceiptOutcome::Applied(apply_to_delivery(
                t,
                delivery_id,
                message_id,
                &current,
                &e,
            )?))
        })
        .await
    }

    /// Apply watermarks in one commit; returns how many deliveries moved.
    pub async fn apply_watermarks(&self, marks: Vec<Watermark>) -> Result<usize, StoreError> {
        self.write(move |t| {
            let mut moved = 0;
            for w in &marks {
                let earlier: &[&str] = match w.status {
                    Status::Seen => &["sent", "delivered"],
                    Status::Delivered => &["sent"],
                    _ => continue,
                };
                // Kept for sends not recorded yet: their answer may still be on its way.
                t.prepare_cached(
                    "INSERT INTO watermarks (connection_id, address, status, watermark, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (connection_id, address, status) DO UPDATE
                     SET watermark = excluded.watermark, at = excluded.at
                     WHERE excluded.watermark > watermarks.watermark",
                )?
                .execute(params![
                    w.connection_id,
                    w.address,
                    w.status.as_str(),
                    w.watermark,
                    w.at
                ])?;
                let pending = t
                    .prepare_cached(
                        "SELECT provider_message_id, status FROM deliveries
                         WHERE connection_id = ?1 AND address = ?2 AND sent_at <= ?3
                           AND provider_message_id IS NOT NULL AND status IN ('sent', 'delivered')",
                    )?
                    .query_map(params![w.connection_id, w.address, w.watermark], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                for (provider_message_id, status) in pending {
                    if !earlier.contains(&status.as_str()) {
                        continue;
                    }
                    let e = StatusEvent {
                        connection_id: w.connection_id.clone(),
                        provider_message_id,
                        status: w.status,
                        provider_status: format!("{} watermark {}", w.status.as_str(), w.watermark),
                        failure: None,
                        at: w.at,
                    };
                    if matches!(apply_status(t, &e)?, Applied::Moved { .. }) {
                        moved += 1;
                    }
                }
            }
            Ok(moved)
        })
        .await
    }
}

/// A send just recorded as accepted at `sent_at`: the watermarks that arrived before it was
/// recorded (while its answer was on its way) and cover it apply now, delivered before seen.
pub(super) fn apply_kept_watermarks(
    t: &rusqlite::Transaction,
    delivery_id: &str,
    connection_id: &str,
    provider_message_id: &str,
    sent_at: Millis,
) -> Result<(), StoreError> {
    let kept = t
        .prepare_cached(
            "SELECT w.status, w.watermark, w.at FROM watermarks w
             JOIN deliveries d ON d.id = ?1 AND d.address = w.address
             WHERE w.connection_id = ?2 AND w.watermark >= ?3
             ORDER BY CASE w.status WHEN 'delivered' THEN 0 ELSE 1 END",
        )?
        .query_map(params![delivery_id, connection_id, sent_at], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Millis>(1)?,
                r.get::<_, Millis>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (status, watermark, at) in kept {
        let status = super::messages::parse_status(&status)?;
        apply_status(
            t,
            &StatusEvent {
                connection_id: connection_id.to_string(),
                provider_message_id: provider_message_id.to_string(),
                status,
                provider_status: format!("{} watermark {watermark}", status.as_str()),
                failure: None,
                at,
            },
        )?;
    }
    Ok(())
}
