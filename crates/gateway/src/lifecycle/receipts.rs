//! Receipts that are not per-provider-message callbacks:
//! - watermarks (Messenger's message_deliveries and message_reads): one event that says
//!   "everything sent to this contact up to time W reached state S";
//! - device receipts (`POST /v1/receipts`): the mobile app itself confirms a push arrived or
//!   was opened, which is what "delivered" means for push (FCM or APNs accepting it is only
//!   "sent").
//!
//! Both move deliveries through the same forward-only path as provider callbacks, so the
//! timeline records every receipt and a late or lower one changes nothing.

use switchboard_store::sql::Transaction;

use super::LifecycleError;
use super::status::{apply, apply_to_delivery};
use super::{Applied, StatusEvent};
use crate::model::{Millis, Status};
use crate::store::deliveries as rows;

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

pub fn apply_device_receipt(
    t: &Transaction,
    connection_id: String,
    message_id: String,
    status: Status,
    at: Millis,
    detail: String,
) -> Result<ReceiptOutcome, LifecycleError> {
    let Some((delivery_id, current, provider_message_id)) =
        rows::latest_on_connection(t, &message_id, &connection_id)?
    else {
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
        current,
        &e,
    )?))
}

/// Returns how many deliveries moved.
pub fn apply_watermarks(t: &Transaction, marks: &[Watermark]) -> Result<usize, LifecycleError> {
    let mut moved = 0;
    for w in marks {
        let earlier: &[Status] = match w.status {
            Status::Seen => &[Status::Sent, Status::Delivered],
            Status::Delivered => &[Status::Sent],
            _ => continue,
        };
        // Kept for sends not recorded yet: their answer may still be on its way.
        rows::keep_watermark(t, &w.connection_id, &w.address, w.status, w.watermark, w.at)?;
        for (provider_message_id, status) in
            rows::sent_to_address_by(t, &w.connection_id, &w.address, w.watermark)?
        {
            if !earlier.contains(&status) {
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
            if matches!(apply(t, &e)?, Applied::Moved { .. }) {
                moved += 1;
            }
        }
    }
    Ok(moved)
}

/// A send just recorded as accepted at `sent_at`: the watermarks that arrived before it was
/// recorded (while its answer was on its way) and cover it apply now, delivered before seen.
pub fn apply_kept_watermarks(
    t: &Transaction,
    delivery_id: &str,
    connection_id: &str,
    provider_message_id: &str,
    sent_at: Millis,
) -> Result<(), LifecycleError> {
    for (status, watermark, at) in
        rows::watermarks_covering(t, delivery_id, connection_id, sent_at)?
    {
        apply(
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
