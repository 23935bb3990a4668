//! Automations (every role may read; nothing here writes): the workspace's automations, and
//! one automation's figures over a window, its visitors and a read-only view of its steps.
//! Every figure comes from the same service calls as `/v1/automations/{id}/stats` and
//! `/runs`, so the page and the API agree; the definition is shown as `automation_steps`
//! words it.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::automation::{
    AutomationStats, AutomationView, Ratio, StepStats, VisitorOutcome,
};
use switchboard_gateway::model::{Role, now_ms, rfc3339};

use crate::automation_steps::{self, Setting, StepView};
use crate::billing::parse_date_or_time;
use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

/// Reading automations is open to every role: the figures are the workspace's, not a
/// member's, and nothing on these pages changes anything.
const ROLES: &[Role] = &Role::ALL;
const LIST_PAGE: u32 = 100;
const VISITORS_PAGE: u32 = 50;
/// The window when `since` is not given, as the API's default: 30 days before `until`.
const WINDOW_MS: i64 = 30 * 24 * 3_600_000;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    cursor: Option<String>,
}

struct Line {
    id: String,
    name: String,
    trigger_type: &'static str,
    trigger: String,
    enabled: bool,
    version: u32,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "automations.html")]
struct Automations {
    nav: Nav,
    automations: Vec<Line>,
    /// The query string of the next page, when there is one.
    next: Option<String>,
}

shows_nav!(Automations);

fn unavailable(what: &str, e: impl std::fmt::Display) -> Response {
    problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        &format!("{what} cannot be read now: {e}"),
    )
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, ROLES) {
        return refused;
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = match gw
        .automations(member.row.workspace_id.clone(), q.cursor, LIST_PAGE)
        .await
    {
        Ok(p) => p,
        Err(e) => return unavailable("The automations", e),
    };
    let automations = page
        .data
        .into_iter()
        .map(|a| Line {
            trigger_type: automation_steps::trigger_type(&a.definition.trigger),
            trigger: automation_steps::trigger_line(&a.definition.trigger),
            id: a.id,
            name: a.definition.name,
            enabled: a.definition.enabled,
            version: a.version,
            updated_at: a.updated_at,
        })
        .collect();
    render(
        &Automations {
            nav: Nav::of(&member),
            automations,
            next: page
                .next_cursor
                .map(|c| query_string(&[("cursor", c.as_str())])),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    status: String,
    cursor: Option<String>,
}

/// A step's figures in the window: how often it was entered and each branch taken.
struct StepFigure {
    step: String,
    entered: u64,
    branches: Vec<(String, u64)>,
    /// A step of an earlier version, no longer in the definition.
    former: bool,
}

struct VisitorLine {
    contact: String,
    status: &'static str,
    trigger_count: u64,
    channel: String,
    first_triggered_at: String,
    last_triggered_at: String,
    run_state: String,
    run_step: String,
    stop_reason: String,
    run_version: u32,
}

#[derive(Template)]
#[template(path = "automation.html")]
struct AutomationPage {
    nav: Nav,
    automation: AutomationView,
    trigger_type: &'static str,
    trigger: Vec<Setting>,
    condition: Option<String>,
    steps: Vec<StepView>,
    /// The form's fields as typed (empty: the default).
    since: String,
    until: String,
    status: String,
    stats: AutomationStats,
    participation: String,
    completion: String,
    step_figures: Vec<StepFigure>,
    visitors: Vec<VisitorLine>,
    next: Option<String>,
}

shows_nav!(AutomationPage);

/// The visitors table's filter, by the API's names (the template's select lists the same).
fn outcome(status: &str) -> Option<VisitorOutcome> {
    match status {
        "completed" => Some(VisitorOutcome::Completed),
        "participated" => Some(VisitorOutcome::Participated),
        "not_participated" => Some(VisitorOutcome::NotParticipated),
        _ => None,
    }
}

fn outcome_name(o: VisitorOutcome) -> &'static str {
    match o {
        VisitorOutcome::Completed => "completed",
        VisitorOutcome::Participated => "participated",
        VisitorOutcome::NotParticipated => "not_participated",
    }
}

/// The exact fraction, the API's four-place value and the percentage: `2/3 = 0.6667
/// (66.67%)`. The percentage is the value times 100, rounded the same way (half up at four
/// places of the ratio), so the two never disagree.
pub fn ratio_text(r: &Ratio) -> String {
    if r.denominator == 0 {
        return format!("{}/0 (no triggered visitors)", r.numerator);
    }
    let (n, d) = (u128::from(r.numerator), u128::from(r.denominator));
    let scaled = (2 * n * 10_000 + d) / (2 * d);
    format!(
        "{}/{} = {}.{:04} ({}.{:02}%)",
        r.numerator,
        r.denominator,
        scaled / 10_000,
        scaled % 10_000,
        scaled / 100,
        scaled % 100
    )
}

/// `key=value&…`, escaped for a URL. Serialising pairs of strings cannot fail.
fn query_string(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// `[since, until)` as the API reads it: `until` defaults to now, `since` to 30 days
/// before `until`; an `until` before `since` is an empty window.
fn window(q: &ShowQuery) -> Result<(i64, i64), String> {
    let until = match q.until.trim() {
        "" => now_ms(),
        t => parse_date_or_time("until", t)?,
    };
    let since = match q.since.trim() {
        "" => until - WINDOW_MS,
        t => parse_date_or_time("since", t)?,
    };
    Ok((since, until.max(since)))
}

/// Every step of the current definition in its order (entered 0 when no run reached it),
/// then any step only an earlier version had, as the figures still count them.
fn step_figures(automation: &AutomationView, stats: &AutomationStats) -> Vec<StepFigure> {
    let mut counted: BTreeMap<&str, &StepStats> =
        stats.steps.iter().map(|s| (s.step.as_str(), s)).collect();
    let figure = |step: &str, former: bool, s: Option<&StepStats>| StepFigure {
        step: step.to_string(),
        entered: s.map_or(0, |s| s.entered),
        branches: s
            .map(|s| s.branches.iter().map(|(b, n)| (b.clone(), *n)).collect())
            .unwrap_or_default(),
        former,
    };
    let mut out: Vec<StepFigure> = automation
        .definition
        .steps
        .iter()
        .map(|s| figure(&s.id, false, counted.remove(s.id.as_str())))
        .collect();
    out.extend(
        counted
            .into_iter()
            .map(|(step, s)| figure(step, true, Some(s))),
    );
    out
}

pub async fn show(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path(id): Path<String>,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, ROLES) {
        return refused;
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let (since, until) = match window(&q) {
        Ok(w) => w,
        Err(e) => return problem_response(StatusCode::BAD_REQUEST, "Bad window", &e),
    };
    let status = outcome(&q.status);
    let ws = member.row.workspace_id.clone();
    let automation = match gw.automation(ws.clone(), id.clone()).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => return unavailable("The automation", e),
    };
    let stats = match gw
        .automation_stats(ws.clone(), id.clone(), since, until)
        .await
    {
        Ok(Some(s)) => s,
        // Deleted between the two reads.
        Ok(None) => return not_found(),
        Err(e) => return unavailable("The automation's figures", e),
    };
    let visitors = match gw
        .automation_visitors(ws, id, status, q.cursor.clone(), VISITORS_PAGE)
        .await
    {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(),
        Err(e) => return unavailable("The automation's visitors", e),
    };
    // As the API pages: a full page may have more after its last contact.
    let next = (visitors.len() == VISITORS_PAGE as usize)
        .then(|| visitors.last().map(|v| v.contact.clone()))
        .flatten()
        .map(|cursor| {
            query_string(&[
                ("since", q.since.as_str()),
                ("until", q.until.as_str()),
                ("status", q.status.as_str()),
                ("cursor", cursor.as_str()),
            ])
        });
    let visitors = visitors
        .into_iter()
        .map(|v| VisitorLine {
            contact: v.contact,
            status: outcome_name(v.status),
            trigger_count: v.trigger_count,
            channel: v.channel,
            first_triggered_at: v.first_triggered_at,
            last_triggered_at: v.last_triggered_at,
            run_state: v.run.state,
            run_step: v.run.step.unwrap_or_default(),
            stop_reason: v.run.stop_reason.unwrap_or_default(),
            run_version: v.run.version,
        })
        .collect();
    let page = AutomationPage {
        nav: Nav::of(&member),
        trigger_type: automation_steps::trigger_type(&automation.definition.trigger),
        trigger: automation_steps::trigger_settings(&automation.definition.trigger),
        condition: automation
            .definition
            .condition
            .as_ref()
            .map(|c| serde_json::to_string_pretty(c).unwrap_or_default()),
        steps: automation_steps::steps(&automation.definition),
        step_figures: step_figures(&automation, &stats),
        since: if q.since.is_empty() {
            rfc3339(since)
        } else {
            q.since
        },
        until: q.until,
        status: status.map(outcome_name).unwrap_or_default().to_string(),
        participation: ratio_text(&stats.participation),
        completion: ratio_text(&stats.completion),
        stats,
        visitors,
        next,
        automation,
    };
    render(&page, StatusCode::OK)
}

fn not_found() -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        "Not found",
        "This workspace has no such automation (it may have been deleted).",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_show_the_fraction_the_value_and_the_percentage_alike() {
        assert_eq!(ratio_text(&Ratio::new(2, 3)), "2/3 = 0.6667 (66.67%)");
        assert_eq!(ratio_text(&Ratio::new(1, 1)), "1/1 = 1.0000 (100.00%)");
        assert_eq!(ratio_text(&Ratio::new(1, 8)), "1/8 = 0.1250 (12.50%)");
        assert_eq!(ratio_text(&Ratio::new(0, 0)), "0/0 (no triggered visitors)");
        // The API's value, digit for digit.
        for (n, d) in [(1, 3), (5, 7), (123, 4567), (u64::MAX, u64::MAX)] {
            let r = Ratio::new(n, d);
            assert!(ratio_text(&r).contains(r.value.as_deref().unwrap()));
        }
    }

    #[test]
    fn the_window_defaults_to_thirty_days_and_never_runs_backwards() {
        let q = ShowQuery {
            until: "2024-03-31".into(),
            ..Default::default()
        };
        let (since, until) = window(&q).unwrap();
        assert_eq!(until - since, WINDOW_MS);
        let q = ShowQuery {
            since: "2024-04-02".into(),
            until: "2024-04-01".into(),
            ..Default::default()
        };
        let (since, until) = window(&q).unwrap();
        assert_eq!(since, until);
        let q = ShowQuery {
            since: "yesterday".into(),
            ..Default::default()
        };
        assert!(window(&q).unwrap_err().starts_with("since:"));
    }
}
