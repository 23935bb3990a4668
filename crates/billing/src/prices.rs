//! The price table: what one unit of a product costs on a channel, to a destination country,
//! from a date. The plugin's quote says the product (`sms`, `lms`, `mms`, `alimtalk`) and the
//! units (segments); the price table turns them into a cost.
//!
//! A lookup takes, in order of preference: the workspace's own price over the gateway's
//! (`--prices FILE`, or the built-in list); the exact country over `*`; and among those, the
//! one that took effect last (never one that takes effect later). A send with no price is
//! free: that is how email and push stay free unless someone prices them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_store::sql::{Connection, OptionalExtension, params};
use utoipa::ToSchema;

use super::ledger::Micros;
use crate::model::{Millis, Violation};

/// One row of the price table, as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// The channel the product is sent on: `sms`, `alimtalk`, `email`, `push`, ...
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    pub channel: String,
    /// The product from the plugin's quote: `sms`, `lms`, `mms`, `alimtalk`, ...
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    pub product: String,
    /// ISO 3166-1 alpha-2 destination country, or `*` for any.
    #[schema(pattern = "^([A-Z]{2}|\\*)$")]
    pub country: String,
    /// Price of one unit (one segment, one message) in micro-units of the currency.
    #[schema(value_type = i64, minimum = 0)]
    pub unit_price_micros: Micros,
    /// Lowercase ISO 4217 code; prices apply to wallets in the same currency.
    #[serde(default = "usd")]
    #[schema(pattern = "^[a-z]{3}$")]
    pub currency: String,
    /// When the price takes effect (RFC 3339). Default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub effective_from: Option<String>,
}

fn usd() -> String {
    "usd".into()
}

/// A stored price.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct PriceView {
    pub id: i64,
    pub channel: String,
    pub product: String,
    pub country: String,
    pub unit_price_micros: Micros,
    pub currency: String,
    pub effective_from: String,
    /// `workspace`, `config` or `built-in`.
    pub source: String,
}

/// The gateway's prices when no `--prices` file is given (USD). Illustrative carrier-like
/// rates; operators replace them with their own.
pub fn built_in() -> Vec<PriceSpec> {
    let p = |channel: &str, product: &str, country: &str, micros: Micros| PriceSpec {
        channel: channel.into(),
        product: product.into(),
        country: country.into(),
        unit_price_micros: micros,
        currency: usd(),
        effective_from: None,
    };
    vec![
        p("sms", "sms", "US", 7_900),
        p("sms", "sms", "KR", 15_000),
        p("sms", "lms", "KR", 40_000),
        p("sms", "mms", "KR", 90_000),
        p("sms", "sms", "*", 50_000),
        p("sms", "lms", "*", 120_000),
        p("sms", "mms", "*", 200_000),
        p("alimtalk", "alimtalk", "KR", 6_500),
        p("alimtalk", "alimtalk", "*", 6_500),
    ]
}

impl PriceSpec {
    /// Every problem, each naming its field.
    pub fn validate(&self) -> Vec<Violation> {
        let mut v = Vec::new();
        let mut bad = |field: &str, message: String| {
            v.push(Violation {
                code: "invalid".into(),
                field: field.into(),
                message,
            });
        };
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        if !token(&self.channel) {
            bad(
                "channel",
                format!("`{}` is not a channel name", self.channel),
            );
        }
        if !token(&self.product) {
            bad(
                "product",
                format!("`{}` is not a product name", self.product),
            );
        }
        if self.country != "*"
            && !(self.country.len() == 2 && self.country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            bad(
                "country",
                format!(
                    "`{}` is not an ISO 3166-1 alpha-2 code or `*`",
                    self.country
                ),
            );
        }
        if self.unit_price_micros < 0 {
            bad("unit_price_micros", "a price cannot be negative".into());
        }
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_lowercase())) {
            bad(
                "currency",
                format!("`{}` is not a lowercase ISO 4217 code", self.currency),
            );
        }
        if let Some(at) = &self.effective_from
            && switchboard_iso_time::parse_iso_signed(at).is_none()
        {
            bad("effective_from", format!("`{at}` is not an RFC 3339 time"));
        }
        v
    }

    pub fn effective_from_ms(&self, now: Millis) -> Millis {
        self.effective_from
            .as_deref()
            .and_then(switchboard_iso_time::parse_iso_signed)
            // A price in force since before 1970 is in force since the epoch: no message
            // is older.
            .map(|ms| ms.max(0))
            .unwrap_or(now)
    }
}

/// The price that applies, if any: `(price id, unit price)`.
pub fn lookup(
    c: &Connection,
    workspace: &str,
    channel: &str,
    product: &str,
    country: &str,
    currency: &str,
    at: Millis,
) -> Result<Option<(i64, Micros)>, switchboard_store::sql::Error> {
    c.prepare_cached(
        "SELECT id, unit_price FROM prices
         WHERE workspace_id IN (?1, '') AND channel = ?2 AND product = ?3 AND country IN (?4, '*')
           AND currency = ?5 AND effective_from <= ?6
         ORDER BY workspace_id = ?1 DESC, country = ?4 DESC, effective_from DESC, id DESC LIMIT 1",
    )?
    .query_row(
        params![workspace, channel, product, country, currency, at],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn insert(
    c: &Connection,
    workspace: &str,
    spec: &PriceSpec,
    source: &str,
    now: Millis,
) -> Result<i64, switchboard_store::sql::Error> {
    c.prepare_cached(
        "INSERT INTO prices (workspace_id, channel, product, country, currency, unit_price, effective_from, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
    )?
    .query_row(params![
        workspace,
        spec.channel,
        spec.product,
        spec.country,
        spec.currency,
        spec.unit_price_micros,
        spec.effective_from_ms(0),
        source,
        now
    ], |r| r.get(0))
}

/// Replace the gateway-wide prices (from the config file or the built-in list).
pub fn replace_gateway_prices(
    c: &Connection,
    specs: &[PriceSpec],
    source: &str,
    now: Millis,
) -> Result<(), switchboard_store::sql::Error> {
    c.execute("DELETE FROM prices WHERE workspace_id = ''", [])?;
    for spec in specs {
        insert(c, "", spec, source, now)?;
    }
    Ok(())
}

pub fn list(
    c: &Connection,
    workspace: &str,
) -> Result<Vec<PriceView>, switchboard_store::sql::Error> {
    c.prepare_cached(
        "SELECT id, channel, product, country, unit_price, currency, effective_from, source FROM prices
         WHERE workspace_id IN (?1, '') ORDER BY channel, product, country, effective_from, id",
    )?
    .query_map([workspace], |r| {
        Ok(PriceView {
            id: r.get(0)?,
            channel: r.get(1)?,
            product: r.get(2)?,
            country: r.get(3)?,
            unit_price_micros: r.get(4)?,
            currency: r.get(5)?,
            effective_from: crate::model::rfc3339(r.get(6)?),
            source: r.get(7)?,
        })
    })?
    .collect()
}

/// Read and validate a `--prices` file: a JSON array of [`PriceSpec`].
pub fn load_file(path: &std::path::Path) -> Result<Vec<PriceSpec>, String> {
    let p = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {p}: {e}"))?;
    let specs: Vec<PriceSpec> = serde_json::from_str(&text).map_err(|e| format!("{p}: {e}"))?;
    for (i, spec) in specs.iter().enumerate() {
        if let Some(v) = spec.validate().first() {
            return Err(format!("{p}: price [{i}].{}: {}", v.field, v.message));
        }
    }
    Ok(specs)
}
