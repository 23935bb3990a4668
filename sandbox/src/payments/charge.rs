//! A charge as the simulator records it, and Stripe's Charge object built from it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::cards::{DeclineCode, SandboxCard};
use super::params::ChargeParams;

/// One charge, approved (`succeeded`) or declined (`failed`), as
/// `GET /_sandbox/payments/charges` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ChargeRecord {
    pub id: String,
    pub amount: u64,
    pub currency: String,
    /// The token given as `source`.
    pub source: String,
    pub status: &'static str,
    pub decline_code: Option<DeclineCode>,
    /// Stripe's error `code` of a decline (`card_declined`, `expired_card`, …).
    pub failure_code: Option<&'static str>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    /// Unix seconds by the simulator clock.
    pub created: u64,
    /// 1 + the idempotent replays of the request that created it.
    pub times_requested: u64,
    /// The fault rule applied to the creating request (an `accept` fault), if any.
    pub fault_id: Option<String>,
    /// The id of the card object in the response (`card_…`), stable across replays.
    #[serde(skip)]
    pub card_id: String,
}

impl ChargeRecord {
    pub fn new(
        params: ChargeParams,
        decline: Option<DeclineCode>,
        idempotency_key: Option<String>,
        fault_id: Option<String>,
        created: u64,
    ) -> Self {
        Self {
            id: super::random_id("ch_", 24),
            amount: params.amount,
            currency: params.currency,
            source: params.card.token.to_owned(),
            status: if decline.is_some() {
                "failed"
            } else {
                "succeeded"
            },
            decline_code: decline,
            failure_code: decline.map(|d| d.error().code),
            description: params.description,
            metadata: params.metadata,
            idempotency_key,
            created,
            times_requested: 1,
            fault_id,
            card_id: super::random_id("card_", 24),
        }
    }

    /// Stripe's Charge object for an approved charge (declines answer with the error envelope).
    pub fn resource(&self, card: &SandboxCard) -> Value {
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount,
            "amount_refunded": 0,
            "captured": true,
            "created": self.created,
            "currency": self.currency,
            "description": self.description,
            "failure_code": null,
            "failure_message": null,
            "livemode": false,
            "metadata": self.metadata,
            "outcome": {
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": true,
            "refunded": false,
            "source": {
                "id": self.card_id,
                "object": "card",
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": 12,
                "exp_year": 2034,
                "funding": if card.token.ends_with("_debit") { "debit" } else { "credit" },
            },
            "status": self.status,
        })
    }
}

/// The payments counters of `GET /_sandbox/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PaymentsStats {
    /// Every `POST /v1/charges`: unauthenticated, invalid, faulted and replayed ones too.
    pub requests: u64,
    pub charges_succeeded: u64,
    pub charges_declined: u64,
    /// `Idempotency-Key` replays.
    pub duplicates: u64,
}
