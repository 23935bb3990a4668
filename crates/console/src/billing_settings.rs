//! The billing page's settings (roles `billing` and `admin`): auto-charge and the
//! low-balance alert, through the same service calls as `PUT /v1/billing/auto-charge` and
//! `PUT /v1/billing/low-balance-alert`.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::billing::AutoChargeChange;
use switchboard_gateway::billing::views::{AutoChargeSettings, BalanceView, decimal};
use switchboard_gateway::model::Role;

use crate::billing::parse_amount;
use crate::pages::problem_response;
use crate::session::Member;

/// The settings as the page shows them, in currency units.
pub struct Settings {
    pub auto_enabled: bool,
    pub auto_status: String,
    pub auto_detail: String,
    pub auto_threshold: String,
    pub auto_amount: String,
    pub auto_cap: String,
    pub auto_card: String,
    pub auto_this_month: String,
    pub low_balance_alert: String,
}

impl Settings {
    pub fn of(b: &BalanceView) -> Settings {
        let a = &b.auto_charge;
        Settings {
            auto_enabled: a.enabled,
            auto_status: a.status.clone(),
            auto_detail: a.detail.clone().unwrap_or_default(),
            auto_threshold: decimal(a.threshold_micros),
            auto_amount: decimal(a.amount_micros),
            auto_cap: decimal(a.monthly_cap_micros),
            auto_card: a.card.clone().unwrap_or_default(),
            auto_this_month: decimal(a.this_month_micros),
            low_balance_alert: decimal(b.low_balance_alert_micros),
        }
    }
}

/// What the page says after a settings form.
pub fn saved_message(saved: &str) -> Option<&'static str> {
    match saved {
        "auto-charge" => Some("Auto-charge settings saved."),
        "alert" => Some("Low-balance alert saved."),
        _ => None,
    }
}

#[allow(clippy::result_large_err)] // the refusal is the page itself
fn allowed(member: &Member, csrf: &str) -> Result<(), Response> {
    crate::pages::form_allowed(member, csrf, &[Role::Admin, Role::Billing])
}

fn refused(field: &str, why: &str) -> Response {
    problem_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Settings refused",
        &format!("{field}: {why}"),
    )
}

#[derive(Deserialize)]
pub struct AutoChargeForm {
    #[serde(default)]
    csrf: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    monthly_cap: String,
    #[serde(default)]
    card: String,
}

pub async fn auto_charge(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Form(form): Form<AutoChargeForm>,
) -> Response {
    if let Err(no) = allowed(&member, &form.csrf) {
        return no;
    }
    let amounts = [
        ("threshold", &form.threshold),
        ("amount", &form.amount),
        ("monthly cap", &form.monthly_cap),
    ]
    .map(|(field, text)| (field, parse_amount(text)));
    if let Some((field, _)) = amounts.iter().find(|(_, v)| v.is_none()) {
        return refused(field, "not a number with at most six decimals");
    }
    let [threshold, amount, cap] = amounts.map(|(_, v)| v.unwrap_or(0));
    let settings = AutoChargeSettings {
        enabled: form.enabled.is_some(),
        threshold_micros: threshold,
        amount_micros: amount,
        monthly_cap_micros: cap,
        card: form.card.trim().to_string(),
    };
    match gw
        .topups
        .configure_auto_charge(member.row.workspace_id.clone(), settings)
        .await
    {
        Ok(AutoChargeChange::Done(_)) => {
            Redirect::to("/console/billing?saved=auto-charge").into_response()
        }
        Ok(AutoChargeChange::Invalid { field, why }) => refused(field, &why),
        Ok(AutoChargeChange::Unconfigured) => problem_response(
            StatusCode::CONFLICT,
            "No card processor",
            "This gateway has no payment processor configured, so auto-charge cannot be on.",
        ),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The settings could not be saved: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub struct AlertForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    threshold: String,
}

pub async fn low_balance_alert(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Form(form): Form<AlertForm>,
) -> Response {
    if let Err(no) = allowed(&member, &form.csrf) {
        return no;
    }
    let Some(threshold) = parse_amount(&form.threshold) else {
        return refused("threshold", "not a number with at most six decimals");
    };
    match gw
        .wallets
        .set_low_balance_alert(member.row.workspace_id.clone(), threshold)
        .await
    {
        Ok(_) => Redirect::to("/console/billing?saved=alert").into_response(),
        Err(e) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("The alert could not be saved: {e}"),
        ),
    }
}
