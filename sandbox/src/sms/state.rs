//! Accepted messages and counters of the SMS simulator.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use axum::body::Bytes;
use serde::Serialize;

use super::errors::TwilioError;
use super::message::{self, Message};
use crate::callbacks::CallbackRecord;

/// Later statuses never move a message back (matters for reordered callbacks).
fn rank(status: &str) -> u8 {
    match status {
        "accepted" | "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        _ => 3,
    }
}

fn intern(status: &str) -> &'static str {
    match status {
        "sent" => "sent",
        "delivered" => "delivered",
        "undelivered" => "undelivered",
        "failed" => "failed",
        "read" => "read",
        _ => "unknown",
    }
}

/// What a processed send produced.
pub enum Outcome {
    Rejected(TwilioError),
    Accepted { msg: Box<Message>, body: Bytes },
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SmsStats {
    pub requests: u64,
    pub unique_accepted: u64,
    /// Always 0: Twilio has no idempotency key, so a repeated send is one more message. Kept
    /// so the counters have the same shape on every simulator (payments counts replays).
    pub duplicates: u64,
    pub callbacks_sent: u64,
    pub callbacks_failed: u64,
}

#[derive(Default)]
struct Inner {
    stats: SmsStats,
    messages: Vec<Message>,
    by_sid: HashMap<String, usize>,
}

#[derive(Default)]
pub struct SmsState {
    inner: Mutex<Inner>,
}

/// The resource JSON as sent on the wire.
pub fn resource_body(msg: &Message) -> Bytes {
    Bytes::from(msg.resource().to_string())
}

impl SmsState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("sms state poisoned")
    }

    pub fn count_request(&self) {
        self.lock().stats.requests += 1;
    }

    /// Validates and accepts a send; every valid send is a new message.
    pub fn accept(
        &self,
        account: &str,
        form: Vec<(String, String)>,
        fault_id: Option<String>,
        now: SystemTime,
    ) -> Outcome {
        let draft = match message::validate(&form) {
            Ok(draft) => draft,
            Err(err) => return Outcome::Rejected(err),
        };
        let msg = Message::new(account, draft, form, fault_id, now);
        let body = resource_body(&msg);
        let mut inner = self.lock();
        inner.stats.unique_accepted += 1;
        let index = inner.messages.len();
        inner.by_sid.insert(msg.sid.clone(), index);
        inner.messages.push(msg.clone());
        Outcome::Accepted {
            msg: Box::new(msg),
            body,
        }
    }

    pub fn advance(&self, sid: &str, status: &str, error_code: Option<u32>, now: SystemTime) {
        let mut inner = self.lock();
        let Some(i) = inner.by_sid.get(sid).copied() else {
            return;
        };
        let msg = &mut inner.messages[i];
        if rank(status) < rank(msg.status) {
            return;
        }
        msg.status = intern(status);
        msg.date_updated = now;
        if error_code.is_some() {
            msg.error_code = error_code;
        }
        if msg.date_sent.is_none() {
            msg.date_sent = Some(now);
        }
    }

    pub fn get(&self, account: &str, sid: &str) -> Option<Message> {
        let inner = self.lock();
        let i = *inner.by_sid.get(sid)?;
        let msg = &inner.messages[i];
        (msg.account_sid == account).then(|| msg.clone())
    }

    pub fn stats(&self) -> SmsStats {
        self.lock().stats
    }

    pub fn messages(&self) -> Vec<Message> {
        self.lock().messages.clone()
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }
}

/// A message as the control API lists it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub sid: String,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
    /// Every form field as received, in order, repeated keys included.
    pub form: Vec<(String, String)>,
    pub status: &'static str,
    pub error_code: Option<u32>,
    pub encoding: &'static str,
    pub num_segments: usize,
    pub fault_id: Option<String>,
    pub callbacks: Vec<CallbackRecord>,
}

impl MessageView {
    pub fn new(msg: Message, callbacks: Vec<CallbackRecord>) -> Self {
        Self {
            sid: msg.sid,
            to: msg.draft.to,
            from: msg.draft.from,
            messaging_service_sid: msg.draft.messaging_service_sid,
            body: msg.draft.body,
            media_urls: msg.draft.media_urls,
            status_callback: msg.draft.status_callback,
            form: msg.form,
            status: msg.status,
            error_code: msg.error_code,
            encoding: msg.encoding.as_str(),
            num_segments: msg.num_segments,
            fault_id: msg.fault_id,
            callbacks,
        }
    }
}
