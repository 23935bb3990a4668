//! Everything the push simulators remember: live access tokens, every request with its
//! outcome, per-token counts, counters and the device settings.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::keys::SANDBOX_PUSH_RECEIPT_KEY;
use crate::callbacks::CallbackRecord;

/// The simulated device's settings (`PUT /_sandbox/push/config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceConfig {
    /// Where the device posts receipts; none means no receipts.
    pub receipt_url: Option<String>,
    /// HMAC-SHA256 key of the receipt signatures.
    pub receipt_key: String,
    /// Echoed in every receipt so the gateway knows whose key verifies it.
    pub connection_id: Option<String>,
    pub received_delay_ms: u64,
    pub opened_delay_ms: u64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            receipt_url: None,
            receipt_key: SANDBOX_PUSH_RECEIPT_KEY.into(),
            connection_id: None,
            received_delay_ms: 20,
            opened_delay_ms: 60,
        }
    }
}

/// A partial update; `receipt_url: ""` removes the URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfigPatch {
    pub receipt_url: Option<String>,
    pub receipt_key: Option<String>,
    pub connection_id: Option<String>,
    pub received_delay_ms: Option<u64>,
    pub opened_delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PushStats {
    /// Token endpoint requests answered with an access token.
    pub token_exchanges: u64,
    /// Token endpoint requests refused.
    pub token_exchange_failures: u64,
    pub fcm_requests: u64,
    pub apns_requests: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub receipts_sent: u64,
    pub receipts_failed: u64,
}

/// One request to FCM or APNs, whatever its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// `fcm` or `apns`.
    pub platform: &'static str,
    /// The device token, when the request named one.
    pub token: Option<String>,
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2.0` …
    pub http_version: String,
    /// The headers a provider reads (authorization, content-type, `apns-*`), lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The raw body as received.
    pub body: String,
    /// The HTTP status answered; `null` when a fault dropped the connection.
    pub status: Option<u16>,
    /// True when the provider took the push (even if a fault then spoiled the answer).
    pub accepted: bool,
    /// `accepted`, or the provider's error code / reason, or the injected fault's.
    pub outcome: String,
    pub provider_message_id: Option<String>,
    /// `sb_message_id` from the payload, which receipts carry back.
    pub sb_message_id: Option<String>,
    pub fault_id: Option<String>,
    /// Device events that came due (`received`, `opened`), including dropped posts.
    pub events: Vec<String>,
}

#[derive(Default)]
struct Inner {
    config: DeviceConfig,
    stats: PushStats,
    requests: Vec<RequestRecord>,
    token_requests: BTreeMap<String, u64>,
    /// Access token → expiry (sim clock ms).
    access_tokens: HashMap<String, u64>,
}

#[derive(Default)]
pub struct PushState {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PushState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushState").finish_non_exhaustive()
    }
}

impl PushState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("push state poisoned")
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    pub fn config(&self) -> DeviceConfig {
        self.lock().config.clone()
    }

    pub fn patch_config(&self, p: DeviceConfigPatch) -> DeviceConfig {
        let mut inner = self.lock();
        let c = &mut inner.config;
        if let Some(url) = p.receipt_url {
            c.receipt_url = (!url.is_empty()).then_some(url);
        }
        if let Some(k) = p.receipt_key {
            c.receipt_key = k;
        }
        if let Some(id) = p.connection_id {
            c.connection_id = (!id.is_empty()).then_some(id);
        }
        if let Some(ms) = p.received_delay_ms {
            c.received_delay_ms = ms;
        }
        if let Some(ms) = p.opened_delay_ms {
            c.opened_delay_ms = ms;
        }
        c.clone()
    }

    pub fn issue_token(&self, token: String, expires_at_ms: u64) {
        let mut inner = self.lock();
        inner.stats.token_exchanges += 1;
        // Expired tokens are worthless; forget them so the map stays small.
        inner
            .access_tokens
            .retain(|_, exp| *exp > expires_at_ms.saturating_sub(3_600_000));
        inner.access_tokens.insert(token, expires_at_ms);
    }

    pub fn refuse_token(&self) {
        self.lock().stats.token_exchange_failures += 1;
    }

    pub fn token_live(&self, token: &str, now_ms: u64) -> bool {
        self.lock()
            .access_tokens
            .get(token)
            .is_some_and(|exp| *exp > now_ms)
    }

    /// Stores a request and returns its sequence number.
    pub fn record(&self, mut rec: RequestRecord) -> u64 {
        let mut inner = self.lock();
        match rec.platform {
            "fcm" => inner.stats.fcm_requests += 1,
            _ => inner.stats.apns_requests += 1,
        }
        if rec.accepted {
            inner.stats.accepted += 1;
        } else {
            inner.stats.rejected += 1;
        }
        if let Some(t) = &rec.token {
            *inner.token_requests.entry(t.clone()).or_default() += 1;
        }
        rec.seq = inner.requests.len() as u64 + 1;
        let seq = rec.seq;
        inner.requests.push(rec);
        seq
    }

    pub fn record_event(&self, seq: u64, event: &str) {
        let mut inner = self.lock();
        if let Some(r) = seq
            .checked_sub(1)
            .and_then(|i| inner.requests.get_mut(i as usize))
        {
            r.events.push(event.to_owned());
        }
    }

    pub fn stats(&self) -> PushStats {
        self.lock().stats
    }

    pub fn requests(&self) -> (Vec<RequestRecord>, BTreeMap<String, u64>) {
        let inner = self.lock();
        (inner.requests.clone(), inner.token_requests.clone())
    }
}

/// A request as `GET /_sandbox/push/messages` lists it, with its receipt POSTs.
#[derive(Debug, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub record: RequestRecord,
    pub receipts: Vec<CallbackRecord>,
}
