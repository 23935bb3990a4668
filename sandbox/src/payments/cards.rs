//! Stripe's test card tokens and the decline each one stands for.
//!
//! The tokens are Stripe's own (`tok_visa`, `tok_chargeDeclined`, …), with the brand and last
//! four digits of the test card behind each, so code written against the sandbox runs
//! unchanged against Stripe's test mode.

use serde::{Deserialize, Serialize};

/// Why the simulated issuer declines a charge: Stripe's `decline_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    GenericDecline,
    InsufficientFunds,
    LostCard,
    StolenCard,
    Fraudulent,
    ExpiredCard,
    IncorrectCvc,
    ProcessingError,
}

/// The `error` fields of a decline other than the charge id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclineError {
    /// Stripe's error `code`; most declines are `card_declined`, a few have their own code.
    pub code: &'static str,
    pub message: &'static str,
    /// The card field Stripe blames, when it names one.
    pub param: Option<&'static str>,
}

impl DeclineCode {
    pub const ALL: [Self; 8] = [
        Self::GenericDecline,
        Self::InsufficientFunds,
        Self::LostCard,
        Self::StolenCard,
        Self::Fraudulent,
        Self::ExpiredCard,
        Self::IncorrectCvc,
        Self::ProcessingError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GenericDecline => "generic_decline",
            Self::InsufficientFunds => "insufficient_funds",
            Self::LostCard => "lost_card",
            Self::StolenCard => "stolen_card",
            Self::Fraudulent => "fraudulent",
            Self::ExpiredCard => "expired_card",
            Self::IncorrectCvc => "incorrect_cvc",
            Self::ProcessingError => "processing_error",
        }
    }

    /// Stripe's error for this decline, worded as Stripe words it to the customer.
    pub fn error(self) -> DeclineError {
        let declined = |message| DeclineError {
            code: "card_declined",
            message,
            param: None,
        };
        match self {
            Self::InsufficientFunds => declined("Your card has insufficient funds."),
            Self::GenericDecline | Self::LostCard | Self::StolenCard | Self::Fraudulent => {
                declined("Your card was declined.")
            }
            Self::ExpiredCard => DeclineError {
                code: "expired_card",
                message: "Your card has expired.",
                param: Some("exp_month"),
            },
            Self::IncorrectCvc => DeclineError {
                code: "incorrect_cvc",
                message: "Your card's security code is incorrect.",
                param: Some("cvc"),
            },
            Self::ProcessingError => DeclineError {
                code: "processing_error",
                message: "An error occurred while processing your card. Try again in a little bit.",
                param: None,
            },
        }
    }
}

/// A test card token the simulated processor knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SandboxCard {
    pub token: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    /// `None`: approved (unless `PUT /_sandbox/payments/cards/{token}` says otherwise).
    pub decline: Option<DeclineCode>,
}

const fn card(
    token: &'static str,
    brand: &'static str,
    last4: &'static str,
    decline: Option<DeclineCode>,
) -> SandboxCard {
    SandboxCard {
        token,
        brand,
        last4,
        decline,
    }
}

/// Every token the simulator accepts as `source`; any other is `resource_missing`.
pub const SANDBOX_PAYMENTS_CARDS: &[SandboxCard] = &[
    card("tok_visa", "Visa", "4242", None),
    card("tok_visa_debit", "Visa", "5556", None),
    card("tok_mastercard", "MasterCard", "4444", None),
    card("tok_amex", "American Express", "0005", None),
    card(
        "tok_chargeDeclined",
        "Visa",
        "0002",
        Some(DeclineCode::GenericDecline),
    ),
    card(
        "tok_chargeDeclinedInsufficientFunds",
        "Visa",
        "9995",
        Some(DeclineCode::InsufficientFunds),
    ),
    card(
        "tok_chargeDeclinedLostCard",
        "Visa",
        "9987",
        Some(DeclineCode::LostCard),
    ),
    card(
        "tok_chargeDeclinedStolenCard",
        "Visa",
        "9979",
        Some(DeclineCode::StolenCard),
    ),
    card(
        "tok_chargeDeclinedFraudulent",
        "Visa",
        "0019",
        Some(DeclineCode::Fraudulent),
    ),
    card(
        "tok_chargeDeclinedExpiredCard",
        "Visa",
        "0069",
        Some(DeclineCode::ExpiredCard),
    ),
    card(
        "tok_chargeDeclinedIncorrectCvc",
        "Visa",
        "0127",
        Some(DeclineCode::IncorrectCvc),
    ),
    card(
        "tok_chargeDeclinedProcessingError",
        "Visa",
        "0119",
        Some(DeclineCode::ProcessingError),
    ),
];

pub fn find(token: &str) -> Option<&'static SandboxCard> {
    SANDBOX_PAYMENTS_CARDS.iter().find(|c| c.token == token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_declines_serialize_as_stripe_codes() {
        for (i, c) in SANDBOX_PAYMENTS_CARDS.iter().enumerate() {
            assert_eq!(find(c.token), Some(c));
            assert!(c.last4.len() == 4 && c.last4.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                SANDBOX_PAYMENTS_CARDS[..i]
                    .iter()
                    .all(|o| o.token != c.token)
            );
        }
        for d in DeclineCode::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        assert_eq!(DeclineCode::ExpiredCard.error().code, "expired_card");
        assert_eq!(DeclineCode::GenericDecline.error().code, "card_declined");
    }
}
