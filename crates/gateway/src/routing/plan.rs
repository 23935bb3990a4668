//! Planning a routed message at accept time: each channel of each step is resolved once,
//! the same way a single-channel message is (connection, normalised address, validation,
//! quote), so a routed message is checked as strictly as any other before the 202.
//!
//! A channel that cannot be used is planned as skipped, never as a failure: no connection
//! for the channel (e.g. AlimTalk not set up), no address for it (no push token, no PSID), a
//! dead address, an opt-out on that channel, or content the channel cannot carry. A message
//! that no channel at all can reach is refused.

use std::collections::HashMap;
use std::sync::Arc;

use crate::connections::Connections;
use crate::intake::{Intake, IntakeError, normalize_recipient};
use crate::model::{AddressKey, Media, NewMessage, PolicyRef, Violation};
use crate::routing::policies::Policies;
use crate::routing::policy::Policy;
use crate::runtime::PluginRuntime;
use crate::store::{PlannedEntry, Store};

pub struct PreparedRoute {
    pub request: NewMessage,
    pub policy: Policy,
    pub entries: Vec<PlannedEntry>,
}

/// What one channel resolved to (shared by every step that uses it).
#[derive(Clone)]
struct ChannelPlan {
    connection_id: Option<String>,
    product: Option<String>,
    units: Option<u32>,
    encoding: Option<String>,
    country: Option<String>,
    address: Option<AddressKey>,
    skip: Option<(String, String)>,
    /// The channel cannot carry the subject to this recipient (SMS outside Korea): it is sent
    /// without it rather than skipped, since the subject is there for other channels.
    drop_subject: bool,
    /// The attachments as intake left them for this channel: sizes and types as their URLs
    /// serve them. Empty for a channel that carries none.
    media: Vec<Media>,
}

fn skipped(reason: &str, detail: String) -> ChannelPlan {
    ChannelPlan {
        connection_id: None,
        product: None,
        units: None,
        encoding: None,
        country: None,
        address: None,
        skip: Some((reason.into(), detail)),
        drop_subject: false,
        media: Vec::new(),
    }
}

/// The planner of routed messages: resolves the policy and judges each of its channels
/// through [`Intake`], so a routed message is held to the same checks as a single-channel
/// one. Like intake, it writes nothing; the caller commits the plan.
pub struct Planner {
    intake: Arc<Intake>,
    policies: Arc<Policies>,
    /// The workspace's connection per channel.
    connections: Arc<Connections>,
    /// The plugins' manifests, for what each channel can carry.
    runtime: Arc<PluginRuntime>,
    /// Opt-outs per channel (read only).
    store: Arc<Store>,
}

impl Planner {
    pub fn new(
        intake: Arc<Intake>,
        policies: Arc<Policies>,
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
        store: Arc<Store>,
    ) -> Arc<Planner> {
        Arc::new(Planner {
            intake,
            policies,
            connections,
            runtime,
            store,
        })
    }

    pub async fn prepare_routed(
        &self,
        workspace: &str,
        mut request: NewMessage,
    ) -> Result<PreparedRoute, IntakeError> {
        if !request.channel.is_empty() {
            return Err(invalid(
                "channel",
                "give either `channel` or `policy`, not both",
            ));
        }
        let policy = match request.policy.clone() {
            Some(PolicyRef::Named(name)) => self
                .policies
                .resolve(workspace, &name)
                .await?
                .ok_or_else(|| {
                    invalid("policy", &format!("no policy `{name}` in this workspace"))
                })?,
            Some(PolicyRef::Inline(p)) => {
                let violations = p.validate(&self.policies.channels());
                if !violations.is_empty() {
                    return Err(IntakeError::Invalid {
                        channel: "policy".into(),
                        violations: violations
                            .into_iter()
                            .map(|v| Violation {
                                field: format!("policy.{}", v.field),
                                ..v
                            })
                            .collect(),
                    });
                }
                p
            }
            None => return Err(invalid("channel", "give a `channel` or a `policy`")),
        };
        let violations = normalize_recipient(&mut request.to);
        if !violations.is_empty() {
            return Err(IntakeError::Invalid {
                channel: "policy".into(),
                violations,
            });
        }

        let mut by_channel: HashMap<String, ChannelPlan> = HashMap::new();
        let mut entries = Vec::new();
        for (step, def) in policy.steps.iter().enumerate() {
            for (lane, channels) in def.lanes().iter().enumerate() {
                for (position, channel) in channels.iter().enumerate() {
                    let plan = match by_channel.get(channel) {
                        Some(p) => p.clone(),
                        None => {
                            let p = self.plan_channel(workspace, &request, channel).await?;
                            by_channel.insert(channel.clone(), p.clone());
                            p
                        }
                    };
                    entries.push(PlannedEntry {
                        step,
                        lane,
                        position,
                        channel: channel.clone(),
                        connection_id: plan.connection_id,
                        product: plan.product,
                        units: plan.units,
                        encoding: plan.encoding,
                        country: plan.country,
                        address: plan.address,
                        skip: plan.skip,
                        drop_subject: plan.drop_subject,
                    });
                }
            }
        }
        if entries.iter().all(|e| e.skip.is_some()) {
            let why: Vec<String> = by_channel
                .iter()
                .map(|(c, p)| {
                    format!(
                        "{c}: {}",
                        p.skip.as_ref().map(|s| s.1.as_str()).unwrap_or("")
                    )
                })
                .collect();
            return Err(IntakeError::Unreachable(why.join("; ")));
        }
        // A channel that carries the attachments asked their URLs: the message keeps the real
        // sizes and types it found (the same URLs give the same answers to every channel).
        if let Some(real) = by_channel
            .values()
            .find(|p| p.skip.is_none() && p.media.len() == request.content.media.len())
            .filter(|p| !p.media.is_empty())
        {
            request.content.media = real.media.clone();
        }
        Ok(PreparedRoute {
            request,
            policy,
            entries,
        })
    }

    async fn plan_channel(
        &self,
        workspace: &str,
        request: &NewMessage,
        channel: &str,
    ) -> Result<ChannelPlan, IntakeError> {
        let Some(conn) = self.connections.for_channel(workspace, channel) else {
            return Ok(skipped(
                "no_connection",
                format!("no `{channel}` connection in this workspace"),
            ));
        };
        let Some(address) = AddressKey::for_message(workspace, channel, &conn.id, &request.to)
        else {
            return Ok(skipped(
                "no_address",
                format!("the recipient has no address for `{channel}`"),
            ));
        };
        if self
            .store
            .opted_out(workspace.into(), channel.into(), address.address.clone())
            .await?
        {
            return Ok(skipped(
                "opted_out",
                format!("{} opted out of `{channel}`", address.field()),
            ));
        }
        let mut single = request.clone();
        if let Some(plugin) = self.runtime.plugin(&conn.plugin) {
            project(&plugin, &mut single);
        }
        single.channel = channel.to_string();
        single.policy = None;
        single.connection = Some(conn.id.clone());
        let mut a = self.intake.assess(workspace, single.clone()).await?;
        let mut drop_subject = false;
        if !a.violations.is_empty()
            && single.content.subject.is_some()
            && a.violations.iter().all(|v| v.field == "content.subject")
        {
            single.content.subject = None;
            a = self.intake.assess(workspace, single).await?;
            drop_subject = true;
        }
        if let Some(dead) = a.violations.iter().find(|v| v.code == "recipient_invalid") {
            return Ok(skipped("no_address", dead.message.clone()));
        }
        if !a.violations.is_empty() {
            let detail: Vec<String> = a
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.message))
                .collect();
            return Ok(skipped("invalid_format", detail.join("; ")));
        }
        let q = a.quote;
        Ok(ChannelPlan {
            connection_id: Some(conn.id.clone()),
            product: q.as_ref().map(|q| q.product.clone()),
            units: q.as_ref().map(|q| q.units),
            encoding: q.as_ref().map(|q| q.encoding.clone()),
            country: q
                .as_ref()
                .and_then(|q| q.country.clone())
                .or_else(|| request.to.country.clone()),
            address: Some(address),
            skip: None,
            drop_subject,
            media: a.request.content.media,
        })
    }
}

/// The part of a message's content one channel can carry, by what its manifest declares.
///
/// A routed message carries one content for several channels: a subject for email and push,
/// a template for AlimTalk, text for SMS. Each channel gets what it can use; a part it cannot
/// carry is left out rather than failing it (a single-channel message never gets here with
/// such parts: intake refuses them). With a template, a templated channel sends the template
/// and not the free text, which its provider would compare against the template. The sender
/// (`from`) goes only to channels with sender domains.
pub fn project(plugin: &crate::runtime::LoadedPlugin, msg: &mut NewMessage) {
    let limits = &plugin.manifest.limits;
    let c = &mut msg.content;
    let templates = plugin.has(crate::runtime::Capability::Templates);
    if templates && c.template.is_some() {
        c.text = None;
    }
    if !templates {
        c.template = None;
    }
    if limits.max_subject_bytes == 0 {
        c.subject = None;
    }
    if limits.media_rules.is_empty() {
        c.media.clear();
    }
    if limits.max_carousel_elements == 0 {
        c.carousel.clear();
    }
    if limits.max_buttons == 0 {
        c.buttons.clear();
    }
    if limits.max_quick_replies == 0 {
        c.quick_replies.clear();
    }
    // A sender is an email's: the other channels of a routed message go out without it.
    if !plugin.has(crate::runtime::Capability::SenderDomains) {
        msg.from = None;
    }
}

fn invalid(field: &str, message: &str) -> IntakeError {
    IntakeError::Invalid {
        channel: "policy".into(),
        violations: vec![Violation {
            code: "invalid".into(),
            field: field.into(),
            message: message.into(),
        }],
    }
}
