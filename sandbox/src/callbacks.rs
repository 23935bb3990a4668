//! Delayed, signed delivery callbacks, shared by every simulator.
//!
//! Simulators build the callbacks (their provider's parameters and signature header) and hand
//! this module a timeline of [`Step`]s; this module only waits, posts and records. One task
//! runs one message's timeline in order, so "delivered before sent" or "twice in a row" is
//! exactly what the receiver sees even when two steps are due at the same instant. The cost is
//! that a receiver which hangs until the 5 s timeout delays that message's later steps, which
//! is also what a real provider's per-message queue tends to do.
//!
//! Every attempt is recorded (HTTP status or transport error) so tests can assert on what the
//! gateway answered. Pending timelines are aborted on reset, so callbacks scheduled before a
//! reset never leak into the counters of the next test.

use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Providers give up on a callback after a few seconds; so does the sandbox.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Computes signature headers over the exact bytes about to be posted. Run at posting time,
/// not at scheduling time, because providers that sign a timestamp sign the time of the POST
/// (a receiver with a replay window would otherwise reject late steps).
pub type Signer = fn(body: &[u8]) -> Vec<(String, String)>;

#[derive(Debug, Clone)]
pub enum CallbackBody {
    /// `application/x-www-form-urlencoded`, fields in the given order.
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
    /// Posted byte for byte with this content type, so a signature over the raw body holds;
    /// `sign` adds its headers to the request when it is posted.
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
        sign: Option<Signer>,
    },
}

/// One HTTP callback, fully built by a simulator (including any signature header).
#[derive(Debug, Clone)]
pub struct Callback {
    pub channel: &'static str,
    pub message_id: String,
    /// What the callback reports, e.g. `delivered`; recorded for the control API.
    pub event: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: CallbackBody,
    /// How long the provider keeps retrying a POST the receiver did not take (a transport
    /// error, 429 or 5xx); `None` for providers that post once. Retries back off from
    /// [`RETRY_FIRST`] to [`RETRY_CAP`]: compressed from the providers' minutes so a test sees
    /// the recovery, while the budget is the provider's own.
    pub retry_for: Option<Duration>,
}

/// First wait before a callback is posted again.
pub const RETRY_FIRST: Duration = Duration::from_millis(250);
/// The longest wait between two posts of the same callback.
pub const RETRY_CAP: Duration = Duration::from_secs(8);

/// A hook run when a step comes due, before its callbacks are posted; simulators use it to
/// advance the message's own status even when the callbacks are dropped.
pub type StepHook = Box<dyn FnOnce() + Send>;

/// A point on a message's timeline.
pub struct Step {
    pub at: Instant,
    pub before: Option<StepHook>,
    pub callbacks: Vec<Callback>,
}

/// Outcome of one callback attempt.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackRecord {
    #[serde(skip)]
    pub channel: &'static str,
    #[serde(skip)]
    pub message_id: String,
    pub event: String,
    pub url: String,
    pub attempted_at_ms: u64,
    /// HTTP status the receiver answered, if it answered.
    pub http_status: Option<u16>,
    /// Transport error (connect refused, timeout …), if it did not.
    pub error: Option<String>,
    /// True when the receiver answered 2xx.
    pub ok: bool,
}

/// Cheap to clone; clones share the HTTP client, the log and the task set.
#[derive(Clone)]
pub struct CallbackSender {
    client: reqwest::Client,
    log: Arc<Mutex<Vec<CallbackRecord>>>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl CallbackSender {
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            log: Arc::default(),
            tasks: Arc::new(Mutex::new(JoinSet::new())),
        }
    }

    /// Runs `steps` (in the given order) on a background task. Must be called from within a
    /// tokio runtime.
    pub fn schedule(&self, steps: Vec<Step>) {
        let this = self.clone();
        let mut tasks = self.tasks.lock().expect("callback tasks poisoned");
        // Reap finished timelines so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            for step in steps {
                tokio::time::sleep_until(step.at).await;
                if let Some(hook) = step.before {
                    hook();
                }
                for cb in step.callbacks {
                    this.deliver_with_retries(cb).await;
                }
            }
        });
    }

    async fn deliver_with_retries(&self, cb: Callback) {
        let give_up = cb.retry_for.map(|d| Instant::now() + d);
        let mut wait = RETRY_FIRST;
        loop {
            let taken = self.deliver(&cb).await;
            match give_up {
                Some(end) if !taken && Instant::now() + wait < end => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_CAP);
                }
                _ => return,
            }
        }
    }

    /// One POST, recorded. Whether the receiver took it: a 2xx, or a 4xx other than 429 (an
    /// answer, which providers do not retry); transport errors, 429 and 5xx are not taken.
    async fn deliver(&self, cb: &Callback) -> bool {
        let mut req = self.client.post(&cb.url).timeout(CALLBACK_TIMEOUT);
        for (k, v) in &cb.headers {
            req = req.header(k, v);
        }
        req = match &cb.body {
            CallbackBody::Form(fields) => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish();
                req.header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
            CallbackBody::Json(v) => req.json(v),
            CallbackBody::Raw {
                content_type,
                bytes,
                sign,
            } => {
                for (k, v) in sign.map(|sign| sign(bytes)).unwrap_or_default() {
                    req = req.header(k, v);
                }
                req.header("content-type", *content_type)
                    .body(bytes.clone())
            }
        };
        let attempted_at_ms = unix_ms();
        let (http_status, error) = match req.send().await {
            Ok(resp) => (Some(resp.status().as_u16()), None),
            Err(e) => (None, Some(error_chain(&e))),
        };
        let ok = http_status.is_some_and(|s| (200..300).contains(&s));
        tracing::debug!(url = %cb.url, event = %cb.event, ?http_status, ?error, "sandbox callback");
        self.log
            .lock()
            .expect("callback log poisoned")
            .push(CallbackRecord {
                channel: cb.channel,
                message_id: cb.message_id.clone(),
                event: cb.event.clone(),
                url: cb.url.clone(),
                attempted_at_ms,
                http_status,
                error,
                ok,
            });
        http_status.is_some_and(|s| s < 500 && s != 429)
    }

    pub fn records_for(&self, channel: &str, message_id: &str) -> Vec<CallbackRecord> {
        let log = self.log.lock().expect("callback log poisoned");
        log.iter()
            .filter(|r| r.channel == channel && r.message_id == message_id)
            .cloned()
            .collect()
    }

    /// `(ok, failed)` attempt counts for a channel.
    pub fn counts(&self, channel: &str) -> (u64, u64) {
        let log = self.log.lock().expect("callback log poisoned");
        log.iter()
            .filter(|r| r.channel == channel)
            .fold((0, 0), |(ok, failed), r| {
                if r.ok {
                    (ok + 1, failed)
                } else {
                    (ok, failed + 1)
                }
            })
    }

    /// Aborts every pending timeline and forgets every recorded attempt.
    pub fn clear(&self) {
        // Dropping the old set aborts its tasks.
        let old = std::mem::take(&mut *self.tasks.lock().expect("callback tasks poisoned"));
        drop(old);
        self.log.lock().expect("callback log poisoned").clear();
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn error_chain(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        format!("timeout: {e}")
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
