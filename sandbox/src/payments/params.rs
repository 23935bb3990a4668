//! The form parameters of `POST /v1/charges`, checked in the order Stripe reports them.

use std::collections::BTreeMap;

use super::cards::{self, SandboxCard};
use super::errors::{MAX_AMOUNT, ParamError};

/// Stripe's metadata limits.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;

/// A charge request that passed validation.
#[derive(Debug, Clone)]
pub struct ChargeParams {
    /// In the smallest currency unit (cents, won, …).
    pub amount: u64,
    /// Lowercase ISO 4217 code.
    pub currency: String,
    pub card: &'static SandboxCard,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// The value of a field, the last one when it is repeated (as Stripe's form parser keeps the
/// last); an empty value counts as absent.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn metadata_key(name: &str) -> Option<&str> {
    name.strip_prefix("metadata[")?
        .strip_suffix(']')
        .filter(|k| !k.is_empty() && !k.contains(['[', ']']))
}

fn known(name: &str) -> bool {
    matches!(name, "amount" | "currency" | "source" | "description") || metadata_key(name).is_some()
}

fn amount(raw: &str) -> Result<u64, ParamError> {
    let invalid = || ParamError::InvalidInteger {
        param: "amount",
        value: raw.to_owned(),
    };
    if let Some(digits) = raw.strip_prefix('-') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParamError::NotPositive { param: "amount" });
        }
        return Err(invalid());
    }
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // All digits, so the only parse failure left is overflow.
    let n: u64 = raw.parse().map_err(|_| ParamError::AmountTooLarge)?;
    match n {
        0 => Err(ParamError::NotPositive { param: "amount" }),
        n if n > MAX_AMOUNT => Err(ParamError::AmountTooLarge),
        n => Ok(n),
    }
}

fn currency(raw: &str) -> Result<String, ParamError> {
    if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ParamError::InvalidCurrency(raw.to_owned()))
    }
}

fn metadata(form: &[(String, String)]) -> Result<BTreeMap<String, String>, ParamError> {
    let mut out = BTreeMap::new();
    for (name, value) in form {
        if let Some(key) = metadata_key(name) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    if out.len() > MAX_METADATA_KEYS {
        return Err(ParamError::InvalidMetadata(format!(
            "metadata can have up to {MAX_METADATA_KEYS} keys, but currently has {} keys.",
            out.len()
        )));
    }
    for (k, v) in &out {
        if k.chars().count() > MAX_METADATA_KEY_CHARS {
            return Err(ParamError::InvalidMetadata(format!(
                "Metadata keys can have up to {MAX_METADATA_KEY_CHARS} characters, but key {k:?} is longer."
            )));
        }
        if v.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(ParamError::InvalidMetadata(format!(
                "Metadata values can have up to {MAX_METADATA_VALUE_CHARS} characters, but the value of {k:?} is longer."
            )));
        }
    }
    Ok(out)
}

pub fn validate(form: &[(String, String)]) -> Result<ChargeParams, ParamError> {
    if let Some((name, _)) = form.iter().find(|(k, _)| !known(k)) {
        return Err(ParamError::Unknown(name.clone()));
    }
    let amount = amount(field(form, "amount").ok_or(ParamError::Missing("amount"))?)?;
    let currency = currency(field(form, "currency").ok_or(ParamError::Missing("currency"))?)?;
    let source = field(form, "source").ok_or(ParamError::MissingSource)?;
    let metadata = metadata(form)?;
    let card = cards::find(source).ok_or_else(|| ParamError::NoSuchToken(source.to_owned()))?;
    Ok(ChargeParams {
        amount,
        currency,
        card,
        description: field(form, "description").map(str::to_owned),
        metadata,
    })
}

/// The parameters in a canonical order, for "same parameters" under an idempotency key: field
/// order is not a difference, values are.
pub fn canonical(form: &[(String, String)]) -> Vec<(String, String)> {
    let mut sorted = form.to_vec();
    sorted.sort();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)]) -> ParamError {
        validate(&form(pairs)).unwrap_err()
    }

    #[test]
    fn validates_in_stripe_order() {
        let ok = validate(&form(&[
            ("amount", "500"),
            ("currency", "KRW"),
            ("source", "tok_visa"),
            ("metadata[wallet]", "w_1"),
        ]))
        .unwrap();
        assert_eq!((ok.amount, ok.currency.as_str()), (500, "krw"));
        assert_eq!(ok.metadata["wallet"], "w_1");
        assert_eq!(ok.description, None);

        assert_eq!(err(&[("amout", "5")]), ParamError::Unknown("amout".into()));
        assert_eq!(
            err(&[("metadata", "x")]),
            ParamError::Unknown("metadata".into())
        );
        assert_eq!(err(&[]), ParamError::Missing("amount"));
        assert_eq!(
            err(&[("amount", "")]),
            ParamError::Missing("amount"),
            "empty is absent"
        );
        assert_eq!(
            err(&[("amount", "5.00")]),
            ParamError::InvalidInteger {
                param: "amount",
                value: "5.00".into()
            }
        );
        assert_eq!(
            err(&[("amount", "-5")]),
            ParamError::NotPositive { param: "amount" }
        );
        assert_eq!(
            err(&[("amount", "0")]),
            ParamError::NotPositive { param: "amount" }
        );
        assert_eq!(err(&[("amount", "100000000")]), ParamError::AmountTooLarge);
        assert_eq!(
            err(&[("amount", "99999999999999999999999")]),
            ParamError::AmountTooLarge
        );
        assert_eq!(err(&[("amount", "5")]), ParamError::Missing("currency"));
        assert_eq!(
            err(&[("amount", "5"), ("currency", "dollars")]),
            ParamError::InvalidCurrency("dollars".into())
        );
        assert_eq!(
            err(&[("amount", "5"), ("currency", "usd")]),
            ParamError::MissingSource
        );
        assert_eq!(
            err(&[("amount", "5"), ("currency", "usd"), ("source", "tok_nope")]),
            ParamError::NoSuchToken("tok_nope".into())
        );
        let long = "k".repeat(41);
        let key = format!("metadata[{long}]");
        assert!(matches!(
            err(&[
                ("amount", "5"),
                ("currency", "usd"),
                ("source", "tok_visa"),
                (&key, "v")
            ]),
            ParamError::InvalidMetadata(_)
        ));
    }

    #[test]
    fn canonical_ignores_order_only() {
        let a = form(&[("amount", "5"), ("currency", "usd")]);
        let b = form(&[("currency", "usd"), ("amount", "5")]);
        let c = form(&[("currency", "usd"), ("amount", "6")]);
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(canonical(&a), canonical(&c));
    }
}
