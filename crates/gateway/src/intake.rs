//! Accepting a message: from a parsed request to a delivery ready to commit.
//!
//! The order matters and is the same for `POST /v1/messages` and for the preview:
//! 1. pick the workspace's connection for the channel (which also picks the plugin);
//! 2. normalise the recipient the same way for every channel (E.164 phone, derived country);
//! 3. check the content against the limits the plugin's manifest declares
//!    ([`crate::validation`]), each attachment against what its URL really serves
//!    ([`crate::media_probe`]: reachable, of its kind's type, within the channel's cap by its
//!    real size, which then replaces the declared one), and the recipient and URLs against
//!    what the gateway has learnt (a dead push token, a URL the provider blocked);
//! 4. ask the plugin to `validate`, then to `quote` the billable product and units.
//!
//! A message that names its sender (`from`, email) is checked between 2 and 3: only a plugin
//! with sender domains takes one, and only from a domain verified for the connection or the
//! connection's own sender ([`crate::sender_domains::check_sender`]), else it is refused
//! `sender_domain_unverified`.
//!
//! Nothing here writes: the caller commits the result, so a rejected request stores nothing
//! and costs nothing.

use std::sync::Arc;

use crate::connections::{Connection, Connections};
use crate::lifecycle::NewDelivery;
use crate::media_probe::{MediaProbe, Outcome};
use crate::model;
use crate::model::{NewMessage, Violation, new_id};
use crate::runtime::{CallError, LoadedPlugin, PluginRuntime, convert};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("unknown channel `{channel}`; this workspace can send on: {available}")]
    UnknownChannel { channel: String, available: String },
    #[error("no channel of the policy can reach this recipient: {0}")]
    Unreachable(String),
    // The id is the caller's own input, yet not repeated: an answer about another
    // workspace's id must read exactly like one about an id that never existed.
    #[error("no such connection for channel `{channel}` in this workspace")]
    UnknownConnection { connection: String, channel: String },
    #[error("the message is not valid for channel `{channel}`")]
    Invalid {
        channel: String,
        violations: Vec<Violation>,
    },
    #[error(
        "from.email is on {domain}, which is not verified for connection {connection}{}: verify it at /v1/sender-domains, or leave `from` out to send from the connection's own sender",
        status.map(|s| format!(" (it is {s})")).unwrap_or_default()
    )]
    SenderDomainUnverified {
        domain: String,
        connection: String,
        /// `pending` or `failed` when the domain is a sender domain of the connection.
        status: Option<&'static str>,
    },
    #[error(transparent)]
    Plugin(#[from] CallError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A message that passed intake, with its planned delivery.
pub struct Prepared {
    pub request: NewMessage,
    pub delivery: NewDelivery,
}

/// What the plugin said about a message, valid or not.
pub struct Assessment {
    pub request: NewMessage,
    pub connection: Arc<Connection>,
    pub violations: Vec<Violation>,
    pub quote: Option<crate::runtime::bindings::wit::Quotation>,
}

/// The intake service: one place that decides whether a message can be sent and what it
/// will cost, so the send, the preview and the routed planner judge a message alike. It owns
/// no state; it reads the connection registry, asks the plugins, asks attachments' URLs what
/// they serve, and reads what the store has learnt about addresses and URLs.
pub struct Intake {
    connections: Arc<Connections>,
    runtime: Arc<PluginRuntime>,
    /// Opt-outs, dead addresses and blocked URLs (read only).
    store: Arc<Store>,
    /// What attachments' URLs really serve (behind the network guard, cached per URL).
    media: Arc<MediaProbe>,
}

impl Intake {
    pub fn new(
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
        store: Arc<Store>,
        media: Arc<MediaProbe>,
    ) -> Arc<Intake> {
        Arc::new(Intake {
            connections,
            runtime,
            store,
            media,
        })
    }

    /// Steps 1-3 for a message that must be valid.
    pub async fn prepare(
        &self,
        workspace: &str,
        request: NewMessage,
    ) -> Result<Prepared, IntakeError> {
        let a = self.assess(workspace, request).await?;
        if !a.violations.is_empty() {
            return Err(IntakeError::Invalid {
                channel: a.request.channel,
                violations: a.violations,
            });
        }
        let quote = a.quote;
        let address = model::AddressKey::for_message(
            workspace,
            &a.request.channel,
            &a.connection.id,
            &a.request.to,
        );
        Ok(Prepared {
            delivery: NewDelivery {
                id: new_id("dlv"),
                connection_id: a.connection.id.clone(),
                product: quote.as_ref().map(|q| q.product.clone()),
                units: quote.as_ref().map(|q| q.units),
                encoding: quote.as_ref().map(|q| q.encoding.clone()),
                country: quote
                    .as_ref()
                    .and_then(|q| q.country.clone())
                    .or_else(|| a.request.to.country.clone()),
                address,
            },
            request: a.request,
        })
    }

    /// Steps 1-3, reporting violations instead of failing on them (for the preview).
    pub async fn assess(
        &self,
        workspace: &str,
        mut request: NewMessage,
    ) -> Result<Assessment, IntakeError> {
        let (connection, plugin) =
            self.route(workspace, &request.channel, request.connection.as_deref())?;
        let mut violations = normalize_recipient(&mut request.to);
        let sender_violations = sender_violations(&request, &plugin);
        if sender_violations.is_empty()
            && let Some(sender) = &request.from
        {
            crate::sender_domains::check_sender(
                &self.store,
                &self.runtime,
                &connection,
                &plugin,
                sender,
            )
            .await?;
        }
        violations.extend(sender_violations);
        let limits = &plugin.manifest.limits;
        violations.extend(crate::validation::check(limits, &request));
        let fetched = self.fetch_media(limits, &request).await;
        violations.extend(crate::validation::check_fetched(limits, &request, &fetched));
        use_real_media(&mut request, &fetched);
        violations.extend(
            self.learnt_violations(workspace, &connection, &request)
                .await?,
        );
        let msg = convert::wit_message("preview", workspace, &request, "preview");
        let quote = if violations.is_empty() {
            let (found, quote) = self.runtime.assess(&plugin, &connection.id, &msg).await?;
            violations.extend(found.into_iter().map(convert::violation));
            match quote {
                Some(Ok(q)) => Some(q),
                Some(Err(v)) => {
                    violations.extend(v.into_iter().map(convert::violation));
                    None
                }
                None => None,
            }
        } else {
            // The plugin still reports its own violations, so the client sees them all at once.
            let found = self.runtime.validate(&plugin, &connection.id, &msg).await?;
            violations.extend(found.into_iter().map(convert::violation));
            None
        };
        // Plugins report what they see; a host-side check may have seen the same field.
        violations.dedup();
        Ok(Assessment {
            request,
            connection,
            violations,
            quote,
        })
    }

    /// What each attachment's URL serves, for those the channel would take by what the
    /// request says (the others are already refused; asking their URLs would be wasted).
    async fn fetch_media(
        &self,
        limits: &crate::runtime::bindings::wit::ContentLimits,
        request: &NewMessage,
    ) -> Vec<Option<Outcome>> {
        if request.content.media.is_empty() {
            return Vec::new();
        }
        let which = crate::validation::attachments_to_fetch(limits, request);
        self.media.probe_all(&request.content.media, &which).await
    }

    /// What the gateway has learnt from providers that makes this message fail for sure: a
    /// dead address, a URL the provider blocked on this connection.
    async fn learnt_violations(
        &self,
        workspace: &str,
        connection: &Connection,
        request: &NewMessage,
    ) -> Result<Vec<Violation>, IntakeError> {
        let mut v = Vec::new();
        let key = model::AddressKey::for_message(
            workspace,
            &request.channel,
            &connection.id,
            &request.to,
        );
        let field = key.as_ref().map(|k| k.field());
        let facts = self.store.recipient_facts(
            key,
            request.channel.clone(),
            connection.id.clone(),
            request.urls(),
        )?;
        if let Some(field) = field {
            if facts.opted_out {
                v.push(Violation {
                    code: "opted_out".into(),
                    field: field.into(),
                    message: format!("the recipient opted out of `{}`", request.channel),
                });
            }
            if let Some(why) = facts.address.invalid {
                v.push(Violation {
                    code: "recipient_invalid".into(),
                    field: field.into(),
                    message: format!(
                        "this address is marked invalid ({why}) and is not used again"
                    ),
                });
            }
        }
        for b in &facts.blocked {
            v.push(Violation {
                code: "url_blocked".into(),
                field: "content".into(),
                message: format!(
                    "{} is on this connection's block list ({})",
                    b.url, b.reason
                ),
            });
        }
        Ok(v)
    }

    fn route(
        &self,
        workspace: &str,
        channel: &str,
        connection: Option<&str>,
    ) -> Result<(Arc<Connection>, Arc<LoadedPlugin>), IntakeError> {
        if let Some(id) = connection {
            return self
                .connections
                .get(id)
                .filter(|c| c.workspace_id == workspace && c.channel == channel)
                .and_then(|c| self.runtime.plugin(&c.plugin).map(|p| (c, p)))
                .ok_or_else(|| IntakeError::UnknownConnection {
                    connection: id.to_string(),
                    channel: channel.to_string(),
                });
        }
        let found = self
            .connections
            .for_channel(workspace, channel)
            .and_then(|c| self.runtime.plugin(&c.plugin).map(|p| (c, p)));
        found.ok_or_else(|| {
            let mut available: Vec<String> = self
                .runtime
                .plugins()
                .iter()
                .filter(|p| {
                    self.connections
                        .for_channel(workspace, p.channel())
                        .is_some()
                })
                .map(|p| p.channel().to_string())
                .collect();
            available.dedup();
            IntakeError::UnknownChannel {
                channel: channel.to_string(),
                available: if available.is_empty() {
                    "(none)".into()
                } else {
                    available.join(", ")
                },
            }
        })
    }
}

/// What is wrong with the sender a message names, before anyone is asked about its domain:
/// a channel without senders takes none, and an address must look like one (its name was
/// held to its shape when the body was parsed).
fn sender_violations(request: &NewMessage, plugin: &LoadedPlugin) -> Vec<Violation> {
    let Some(sender) = &request.from else {
        return Vec::new();
    };
    if !plugin.has(crate::runtime::Capability::SenderDomains) {
        return vec![Violation {
            code: "unsupported".into(),
            field: "from".into(),
            message: format!(
                "channel `{}` cannot send from a sender of the message's choosing: `from` applies to email",
                request.channel
            ),
        }];
    }
    if !looks_like_email(&sender.email) {
        return vec![Violation {
            code: "invalid_format".into(),
            field: "from.email".into(),
            message: format!("{:?} is not an email address", sender.email),
        }];
    }
    Vec::new()
}

/// The declared size and type of each attachment whose URL answered give way to what it
/// serves: the plugin gets, and the store keeps, the real ones.
fn use_real_media(request: &mut NewMessage, fetched: &[Option<Outcome>]) {
    for (m, f) in request.content.media.iter_mut().zip(fetched) {
        if let Some(Ok(p)) = f {
            m.size = p.length;
            if let Some(t) = &p.content_type {
                m.mime_type = t.clone();
            }
        }
    }
}

/// Phone numbers are parsed once, here, for every channel that uses them: E.164 out, and
/// the country derived from the number (the SMS price and the Korean rules depend on it).
pub fn normalize_recipient(to: &mut model::Recipient) -> Vec<Violation> {
    let mut violations = Vec::new();
    to.country = None;
    if let Some(raw) = to.phone.as_deref() {
        match phonenumber::parse(None, raw) {
            // Full validity is the carrier's call (and test ranges such as +1 555 are not
            // "valid"); the gateway insists on international form and a plausible length.
            Ok(number)
                if raw.trim_start().starts_with('+')
                    && (4..=14).contains(&number.national().to_string().len()) =>
            {
                let code = number.country().code();
                to.country = number
                    .country()
                    .id()
                    .map(|c| c.as_ref().to_string())
                    .or_else(|| {
                        phonenumber::metadata::DATABASE
                            .region(&code)
                            .and_then(|r| r.first().map(|s| s.to_string()))
                    });
                // E.164 is the country code and the national number, nothing else. The
                // crate's formatter would also match the country's display patterns first
                // (regexes, for a result E.164 does not use).
                to.phone = Some(format!("+{code}{}", number.national()));
            }
            _ => violations.push(Violation {
                code: "invalid_format".into(),
                field: "to.phone".into(),
                message: format!(
                    "{raw:?} is not a phone number in international E.164 form (e.g. +15551234567)"
                ),
            }),
        }
    }
    if let Some(email) = to.email.as_deref()
        && !looks_like_email(email)
    {
        violations.push(Violation {
            code: "invalid_format".into(),
            field: "to.email".into(),
            message: format!("{email:?} is not an email address"),
        });
    }
    violations
}

pub(crate) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(phone: &str) -> (Option<String>, Option<String>, usize) {
        let mut to = model::Recipient {
            phone: Some(phone.into()),
            ..Default::default()
        };
        let v = normalize_recipient(&mut to);
        (to.phone, to.country, v.len())
    }

    #[test]
    fn phones_normalise_to_e164_with_country() {
        assert_eq!(
            norm("+1 555-123-4567"),
            (Some("+15551234567".into()), Some("US".into()), 0)
        );
        assert_eq!(
            norm("+15005550006"),
            (Some("+15005550006".into()), Some("US".into()), 0)
        );
        assert_eq!(
            norm("+1 415 555 2671"),
            (Some("+14155552671".into()), Some("US".into()), 0)
        );
        assert_eq!(
            norm("+82 10-1234-5678"),
            (Some("+821012345678".into()), Some("KR".into()), 0)
        );
        // The national number keeps its leading zero where the country's numbers have one.
        assert_eq!(
            norm("+39 06 1234 5678"),
            (Some("+390612345678".into()), Some("IT".into()), 0)
        );
        assert_eq!(
            norm("010-1234-5678").2,
            1,
            "national format needs a country code"
        );
        assert_eq!(norm("hello").2, 1);
    }
}
