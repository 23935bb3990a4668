//! Accepted emails and counters of the SendGrid simulator.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use super::errors::SendGridError;
use super::mail::{self, Content, Mail, Personalization};
use crate::callbacks::CallbackRecord;

/// What a processed send produced.
pub enum Outcome {
    Rejected(SendGridError),
    Accepted(Box<Message>),
}

/// An event of a message's timeline that came due (whether or not its POST was dropped).
#[derive(Debug, Clone, Serialize)]
pub struct EventDue {
    pub email: String,
    pub event: String,
    pub sg_event_id: String,
    /// The recipient's `sg_message_id`, which the Email Activity API calls `msg_id`.
    pub sg_message_id: String,
    /// Epoch seconds, as in the posted event.
    pub timestamp: u64,
    /// `bounce` or `blocked` for a bounce event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounce_type: Option<&'static str>,
}

/// An accepted email and everything the control API reports about it.
#[derive(Debug, Clone)]
pub struct Message {
    pub x_message_id: String,
    /// One `sg_message_id` per recipient, in the order of [`Message::recipients`].
    pub sg_message_ids: Vec<String>,
    pub mail: Mail,
    /// The request body exactly as received.
    pub request: String,
    pub events: Vec<EventDue>,
    /// Fault rule applied to the accepting request, if any.
    pub fault_id: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EmailStats {
    pub requests: u64,
    pub unique_accepted: u64,
    /// Always 0: SendGrid has no idempotency key, so a repeated send is one more email. Kept
    /// so the counters have the same shape on every simulator (payments counts replays).
    pub duplicates: u64,
    pub callbacks_sent: u64,
    pub callbacks_failed: u64,
}

#[derive(Default)]
struct Inner {
    stats: EmailStats,
    messages: Vec<Message>,
    by_id: HashMap<String, usize>,
}

impl Message {
    /// Every recipient with its personalization and `sg_message_id`, in request order.
    pub fn recipients(&self) -> impl Iterator<Item = (&Personalization, &str, &str)> {
        self.mail
            .personalizations
            .iter()
            .flat_map(|p| p.to.iter().map(move |a| (p, a.email.as_str())))
            .zip(&self.sg_message_ids)
            .map(|((p, email), id)| (p, email, id.as_str()))
    }
}

#[derive(Default)]
pub struct EmailState {
    inner: Mutex<Inner>,
    /// The account's authenticated domains (Domain Authentication).
    pub(crate) domains: super::domains::EmailDomains,
}

/// 16 random bytes in URL-safe base64 without padding: 22 characters, the length and alphabet
/// of SendGrid's X-Message-Id. No `.` can appear, so clients may split `sg_message_id` on it.
pub fn random_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

impl EmailState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("email state poisoned")
    }

    pub fn count_request(&self) {
        self.lock().stats.requests += 1;
    }

    /// SendGrid sends only from a verified Sender Identity: a verified single sender (the
    /// sandbox account has one, [`crate::SANDBOX_EMAIL_FROM`]) or an address on an
    /// authenticated domain that passed its last validation.
    pub fn is_sender_identity(&self, from: &str) -> bool {
        from.eq_ignore_ascii_case(crate::SANDBOX_EMAIL_FROM) || self.domains.covers(from)
    }

    /// Validates and accepts a send; every valid send is a new email.
    pub fn accept(&self, raw: &[u8], body: Option<&Value>, fault_id: Option<String>) -> Outcome {
        let mail = match body.map(mail::validate) {
            Some(Ok(mail)) => mail,
            Some(Err(err)) => return Outcome::Rejected(err),
            None => return Outcome::Rejected(SendGridError::malformed()),
        };
        if !self.is_sender_identity(&mail.from.email) {
            return Outcome::Rejected(SendGridError::unverified_sender());
        }
        let x_message_id = random_id();
        // SendGrid's sg_message_id is the X-Message-Id, a filter tag and two numbers; the
        // first stands for the processing node, the second tells recipients apart.
        let node = rand::random_range(10_000..100_000u32);
        let recipients = mail.personalizations.iter().map(|p| p.to.len()).sum();
        let msg = Message {
            sg_message_ids: (0..recipients)
                .map(|i| format!("{x_message_id}.filter0001.{node}.{i}"))
                .collect(),
            x_message_id,
            mail,
            request: String::from_utf8_lossy(raw).into_owned(),
            events: Vec::new(),
            fault_id,
        };
        let mut inner = self.lock();
        inner.stats.unique_accepted += 1;
        let index = inner.messages.len();
        inner.by_id.insert(msg.x_message_id.clone(), index);
        inner.messages.push(msg.clone());
        Outcome::Accepted(Box::new(msg))
    }

    pub fn record_event(&self, x_message_id: &str, event: EventDue) {
        let mut inner = self.lock();
        if let Some(i) = inner.by_id.get(x_message_id).copied() {
            inner.messages[i].events.push(event);
        }
    }

    pub fn stats(&self) -> EmailStats {
        self.lock().stats
    }

    pub fn messages(&self) -> Vec<Message> {
        self.lock().messages.clone()
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
        self.domains.clear();
    }
}

/// A message as the control API lists it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub x_message_id: String,
    /// Every recipient, across personalizations.
    pub to: Vec<String>,
    pub from: String,
    pub from_name: Option<String>,
    /// What the first personalization's recipients see as subject.
    pub subject: Option<String>,
    pub content: Vec<Content>,
    /// The first personalization's custom args, top-level ones merged in.
    pub custom_args: BTreeMap<String, String>,
    /// The raw JSON request body as received.
    pub request: String,
    pub fault_id: Option<String>,
    /// Events that came due, in timeline order, including those whose POST was dropped.
    pub events: Vec<EventDue>,
    /// Every POST of an event to the webhook, with the receiver's answer.
    pub callbacks: Vec<CallbackRecord>,
}

impl MessageView {
    pub fn new(msg: Message, callbacks: Vec<CallbackRecord>) -> Self {
        let first = msg.mail.personalizations.first();
        Self {
            x_message_id: msg.x_message_id,
            to: msg
                .mail
                .personalizations
                .iter()
                .flat_map(|p| p.to.iter().map(|a| a.email.clone()))
                .collect(),
            from: msg.mail.from.email.clone(),
            from_name: msg.mail.from.name.clone(),
            subject: first.and_then(|p| msg.mail.subject_for(p)),
            custom_args: first.map(|p| p.custom_args.clone()).unwrap_or_default(),
            content: msg.mail.content,
            request: msg.request,
            fault_id: msg.fault_id,
            events: msg.events,
            callbacks,
        }
    }
}
