//! What `GET /v1/messages/{id}` shows: the stored message with, for each delivery, what the
//! rules decide about it: whether and when a failed one may be resent, and what it cost.
//!
//! One read, so the verdicts and the costs describe the same moment as the rows.

use switchboard_store::sql::Connection;

use crate::billing;
use crate::model::{FailureView, MessageView, now_ms};
use crate::resend;
use crate::store::{self, StoreError};

pub fn load(c: &Connection, ws: &str, id: &str) -> Result<Option<MessageView>, StoreError> {
    let Some(record) = store::load_message(c, ws, id)? else {
        return Ok(None);
    };
    let mut view = record.view;
    let now = now_ms();
    for (delivery, failure) in view.deliveries.iter_mut().zip(record.failures) {
        delivery.failure = failure.map(|f| FailureView {
            resend: resend::verdict(f.reason, &f.facts, now),
            reason: f.reason,
            provider_code: f.provider_code,
            detail: f.detail,
            retryable: f.retryable,
            exhausted: f.exhausted,
        });
        delivery.cost = billing::delivery_cost(c, &delivery.id)?;
    }
    view.exhausted = view.status == crate::model::Status::Failed
        && view
            .deliveries
            .iter()
            .any(|d| d.failure.as_ref().is_some_and(|f| f.exhausted));
    Ok(Some(view))
}
