//! The payments boundary: charging a card for a top-up. One small trait, so the processor
//! can change without touching the wallet; one implementation speaking the Stripe Charges
//! API (`POST /v1/charges`, form-encoded, Basic auth with the secret key, `Idempotency-Key`),
//! which the sandbox simulates with Stripe's test card tokens.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::ledger::Micros;

#[derive(Debug, Clone)]
pub struct ChargeRequest {
    /// The top-up id: a retried charge is the same charge.
    pub idempotency_key: String,
    /// In the currency's smallest unit (cents for USD).
    pub amount_minor: i64,
    pub currency: String,
    /// A card token.
    pub card: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved {
        charge_id: String,
    },
    Declined {
        code: String,
        message: String,
        charge_id: Option<String>,
    },
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PaymentError {
    /// Worth trying again with the same idempotency key: network trouble, 5xx, 429.
    #[error("payment processor unavailable: {0}")]
    Transient(String),
    /// The processor refused the request itself (bad key, bad parameters): not a decline,
    /// and retrying will not help.
    #[error("payment processor refused the request: {0}")]
    Rejected(String),
}

pub type ChargeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ChargeOutcome, PaymentError>> + Send + 'a>>;

pub trait PaymentProcessor: Send + Sync {
    fn charge(&self, req: ChargeRequest) -> ChargeFuture<'_>;
}

/// Digits after the decimal point of a currency (ISO 4217 minor unit).
pub fn minor_exponent(currency: &str) -> u32 {
    match currency {
        "krw" | "jpy" | "vnd" | "clp" | "isk" | "ugx" | "xaf" | "xof" => 0,
        _ => 2,
    }
}

/// Micro-units to the processor's minor units; refuses amounts that are not whole minor units.
pub fn to_minor(amount: Micros, currency: &str) -> Result<i64, PaymentError> {
    let per = 10i64.pow(6 - minor_exponent(currency));
    if amount <= 0 || amount % per != 0 {
        return Err(PaymentError::Rejected(format!(
            "{amount} micro-units is not a positive whole number of the smallest {currency} unit ({per} micro-units)"
        )));
    }
    Ok(amount / per)
}

/// A Stripe-format card processor.
pub struct StripeCharges {
    base_url: String,
    secret_key: String,
    client: reqwest::Client,
}

impl StripeCharges {
    /// Fails only if the HTTP client cannot be built (no TLS backend): better to refuse to
    /// start than to charge cards without a timeout.
    pub fn new(
        base_url: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Result<StripeCharges, PaymentError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PaymentError::Rejected(format!("cannot build the HTTP client: {e}")))?;
        Ok(StripeCharges {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            secret_key: secret_key.into(),
            client,
        })
    }

    async fn post(&self, req: ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
        let form = [
            ("amount", req.amount_minor.to_string()),
            ("currency", req.currency.clone()),
            ("source", req.card.clone()),
            ("description", req.description.clone()),
            ("metadata[topup]", req.idempotency_key.clone()),
        ];
        let resp = self
            .client
            .post(format!("{}/v1/charges", self.base_url))
            .basic_auth(&self.secret_key, Some(""))
            .header("Idempotency-Key", &req.idempotency_key)
            .form(&form)
            .send()
            .await
            .map_err(|e| PaymentError::Transient(e.without_url().to_string()))?;
        let status = resp.status();
        // An unreadable answer is not a decline: the card may have been charged. Asking
        // again with the same idempotency key replays the processor's answer.
        let body: serde_json::Value = resp.json().await.map_err(|e| {
            PaymentError::Transient(format!(
                "HTTP {status} with an unreadable body: {}",
                e.without_url()
            ))
        })?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        match status.as_u16() {
            200..=299 => match body["status"].as_str() {
                Some("succeeded") => Ok(ChargeOutcome::Approved {
                    charge_id: text(&body["id"]),
                }),
                Some("failed") => Ok(ChargeOutcome::Declined {
                    code: body["failure_code"]
                        .as_str()
                        .unwrap_or("card_declined")
                        .to_string(),
                    message: text(&body["failure_message"]),
                    charge_id: body["id"].as_str().map(String::from),
                }),
                // `pending` (or anything new): not settled yet; ask again later.
                other => Err(PaymentError::Transient(format!(
                    "charge {} is {other:?}",
                    text(&body["id"])
                ))),
            },
            402 => {
                let e = &body["error"];
                let code = e["decline_code"]
                    .as_str()
                    .or(e["code"].as_str())
                    .unwrap_or("card_declined")
                    .to_string();
                Ok(ChargeOutcome::Declined {
                    code,
                    message: text(&e["message"]),
                    charge_id: e["charge"].as_str().map(String::from),
                })
            }
            429 | 500..=599 => Err(PaymentError::Transient(format!("HTTP {status}"))),
            _ => Err(PaymentError::Rejected(format!(
                "HTTP {status}: {}",
                text(&body["error"]["message"])
            ))),
        }
    }
}

impl PaymentProcessor for StripeCharges {
    fn charge(&self, req: ChargeRequest) -> ChargeFuture<'_> {
        Box::pin(self.post(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_units_become_whole_minor_units_or_are_refused() {
        assert_eq!(to_minor(25_000_000, "usd"), Ok(2_500));
        assert_eq!(to_minor(5_000_000_000, "krw"), Ok(5_000));
        assert!(to_minor(25_000_001, "usd").is_err());
        assert!(to_minor(0, "usd").is_err());
        assert!(to_minor(-10_000, "usd").is_err());
    }
}
