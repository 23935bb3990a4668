//! What the billing API returns. Every amount is an integer number of micro-units of the
//! wallet's currency (1 USD = 1,000,000): exact, and summable without rounding.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ledger::Micros;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct BalanceView {
    pub currency: String,
    /// `free` or `paid`; a paid plan gets the monthly credit.
    pub plan: String,
    /// Money paid in and not yet spent or held.
    pub paid_micros: Micros,
    /// This month's free credit not yet spent or held; spent before the paid balance.
    pub credit_micros: Micros,
    /// Set aside for sends under way (paid and credit).
    pub held_micros: Micros,
    /// What new sends can use: paid + credit.
    pub available_micros: Micros,
    /// The month the credit belongs to (`YYYY-MM`, UTC) and when it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_month: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_expires_at: Option<String>,
    pub auto_charge: AutoChargeView,
    /// A `wallet.low_balance` event is sent when the paid balance falls below this (0: off).
    pub low_balance_alert_micros: Micros,
}

/// The low-balance alert threshold.
#[derive(Debug, Clone, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowBalanceAlert {
    /// 0 turns the alert off.
    #[schema(value_type = i64, minimum = 0)]
    pub threshold_micros: Micros,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct AutoChargeView {
    pub enabled: bool,
    /// `off`, `active`, `paused` (a decline or a refused charge: see `detail`) or `capped`
    /// (the monthly cap is reached; resumes next month).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub threshold_micros: Micros,
    pub amount_micros: Micros,
    pub monthly_cap_micros: Micros,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// Auto top-ups this month, pending or approved.
    pub this_month_micros: Micros,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<String>,
}

/// Auto-charge settings.
#[derive(Debug, Clone, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoChargeSettings {
    pub enabled: bool,
    /// Top up when the paid balance falls below this.
    #[schema(value_type = i64, minimum = 0)]
    pub threshold_micros: Micros,
    /// How much each top-up adds: a positive whole number of the wallet currency's smallest
    /// unit (10,000 micro-units for a cent; 1,000,000 for a won). The document gives the
    /// cent's rule; a wallet in won refuses amounts that are not whole won.
    #[schema(value_type = i64, minimum = 10000, multiple_of = 10000)]
    pub amount_micros: Micros,
    /// At most this much auto top-up per calendar month (UTC).
    pub monthly_cap_micros: Micros,
    /// The card token the processor charges.
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\n\\r]")]
    pub card: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    /// `free` or `paid`.
    #[schema(pattern = "^(free|paid)$")]
    pub plan: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopUp {
    /// A positive whole number of the wallet currency's smallest unit (10,000 micro-units
    /// for a cent; 1,000,000 for a won).
    #[schema(value_type = i64, minimum = 10000, multiple_of = 10000)]
    pub amount_micros: Micros,
    /// The card token; default: the auto-charge card.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\n\\r]")]
    pub card: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct TopUpView {
    pub id: String,
    /// `manual` or `auto`.
    pub kind: String,
    pub amount_micros: Micros,
    pub currency: String,
    pub card: String,
    /// `pending`, `approved`, `declined` or `failed` (the processor refused the request).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub attempts: u32,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
}

/// One entry of the statement: a posting on one of the workspace's accounts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct StatementEntry {
    pub seq: i64,
    pub transaction: String,
    /// `topup`, `grant`, `expire`, `hold`, `capture`, `release`, `refund`, `adjust`.
    pub kind: String,
    /// `paid`, `credit`, `held_paid` or `held_credit`.
    pub account: String,
    pub amount_micros: Micros,
    /// The account's balance after this entry.
    pub balance_after_micros: Micros,
    pub memo: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct StatementPage {
    pub data: Vec<StatementEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Charged sends grouped by UTC day, channel, product and country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct UsageRow {
    pub day: String,
    pub channel: String,
    pub product: String,
    pub country: String,
    pub count: i64,
    pub units: i64,
    pub cost_micros: Micros,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct UsageReport {
    pub currency: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<UsageRow>,
    pub total_count: i64,
    pub total_cost_micros: Micros,
}

impl UsageReport {
    /// The report as CSV, ending with a TOTAL row: what `/v1/billing/usage.csv` and the
    /// console's download both serve, byte for byte.
    pub fn to_csv(&self) -> String {
        let mut csv = format!(
            "day,channel,product,country,count,units,cost_micros,cost_{}\n",
            self.currency
        );
        for row in &self.rows {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                row.day,
                row.channel,
                row.product,
                row.country,
                row.count,
                row.units,
                row.cost_micros,
                decimal(row.cost_micros)
            ));
        }
        let units: i64 = self.rows.iter().map(|row| row.units).sum();
        csv.push_str(&format!(
            "TOTAL,,,,{},{},{},{}\n",
            self.total_count,
            units,
            self.total_cost_micros,
            decimal(self.total_cost_micros)
        ));
        csv
    }
}

/// Micro-units as an exact decimal: `-1234567` is `-1.234567`.
pub fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct MessageCostView {
    pub message: String,
    pub currency: String,
    /// Charged: the captured deliveries.
    pub charged_micros: Micros,
    /// Still held for sends under way.
    pub held_micros: Micros,
    pub deliveries: Vec<DeliveryCharge>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct DeliveryCharge {
    pub delivery: String,
    pub channel: String,
    pub product: String,
    pub country: String,
    pub units: u32,
    pub unit_price_micros: Micros,
    pub cost_micros: Micros,
    pub state: String,
}

pub use switchboard_model::CostQuote;
