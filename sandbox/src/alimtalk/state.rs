//! What the AlimTalk simulator remembers: its runtime config, every send request received
//! and the `(date, salt)` pairs already used.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::callbacks::CallbackRecord;

/// Runtime settings, changed through `PUT /_sandbox/alimtalk/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlimTalkSimConfig {
    /// Where delivery reports go (Solapi's account-wide webhook); none are posted without.
    pub webhook_url: Option<String>,
    /// From acceptance to the 3000 "handed to Kakao" report (and to a failure report).
    pub sent_delay: Duration,
    /// From acceptance to the 4000 "received" report.
    pub delivered_delay: Duration,
    /// Refuse sends outside 08:00–20:00 KST with 3108. Off by default so tests do not depend
    /// on the hour they run at; turn it on and move the clock to test it.
    pub enforce_sending_hours: bool,
    /// Magic-number failures answer in the send response instead of arriving as a report
    /// after a 2000 acceptance.
    pub immediate_failures: bool,
}

impl Default for AlimTalkSimConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            sent_delay: Duration::from_millis(20),
            delivered_delay: Duration::from_millis(60),
            enforce_sending_hours: false,
            immediate_failures: false,
        }
    }
}

/// A report that came due (whether or not its POST was dropped).
#[derive(Debug, Clone, Serialize)]
pub struct ReportDue {
    #[serde(rename = "statusCode")]
    pub status_code: String,
    #[serde(rename = "statusMessage")]
    pub status_message: String,
    /// Simulator clock when the report came due (its `dateReceived`).
    pub at_ms: u64,
}

/// One request to `POST /messages/v4/send`, whatever came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub seq: u64,
    /// Simulator clock at arrival.
    pub received_at_ms: u64,
    pub headers: Vec<(String, String)>,
    /// The raw request body.
    pub body: String,
    /// The HTTP status answered; `None` when a timeout/reset fault dropped the connection.
    pub http_status: Option<u16>,
    /// The JSON answered.
    pub response: Value,
    /// `statusCode` of the answer (2000 accepted, or an immediate failure code).
    pub status_code: Option<String>,
    pub message_id: Option<String>,
    pub fault_id: Option<String>,
    /// Reports that came due for this message, in order.
    pub reports: Vec<ReportDue>,
}

/// Counters for `GET /_sandbox/alimtalk/stats`, the same shape as the other simulators' so a
/// test can check exactly-once sending the same way on every channel.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AlimTalkStats {
    /// Every send request, refused and faulted ones included.
    pub requests: u64,
    /// Messages created (a `messageId` first handed out, `accept` faults included).
    pub unique_accepted: u64,
    /// Always 0: Solapi has no idempotency key, so a repeated send is one more message. Kept
    /// so the counters have the same shape on every simulator (payments counts replays).
    pub duplicates: u64,
    pub callbacks_sent: u64,
    pub callbacks_failed: u64,
}

/// A received request as `GET /_sandbox/alimtalk/messages` lists it.
#[derive(Debug, Serialize)]
pub struct ReceivedView {
    #[serde(flatten)]
    pub received: Received,
    /// Every POST of a report to the webhook, with the receiver's answer.
    pub callbacks: Vec<CallbackRecord>,
}

#[derive(Default)]
struct Inner {
    config: AlimTalkSimConfig,
    received: Vec<Received>,
    /// `(date, salt)` → the date in ms, for DuplicatedSignature.
    signatures: HashMap<(String, String), u64>,
    next_seq: u64,
}

#[derive(Default)]
pub(crate) struct AlimTalkState {
    inner: Mutex<Inner>,
}

impl AlimTalkState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("alimtalk state poisoned")
    }

    /// Forget everything and go back to the default config.
    pub(crate) fn clear(&self) {
        *self.lock() = Inner::default();
    }

    pub fn config(&self) -> AlimTalkSimConfig {
        self.lock().config.clone()
    }

    pub fn set_config(&self, config: AlimTalkSimConfig) {
        self.lock().config = config;
    }

    /// Records a `(date, salt)` pair; false when it was used before. Pairs whose date left
    /// the 15-minute window are forgotten, since such a request fails on its date anyway.
    pub fn first_use(&self, date: &str, salt: &str, date_ms: u64, now_ms: u64) -> bool {
        let mut inner = self.lock();
        let horizon = now_ms.saturating_sub(2 * super::auth::MAX_SKEW_MS);
        if inner.signatures.len() > 4096 {
            inner.signatures.retain(|_, d| *d >= horizon);
        }
        inner
            .signatures
            .insert((date.to_owned(), salt.to_owned()), date_ms)
            .is_none()
    }

    /// Counted from the requests kept, so a reset clears them too; the callback counts are
    /// the shared sender's and are filled in by the caller.
    pub fn stats(&self) -> AlimTalkStats {
        let inner = self.lock();
        let mut stats = AlimTalkStats {
            requests: inner.received.len() as u64,
            ..AlimTalkStats::default()
        };
        for r in &inner.received {
            if r.message_id.is_some() {
                stats.unique_accepted += 1;
            }
        }
        stats
    }

    pub fn record(&self, mut received: Received) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        received.seq = inner.next_seq;
        inner.received.push(received);
        inner.next_seq
    }

    pub fn record_report(&self, message_id: &str, due: ReportDue) {
        let mut inner = self.lock();
        if let Some(r) = inner
            .received
            .iter_mut()
            .find(|r| r.message_id.as_deref() == Some(message_id))
        {
            r.reports.push(due);
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }
}
