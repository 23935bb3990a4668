//! Connections (role `admin`): each channel account's health (`active`, `needs_reconnect`,
//! `quarantined`, `disabled`), its blocked URLs, enabling and disabling, the two-way chat
//! switch with its auto-reply (recorded as the member's change), and, after a reconnect,
//! resending the messages its expired token held back; the email connections' sender domains
//! with the DNS records to publish and each record's last check (managed over
//! `/v1/sender-domains`). Connecting Facebook pages is in [`crate::facebook`].

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_gateway::Gateway;
use switchboard_gateway::chat_switch::{ChatActor, ChatChange, check_auto_reply};
use switchboard_gateway::connections::ConnectionPatch;
use switchboard_gateway::model::{ChatMode, Role, SenderDomainView, rfc3339};

use crate::pages::{Nav, problem_response, render, require};
use crate::session::Member;

struct Blocked {
    url: String,
    reason: String,
}

struct Line {
    id: String,
    name: String,
    channel: String,
    plugin: String,
    /// `active`, `needs_reconnect`, `quarantined` or `disabled`.
    health: String,
    detail: String,
    quarantine: Vec<String>,
    blocked: Vec<Blocked>,
    /// A Facebook page whose token the provider refused.
    reconnectable: bool,
    /// Failed `token_expired` and resendable now (the connection was reconnected).
    held: usize,
    enabled: bool,
    one_way: bool,
    auto_reply: String,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    nav: Nav,
    lines: Vec<Line>,
    /// Every connection's sender domains, by connection then domain.
    domains: Vec<SenderDomainView>,
    facebook: bool,
    notice: Option<String>,
}

shows_nav!(ConnectionsPage);

#[derive(Deserialize, Default)]
pub struct Notice {
    notice: Option<String>,
}

/// What a redirect back to this page may announce (the text is ours, never the query's).
fn notice_text(code: &str) -> Option<String> {
    Some(
        match code {
            "enabled" => "Connection enabled.",
            "disabled" => "Connection disabled: it gets no new messages.",
            "connected" => "Pages connected.",
            "chat" => "Two-way chat setting saved.",
            _ => {
                let n = code.strip_prefix("resent-")?.parse::<usize>().ok()?;
                return Some(format!("{n} held message(s) resent."));
            }
        }
        .to_string(),
    )
}

pub async fn list(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    notice: Result<Query<Notice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(refused) = require(&member, &[Role::Admin]) {
        return refused;
    }
    let ws = member.row.workspace_id.clone();
    let mut lines = Vec::new();
    for c in gw.connections.in_workspace(&ws) {
        let quarantine: Vec<String> = gw
            .runtime
            .quarantine_state(&c.plugin, &c.id)
            .into_iter()
            .map(|q| {
                format!(
                    "{} calls refused until {} after {} fault(s) in a row: {}",
                    q.calls,
                    rfc3339(q.until_ms),
                    q.consecutive_faults,
                    q.last_fault
                )
            })
            .collect();
        let health = if c.status == "active" && !quarantine.is_empty() {
            "quarantined".to_string()
        } else {
            c.status.clone()
        };
        let loaded = async {
            let blocked = gw.store.blocked_urls(c.id.clone()).await?;
            let held = gw
                .store
                .failed_on_connection(ws.clone(), c.id.clone(), vec!["token_expired".into()], 1000)
                .await?
                .len();
            Ok::<_, switchboard_gateway::store::StoreError>((blocked, held))
        }
        .await;
        let (blocked, held) = match loaded {
            Ok(v) => v,
            Err(e) => {
                return problem_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    &format!("The connections cannot be read now: {e}"),
                );
            }
        };
        lines.push(Line {
            reconnectable: c.plugin == switchboard_gateway::facebook_login::PLUGIN
                && c.status == "needs_reconnect",
            held: if c.status == "needs_reconnect" {
                0
            } else {
                held
            },
            enabled: c.status != "disabled",
            one_way: c.chat.mode == ChatMode::OneWay,
            auto_reply: c.chat.auto_reply.clone().unwrap_or_default(),
            id: c.id.clone(),
            name: c.ctx.name.clone(),
            channel: c.channel.clone(),
            plugin: c.plugin.clone(),
            health,
            detail: c.status_detail.clone().unwrap_or_default(),
            quarantine,
            blocked: blocked
                .into_iter()
                .map(|b| Blocked {
                    url: b.url,
                    reason: b.reason,
                })
                .collect(),
        });
    }
    let domains = match gw.sender_domains.list(&ws, None).await {
        Ok(mut d) => {
            d.sort_by(|a, b| (&a.connection, &a.domain).cmp(&(&b.connection, &b.domain)));
            d
        }
        Err(e) => {
            return problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                &format!("The sender domains cannot be read now: {e}"),
            );
        }
    };
    render(
        &ConnectionsPage {
            nav: Nav::of(&member),
            lines,
            domains,
            facebook: gw.facebook.configured(),
            notice: notice
                .ok()
                .and_then(|Query(n)| n.notice.as_deref().and_then(notice_text)),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    /// The chat form's: `two_way` or `one_way`.
    #[serde(default)]
    chat: String,
    /// The chat form's auto-reply; empty removes it.
    #[serde(default)]
    auto_reply: String,
}

#[allow(clippy::result_large_err)] // the refusal is the page itself
fn admin_form(member: &Member, csrf: &str) -> Result<(), Response> {
    crate::pages::form_allowed(member, csrf, &[Role::Admin])
}

fn not_found() -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such connection in this workspace.",
    )
}

/// `enable`, `disable`, or `resend` what an expired token held back.
pub async fn action(
    State(gw): State<Arc<Gateway>>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(no) = admin_form(&member, &form.csrf) {
        return no;
    }
    let ws = member.row.workspace_id.clone();
    if gw.connections.get(&id).is_none_or(|c| c.workspace_id != ws) {
        return not_found();
    }
    match action.as_str() {
        "enable" => set_status(&gw, ws, id, "active", "enabled").await,
        "disable" => set_status(&gw, ws, id, "disabled", "disabled").await,
        "resend" => resend_held(&gw, ws, id).await,
        "chat" => set_chat(&gw, &member, id, &form).await,
        _ => not_found(),
    }
}

/// The two-way chat switch, through the same patch as `PATCH /v1/connections/{id}`, as this
/// member's change.
async fn set_chat(gw: &Gateway, member: &Member, id: String, form: &CsrfForm) -> Response {
    let Some(mode) = ChatMode::parse(&form.chat) else {
        return problem_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not saved",
            "Chat must be two-way or one-way.",
        );
    };
    let auto_reply = Some(form.auto_reply.trim().to_string()).filter(|t| !t.is_empty());
    if let Some(text) = &auto_reply {
        let plugin = gw
            .connections
            .get(&id)
            .and_then(|c| gw.runtime.plugin(&c.plugin));
        if let Some(plugin) = plugin
            && let Err(e) = check_auto_reply(&plugin.manifest.limits, plugin.channel(), text)
        {
            return problem_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not saved",
                &format!("The auto-reply was not saved: {e}"),
            );
        }
    }
    let patch = ConnectionPatch {
        chat: Some(ChatChange {
            mode: Some(mode),
            auto_reply: Some(auto_reply),
            by: ChatActor::Member(member.row.view.id.clone()),
        }),
        ..ConnectionPatch::default()
    };
    let ws = member.row.workspace_id.clone();
    patched(gw, ws, id, patch, "chat").await
}

/// Enable or disable, through the same patch as `PATCH /v1/connections/{id}`.
async fn set_status(gw: &Gateway, ws: String, id: String, status: &str, notice: &str) -> Response {
    let patch = ConnectionPatch {
        status: Some(status.to_string()),
        ..ConnectionPatch::default()
    };
    patched(gw, ws, id, patch, notice).await
}

/// Apply a patch, then back to the list with `notice`.
async fn patched(
    gw: &Gateway,
    ws: String,
    id: String,
    patch: ConnectionPatch,
    notice: &str,
) -> Response {
    let patched =
        switchboard_gateway::connections::patch(&gw.store, gw.vault.clone(), ws, id, patch).await;
    match patched {
        Ok(Some(p)) => match gw.connections.upsert(p.record, &gw.vault, &gw.public_url) {
            Ok(()) => {
                Redirect::to(&format!("/console/connections?notice={notice}")).into_response()
            }
            Err(e) => unavailable(&e.to_string()),
        },
        Ok(None) => not_found(),
        Err(e) => unavailable(&e.to_string()),
    }
}

fn unavailable(e: &str) -> Response {
    problem_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        &format!("The connection could not be changed: {e}"),
    )
}

/// Resend what the connection's expired token held back, through the same path as
/// `POST /v1/connections/{id}/resend`.
async fn resend_held(gw: &Gateway, ws: String, id: String) -> Response {
    match gw
        .resend_failed_on_connection(ws, id, vec!["token_expired".into()], 1000)
        .await
    {
        Ok(outcomes) => {
            let resent = outcomes.iter().filter(|(_, o)| o.is_ok()).count();
            for (message, outcome) in &outcomes {
                if let Err(e) = outcome {
                    tracing::info!(message = %message, error = %e, "a held message was not resent");
                }
            }
            Redirect::to(&format!("/console/connections?notice=resent-{resent}")).into_response()
        }
        Err(e) => unavailable(&e.to_string()),
    }
}
