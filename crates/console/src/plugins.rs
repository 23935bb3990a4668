//! Plugins (role `admin`): what is loaded (version, plugin API version, channel,
//! capabilities, the origins each may reach), plugins refused at start-up and why, and per
//! connection of this workspace any quarantine with its reason and the time it lifts. The
//! workspace's routing policies are listed here too, as the API shows them.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use switchboard_gateway::Gateway;
use switchboard_gateway::model::{PluginView, Role, rfc3339};
use switchboard_gateway::runtime::convert;

use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

struct Quarantined {
    connection: String,
    plugin: String,
    calls: String,
    until: String,
    faults: u32,
    reason: String,
}

struct PolicyLine {
    name: String,
    source: &'static str,
    definition: String,
}

#[derive(Template)]
#[template(path = "plugins.html")]
struct Plugins {
    nav: Nav,
    plugins: Vec<PluginView>,
    /// The origins each connection of this workspace may reach beyond its plugin's own.
    allowed: Vec<(String, String, Vec<String>)>,
    refused: Vec<(String, String)>,
    quarantined: Vec<Quarantined>,
    policies: Vec<PolicyLine>,
}

shows_nav!(Plugins);

pub async fn page(State(gw): State<Arc<Gateway>>, member: Member) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin]) {
        return refused;
    }
    let ws = member.row.workspace_id.clone();
    let connections = gw.connections.in_workspace(&ws);
    let mut quarantined = Vec::new();
    let mut allowed = Vec::new();
    for c in &connections {
        for q in gw.runtime.quarantine_state(&c.plugin, &c.id) {
            quarantined.push(Quarantined {
                connection: format!("{} ({})", c.ctx.name, c.id),
                plugin: c.plugin.clone(),
                calls: q.calls.to_string(),
                until: rfc3339(q.until_ms),
                faults: q.consecutive_faults,
                reason: q.last_fault,
            });
        }
        allowed.push((
            format!("{} ({})", c.ctx.name, c.id),
            c.plugin.clone(),
            c.ctx.allowed_origins.clone(),
        ));
    }
    let mut policies: Vec<PolicyLine> = gw
        .policies
        .shared()
        .into_iter()
        .map(|p| PolicyLine {
            source: if p.name == switchboard_gateway::routing::policy::FOLLOW_UP {
                "built-in"
            } else {
                "config"
            },
            name: p.name.clone(),
            definition: serde_json::to_string(&p).unwrap_or_default(),
        })
        .collect();
    match gw.store.list_policies(ws).await {
        Ok(own) => policies.extend(own.into_iter().map(|p| PolicyLine {
            name: p.name.clone(),
            source: "workspace",
            definition: serde_json::to_string(&p).unwrap_or_default(),
        })),
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The policies cannot be read now: {e}"),
            );
        }
    }
    render(
        &Plugins {
            nav: Nav::of(&member),
            plugins: gw
                .runtime
                .plugins()
                .iter()
                .map(|p| convert::plugin_view(p))
                .collect(),
            allowed,
            refused: gw
                .runtime
                .refused()
                .into_iter()
                .map(|r| (r.source, r.error))
                .collect(),
            quarantined,
            policies,
        },
        StatusCode::OK,
    )
}
