//! What the payments simulator remembers: charges, counters, stored idempotent responses and
//! the per-token decline overrides set through the control API.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Serialize;

use super::cards::{self, DeclineCode, SANDBOX_PAYMENTS_CARDS, SandboxCard};
use super::charge::{ChargeRecord, PaymentsStats};
use super::errors::StripeError;
use super::params;

/// Stripe prunes idempotency keys once they are 24 hours old; a later request with the key is
/// a new request.
pub const IDEMPOTENCY_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// A charge request as the handler hands it over.
pub struct ChargeRequest {
    pub form: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub fault_id: Option<String>,
}

/// The answer to a charge request.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    /// A stored response replayed for its `Idempotency-Key`.
    pub replayed: bool,
}

impl Answer {
    fn error(e: StripeError) -> Self {
        Self {
            status: e.status,
            body: e.body(),
            replayed: false,
        }
    }
}

struct Stored {
    status: StatusCode,
    body: Bytes,
    params: Vec<(String, String)>,
    stored_at_ms: u64,
    charge_id: String,
}

/// A test card with the decline it currently gets.
#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    #[serde(flatten)]
    pub card: SandboxCard,
    /// Whether `decline` comes from `PUT /_sandbox/payments/cards/{token}`.
    pub overridden: bool,
}

#[derive(Default)]
struct Inner {
    stats: PaymentsStats,
    charges: Vec<ChargeRecord>,
    by_id: HashMap<String, usize>,
    idempotency: HashMap<String, Stored>,
    /// Token → the decline it gets instead of its own (`None`: approve).
    overrides: HashMap<&'static str, Option<DeclineCode>>,
}

impl Inner {
    fn card_view(&self, card: &SandboxCard) -> CardView {
        let overridden = self.overrides.get(card.token).copied();
        CardView {
            card: SandboxCard {
                decline: overridden.unwrap_or(card.decline),
                ..*card
            },
            overridden: overridden.is_some(),
        }
    }
}

#[derive(Default)]
pub(crate) struct PaymentsState {
    inner: Mutex<Inner>,
}

impl PaymentsState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("payments state poisoned")
    }

    pub fn count_request(&self) {
        self.lock().stats.requests += 1;
    }

    /// Idempotency lookup, validation and the charge under one lock, so two concurrent
    /// requests with the same key cannot both charge the card.
    pub fn charge(&self, req: ChargeRequest, now_ms: u64) -> Answer {
        let mut inner = self.lock();
        let canonical = params::canonical(&req.form);
        if let Some(key) = &req.idempotency_key {
            let expired = inner
                .idempotency
                .get(key)
                .is_some_and(|s| now_ms.saturating_sub(s.stored_at_ms) >= IDEMPOTENCY_TTL_MS);
            if expired {
                inner.idempotency.remove(key);
            }
            if let Some(stored) = inner.idempotency.get(key) {
                if stored.params != canonical {
                    return Answer::error(StripeError::idempotency_conflict(key));
                }
                let (status, body) = (stored.status, stored.body.clone());
                if let Some(i) = inner.by_id.get(&stored.charge_id).copied() {
                    inner.charges[i].times_requested += 1;
                }
                inner.stats.duplicates += 1;
                return Answer {
                    status,
                    body,
                    replayed: true,
                };
            }
        }
        // Invalid parameters are not stored: Stripe saves a result only once the endpoint
        // began executing, so the corrected request may reuse the key.
        let params = match params::validate(&req.form) {
            Ok(p) => p,
            Err(e) => return Answer::error(e.into()),
        };
        let card = params.card;
        let decline = inner
            .overrides
            .get(card.token)
            .copied()
            .unwrap_or(card.decline);
        let record = ChargeRecord::new(
            params,
            decline,
            req.idempotency_key.clone(),
            req.fault_id,
            now_ms / 1000,
        );
        let (status, body) = match decline {
            None => {
                inner.stats.charges_succeeded += 1;
                (
                    StatusCode::OK,
                    Bytes::from(record.resource(card).to_string()),
                )
            }
            Some(d) => {
                inner.stats.charges_declined += 1;
                let e = StripeError::declined(d, &record.id);
                (e.status, e.body())
            }
        };
        if let Some(key) = req.idempotency_key {
            let stored = Stored {
                status,
                body: body.clone(),
                params: canonical,
                stored_at_ms: now_ms,
                charge_id: record.id.clone(),
            };
            inner.idempotency.insert(key, stored);
        }
        let index = inner.charges.len();
        inner.by_id.insert(record.id.clone(), index);
        inner.charges.push(record);
        Answer {
            status,
            body,
            replayed: false,
        }
    }

    /// Makes `token` decline with `decline` (or approve, with `None`) from now on; `None` when
    /// the token is not a sandbox card.
    pub fn set_card(&self, token: &str, decline: Option<DeclineCode>) -> Option<CardView> {
        let card = cards::find(token)?;
        let mut inner = self.lock();
        inner.overrides.insert(card.token, decline);
        Some(inner.card_view(card))
    }

    pub fn cards(&self) -> Vec<CardView> {
        let inner = self.lock();
        SANDBOX_PAYMENTS_CARDS
            .iter()
            .map(|c| inner.card_view(c))
            .collect()
    }

    pub fn charges(&self) -> Vec<ChargeRecord> {
        self.lock().charges.clone()
    }

    pub fn stats(&self) -> PaymentsStats {
        self.lock().stats
    }

    /// Forgets charges, counters, stored responses and card overrides.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: Option<&str>, amount: &str) -> ChargeRequest {
        ChargeRequest {
            form: vec![
                ("amount".into(), amount.into()),
                ("currency".into(), "usd".into()),
                ("source".into(), "tok_visa".into()),
            ],
            idempotency_key: key.map(str::to_owned),
            fault_id: None,
        }
    }

    #[test]
    fn replays_conflicts_and_expires_keys() {
        let state = PaymentsState::default();
        let t0 = 1_700_000_000_000;
        let first = state.charge(req(Some("k"), "500"), t0);
        let again = state.charge(req(Some("k"), "500"), t0 + 1000);
        assert_eq!((first.status, again.replayed), (StatusCode::OK, true));
        assert_eq!(first.body, again.body);
        let other = state.charge(req(Some("k"), "600"), t0 + 2000);
        assert_eq!(other.status, StatusCode::BAD_REQUEST);
        assert_eq!(state.charges().len(), 1);
        assert_eq!(state.charges()[0].times_requested, 2);
        // A day later the key is free again.
        let later = state.charge(req(Some("k"), "600"), t0 + IDEMPOTENCY_TTL_MS);
        assert_eq!((later.status, later.replayed), (StatusCode::OK, false));
        assert_eq!(state.charges().len(), 2);
        let stats = state.stats();
        assert_eq!((stats.charges_succeeded, stats.duplicates), (2, 1));
    }

    #[test]
    fn invalid_requests_are_not_stored_and_overrides_apply() {
        let state = PaymentsState::default();
        let bad = state.charge(req(Some("k"), "abc"), 0);
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            state
                .set_card("tok_visa", Some(DeclineCode::InsufficientFunds))
                .is_some()
        );
        assert!(state.set_card("tok_unknown", None).is_none());
        let declined = state.charge(req(Some("k"), "500"), 0);
        assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
        let charges = state.charges();
        assert_eq!(
            (charges[0].status, charges[0].decline_code),
            ("failed", Some(DeclineCode::InsufficientFunds))
        );
        state.clear();
        assert!(state.cards().iter().all(|c| !c.overridden));
    }
}
