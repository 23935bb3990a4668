//! Result notifications by rules: a bot or a form submits a result (`POST /v1/results`); each
//! of the workspace's rules whose condition holds on it notifies its targets, at once, one
//! notification per target per result (there is no grouping by session).
//!
//! - An email target, or a channel connection with a recipient, gets a message through the
//!   gateway's own pipeline (routing, retries, statuses), visible from the result.
//! - A member target gets an item in their inbox, and a webhook endpoint a
//!   `result.notification` event meant for it alone, both in the result's own commit.
//!
//! The result, the matching and every notification row commit together; messages are handed
//! on right after, each under the idempotency key `result-notification:<id>`, and a loop
//! hands on what a crash left pending. So a 201 means every notification will happen, once.

pub mod condition;
mod results;

pub use results::run;

use serde_json::{Value, json};

use crate::Gateway;
use crate::model::{
    ConnectionTarget, Content, EmailTarget, MemberTarget, NewMessage, NewResult, NewRule,
    Recipient, ResultView, RuleView, Target, WebhookEndpointTarget, new_id, now_ms, rfc3339,
};
use crate::sending::{SendError, request_hash};
use crate::store::StoreError;
use crate::store::rules::{self as rows, NotificationRow, RuleRow};

pub const NAME_MAX: usize = 100;
pub const TARGETS_MAX: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A target or a reference names something this workspace does not have.
    #[error("{field}: {message}")]
    Missing { field: String, message: String },
    #[error("a rule named {0:?} exists")]
    NameTaken(String),
    #[error("this Idempotency-Key was used for a different result ({0})")]
    KeyReused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a target cannot be notified: `missing` when it names something the workspace does
/// not have (a 404 for a rule), else it is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetProblem {
    pub field: String,
    pub message: String,
    pub missing: bool,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RulesError {
    RulesError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn blank(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

fn view(r: RuleRow) -> Result<RuleView, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    Ok(RuleView {
        condition: serde_json::from_str(&r.condition).map_err(corrupt)?,
        targets: serde_json::from_str(&r.targets).map_err(corrupt)?,
        id: r.id,
        name: r.name,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// What a rule's condition is evaluated on.
fn data_of(r: &NewResult) -> Value {
    json!({"form": r.form, "values": r.values, "contact": r.contact, "conversation": r.conversation})
}

impl Gateway {
    /// Check a rule as written; targets must exist in the workspace.
    async fn check_rule(&self, ws: &str, r: &NewRule) -> Result<(), RulesError> {
        if blank(&r.name) || r.name.chars().count() > NAME_MAX {
            return Err(invalid(
                "name",
                format!("must be 1 to {NAME_MAX} characters, not all blank"),
            ));
        }
        condition::check(&r.condition, "condition").map_err(|e| invalid(e.path, e.message))?;
        if r.targets.is_empty() || r.targets.len() > TARGETS_MAX {
            return Err(invalid(
                "targets",
                format!("give 1 to {TARGETS_MAX} targets"),
            ));
        }
        for (i, t) in r.targets.iter().enumerate() {
            if let Some(p) = self.target_problem(ws, t, &format!("targets[{i}]")).await? {
                return Err(if p.missing {
                    RulesError::Missing {
                        field: p.field,
                        message: p.message,
                    }
                } else {
                    invalid(p.field, p.message)
                });
            }
        }
        Ok(())
    }

    /// What is wrong with one target (at `at`), if anything: an email that is not one, or a
    /// member, webhook endpoint or connection this workspace does not have. Shared with the
    /// automations' `notify` step, so both check targets alike.
    pub(crate) async fn target_problem(
        &self,
        ws: &str,
        t: &Target,
        at: &str,
    ) -> Result<Option<TargetProblem>, StoreError> {
        let missing = |field: &str, message: String| {
            Some(TargetProblem {
                field: format!("{at}.{field}"),
                message,
                missing: true,
            })
        };
        Ok(match t {
            Target::Email(EmailTarget { email }) => crate::contact_edits::check_email(email)
                .err()
                .map(|_| TargetProblem {
                    field: format!("{at}.email"),
                    message: "must look like name@example.com".into(),
                    missing: false,
                }),
            Target::Member(MemberTarget { member }) => {
                let (w, m) = (ws.to_string(), member.clone());
                let found = self
                    .store
                    .read(move |c| crate::store::members::member_in(c, &w, &m))
                    .await?;
                match found {
                    Some(_) => None,
                    None => missing("member", format!("no member {member} in this workspace")),
                }
            }
            Target::WebhookEndpoint(WebhookEndpointTarget { webhook_endpoint }) => {
                let found = self
                    .event_log
                    .endpoint(ws.to_string(), webhook_endpoint.clone())
                    .await?;
                match found {
                    Some(_) => None,
                    None => missing(
                        "webhook_endpoint",
                        format!("no webhook endpoint {webhook_endpoint} in this workspace"),
                    ),
                }
            }
            Target::Connection(ConnectionTarget { connection, .. }) => {
                if self
                    .connections
                    .get(connection)
                    .is_none_or(|c| c.workspace_id != ws)
                {
                    missing(
                        "connection",
                        format!("no connection {connection} in this workspace"),
                    )
                } else {
                    None
                }
            }
        })
    }

    pub async fn create_rule(&self, ws: String, r: NewRule) -> Result<RuleView, RulesError> {
        self.check_rule(&ws, &r).await?;
        let now = now_ms();
        let row = RuleRow {
            id: new_id("rule"),
            workspace_id: ws,
            name: r.name.clone(),
            condition: r.condition.to_string(),
            targets: serde_json::to_string(&r.targets).unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        let saved = row.clone();
        if !self
            .store
            .write(move |t| rows::insert_rule(t, &saved))
            .await?
        {
            return Err(RulesError::NameTaken(r.name));
        }
        Ok(view(row)?)
    }

    pub async fn replace_rule(
        &self,
        ws: String,
        id: String,
        r: NewRule,
    ) -> Result<RuleView, RulesError> {
        self.check_rule(&ws, &r).await?;
        let row = RuleRow {
            id: id.clone(),
            workspace_id: ws.clone(),
            name: r.name.clone(),
            condition: r.condition.to_string(),
            targets: serde_json::to_string(&r.targets).unwrap_or_default(),
            created_at: 0,
            updated_at: now_ms(),
        };
        let name = r.name.clone();
        self.store
            .write(move |t| {
                if rows::name_taken(t, &row.workspace_id, &row.name, &row.id)? {
                    return Err(RulesError::NameTaken(name));
                }
                if !rows::update_rule(t, &row)? {
                    return Err(RulesError::NotFound("notification rule"));
                }
                Ok(())
            })
            .await?;
        self.rule(ws, id)
            .await?
            .ok_or(RulesError::NotFound("notification rule"))
    }

    pub async fn delete_rule(&self, ws: String, id: String) -> Result<bool, StoreError> {
        self.store
            .write(move |t| rows::delete_rule(t, &ws, &id))
            .await
    }

    pub async fn rules(&self, ws: String) -> Result<Vec<RuleView>, StoreError> {
        let found = self.store.read(move |c| rows::rules(c, &ws)).await?;
        found.into_iter().map(view).collect()
    }

    pub async fn rule(&self, ws: String, id: String) -> Result<Option<RuleView>, StoreError> {
        self.store
            .read(move |c| rows::rule_by_id(c, &ws, &id))
            .await?
            .map(view)
            .transpose()
    }

    /// Take a result: commit it with a notification per matching rule and target, then hand
    /// the messages on. A repeated `key` with the same result answers the first one.
    pub async fn submit_result(
        &self,
        ws: String,
        r: NewResult,
        key: Option<String>,
    ) -> Result<(ResultView, bool), RulesError> {
        if blank(&r.form) || r.form.chars().count() > NAME_MAX {
            return Err(invalid(
                "form",
                format!("must be 1 to {NAME_MAX} characters, not all blank"),
            ));
        }
        for (field, id) in [("contact", &r.contact), ("conversation", &r.conversation)] {
            if let Some(id) = id {
                let (w, i) = (ws.clone(), id.clone());
                let known = self
                    .store
                    .read(move |c| {
                        Ok::<_, StoreError>(
                            crate::store::conversation_states::state_of(c, &w, &i)?.is_some()
                                || c.prepare_cached(
                                    "SELECT 1 FROM contacts WHERE workspace_id = ?1 AND id = ?2",
                                )?
                                .exists(crate::store::sql::params![w, i])?,
                        )
                    })
                    .await?;
                if !known {
                    return Err(RulesError::Missing {
                        field: field.into(),
                        message: format!("no {field} {id} in this workspace"),
                    });
                }
            }
        }
        let body = serde_json::to_string(&r).unwrap_or_default();
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()));
        if let Some(k) = &key {
            let (w, k) = (ws.clone(), k.clone());
            if let Some((id, _, h, _)) = self
                .store
                .read(move |c| rows::result_by_key(c, &w, &k))
                .await?
            {
                if h != hash {
                    return Err(RulesError::KeyReused(id));
                }
                return Ok((
                    self.result(ws, id)
                        .await?
                        .ok_or(RulesError::NotFound("result"))?,
                    true,
                ));
            }
        }
        let rules = self.rules(ws.clone()).await?;
        let data = data_of(&r);
        let id = new_id("res");
        let now = now_ms();
        let row: rows::ResultRow = (id.clone(), body, hash.clone(), now);
        let mut notifications = Vec::new();
        for rule in rules
            .iter()
            .filter(|rule| condition::eval(&rule.condition, &data))
        {
            for target in &rule.targets {
                // Inbox items and endpoint events are written in the result's own commit;
                // messages are handed on after it.
                let (state, detail) = match target {
                    Target::Member(_) => ("delivered", None),
                    Target::WebhookEndpoint(WebhookEndpointTarget { webhook_endpoint }) => (
                        "sent",
                        Some(format!("a result.notification event to {webhook_endpoint}")),
                    ),
                    _ => ("pending", None),
                };
                notifications.push(NotificationRow {
                    id: new_id("ntf"),
                    workspace_id: ws.clone(),
                    result_id: id.clone(),
                    rule_id: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    target: serde_json::to_string(target).unwrap_or_default(),
                    state: state.into(),
                    message_id: None,
                    detail,
                    created_at: now,
                    message_status: None,
                });
            }
        }
        let (w, k, title) = (ws.clone(), key.clone(), format!("Result `{}`", r.form));
        let inbox_data = json!({"result": id, "form": r.form, "values": r.values, "contact": r.contact, "conversation": r.conversation}).to_string();
        let pending = notifications.clone();
        // The conversation the result is about (named, or the contact's), for automations
        // that a result starts.
        let about = r.conversation.clone().or_else(|| r.contact.clone());
        let form = r.form.clone();
        let inserted = self
            .store
            .write(move |t| {
                if !rows::insert_result(t, &w, &row, k.as_deref())? {
                    return Ok(false);
                }
                if let Some(about) = &about
                    && let Some(conv) = crate::store::conversation_states::state_of(t, &w, about)?
                {
                    let h = crate::automations::triggers::Happening::Result { form: &form };
                    crate::automations::triggers::on_conversation(t, &conv, h, now)?;
                }
                for n in &notifications {
                    rows::insert_notification(t, n)?;
                    match serde_json::from_str::<Target>(&n.target) {
                        Ok(Target::Member(MemberTarget { member })) => {
                            let title = format!("{title} matched rule `{}`", n.rule_name);
                            rows::insert_inbox_item(
                                t,
                                &new_id("inb"),
                                &w,
                                &member,
                                "result",
                                &title,
                                &inbox_data,
                                n.created_at,
                            )?;
                        }
                        Ok(Target::WebhookEndpoint(WebhookEndpointTarget { webhook_endpoint })) => {
                            let mut data: Value =
                                serde_json::from_str(&inbox_data).unwrap_or(Value::Null);
                            data["rule"] = json!({"id": n.rule_id, "name": n.rule_name});
                            crate::events::record_for_endpoint(
                                t,
                                &w,
                                &webhook_endpoint,
                                "result.notification",
                                n.created_at,
                                data,
                            )?;
                        }
                        _ => {}
                    }
                }
                Ok::<_, StoreError>(true)
            })
            .await?;
        if !inserted {
            // A concurrent request with the same key committed first.
            let (w, k) = (ws.clone(), key.unwrap_or_default());
            let first = self
                .store
                .read(move |c| rows::result_by_key(c, &w, &k))
                .await?;
            return match first {
                Some((id, _, h, _)) if h == hash => Ok((
                    self.result(ws, id)
                        .await?
                        .ok_or(RulesError::NotFound("result"))?,
                    true,
                )),
                Some((id, ..)) => Err(RulesError::KeyReused(id)),
                None => Err(RulesError::NotFound("result")),
            };
        }
        for n in &pending {
            match serde_json::from_str::<Target>(&n.target) {
                Ok(Target::Member(MemberTarget { member })) => {
                    let title = format!("Result `{}` matched rule `{}`", r.form, n.rule_name);
                    self.push_if_offline(&ws, &member, &n.id, &title).await?;
                }
                Ok(Target::WebhookEndpoint(_)) => {}
                _ => self.hand_on(n, &r).await?,
            }
        }
        Ok((
            self.result(ws, id)
                .await?
                .ok_or(RulesError::NotFound("result"))?,
            false,
        ))
    }

    /// Commit the message of one pending notification and record what became of it.
    async fn hand_on(&self, n: &NotificationRow, r: &NewResult) -> Result<(), StoreError> {
        let target: Target =
            serde_json::from_str(&n.target).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let text = format!(
            "Result `{}` matched rule `{}`.\n\n{}\n",
            r.form,
            n.rule_name,
            serde_json::to_string_pretty(&r.values).unwrap_or_default()
        );
        let (channel, to, connection, subject) = match target {
            Target::Email(EmailTarget { email }) => (
                "email".to_string(),
                Recipient {
                    email: Some(email),
                    ..Recipient::default()
                },
                None,
                Some(format!("Result `{}`: {}", r.form, n.rule_name)),
            ),
            Target::Connection(ConnectionTarget { connection, to }) => {
                // The rule outlived its connection: say so, rather than fail on an empty channel.
                let Some(channel) = self.connections.get(&connection).map(|c| c.channel.clone())
                else {
                    let (id, detail) = (
                        n.id.clone(),
                        format!("connection {connection} no longer exists; update the rule"),
                    );
                    return self
                        .store
                        .write(move |t| {
                            rows::settle_notification(t, &id, "failed", None, Some(&detail))
                        })
                        .await;
                };
                (channel, to, Some(connection), None)
            }
            Target::Member(_) | Target::WebhookEndpoint(_) => return Ok(()),
        };
        let request = NewMessage {
            channel,
            policy: None,
            to,
            content: Content {
                subject,
                text: Some(text),
                ..Content::default()
            },
            category: Default::default(),
            metadata: [
                ("result".to_string(), n.result_id.clone()),
                ("rule".to_string(), n.rule_id.clone()),
            ]
            .into(),
            options: Default::default(),
            connection,
            from: None,
        };
        let hash = request_hash(&request);
        let key = format!("result-notification:{}", n.id);
        let outcome = self
            .accept_message(n.workspace_id.clone(), request, hash, Some(key), None)
            .await;
        let (state, message, detail) = match outcome {
            Ok(sent) => ("sent", Some(sent.accepted.id), None),
            Err(SendError::Store(e)) => return Err(e),
            Err(e) => ("failed", None, Some(e.to_string())),
        };
        let id = n.id.clone();
        self.store
            .write(move |t| {
                rows::settle_notification(t, &id, state, message.as_deref(), detail.as_deref())
            })
            .await
    }
}
