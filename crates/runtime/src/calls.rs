//! The exports a plugin offers, one method each: an instance (warm for `validate`, `quote`,
//! `send` and callbacks, see [`super::warm`]; fresh for the rest), a deadline, and the raw
//! outcome turned into a value or a [`CallError`]. The sender exports of API 0.4 are in
//! [`senders`].

mod senders;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::bindings::{AttemptWindow, FindOutcome, wit};
use super::imports::CallState;
use super::warm::Kind;
use super::webhook_auth::Refusal;
use super::{CallError, ConnectionCtx, LoadedPlugin, PluginRuntime, convert, engine, output};

/// A `send` call's answer, and whether one of its requests may have reached the provider
/// while the answer was lost (a reset or a timeout after the request went out).
pub struct SendAnswer {
    pub result: Result<wit::Sent, wit::SendError>,
    pub answer_lost: bool,
}

impl PluginRuntime {
    /// `validate`, then `quote` if the message is valid, in one instance: both are pure
    /// functions of the same message, so sharing an instance leaks nothing and halves the
    /// instantiation cost of accepting a message. `connection`: the one the message would go
    /// out on, whose quarantine applies.
    pub async fn assess(
        &self,
        plugin: &LoadedPlugin,
        connection: &str,
        msg: &wit::Message,
    ) -> Result<
        (
            Vec<wit::Violation>,
            Option<Result<wit::Quotation, Vec<wit::Violation>>>,
        ),
        CallError,
    > {
        self.guarded(plugin, connection, "validate", async {
            let deadline = self.limits.pure_deadline;
            let mut w = self
                .checkout(plugin, connection, None, Kind::Pure, deadline)
                .await?;
            let started = Instant::now();
            let r = tokio::time::timeout(deadline, w.inst.call_validate(&mut w.store, msg)).await;
            let mut violations = finish(plugin.name(), "validate", &w.store, started, deadline, r)?;
            if !violations.is_empty() {
                self.warm.give_back(w);
                output::violations(&mut violations);
                return Ok((violations, None));
            }
            let left = deadline.saturating_sub(started.elapsed());
            let r = tokio::time::timeout(left, w.inst.call_quote(&mut w.store, msg)).await;
            let mut quote = finish(plugin.name(), "quote", &w.store, started, deadline, r)?;
            self.warm.give_back(w);
            if let Err(v) = &mut quote {
                output::violations(v);
            }
            Ok((violations, Some(quote)))
        })
        .await
    }

    pub async fn validate(
        &self,
        plugin: &LoadedPlugin,
        connection: &str,
        msg: &wit::Message,
    ) -> Result<Vec<wit::Violation>, CallError> {
        self.guarded(plugin, connection, "validate", async {
            let deadline = self.limits.pure_deadline;
            let mut w = self
                .checkout(plugin, connection, None, Kind::Pure, deadline)
                .await?;
            let started = Instant::now();
            let r = tokio::time::timeout(deadline, w.inst.call_validate(&mut w.store, msg)).await;
            let mut violations = finish(plugin.name(), "validate", &w.store, started, deadline, r)?;
            self.warm.give_back(w);
            output::violations(&mut violations);
            Ok(violations)
        })
        .await
    }

    /// `quote` alone (the benchmarks measure it; intake uses [`Self::assess`]).
    pub async fn quote(
        &self,
        plugin: &LoadedPlugin,
        connection: &str,
        msg: &wit::Message,
    ) -> Result<Result<wit::Quotation, Vec<wit::Violation>>, CallError> {
        self.guarded(plugin, connection, "validate", async {
            let deadline = self.limits.pure_deadline;
            let mut w = self
                .checkout(plugin, connection, None, Kind::Pure, deadline)
                .await?;
            let started = Instant::now();
            let r = tokio::time::timeout(deadline, w.inst.call_quote(&mut w.store, msg)).await;
            let mut quote = finish(plugin.name(), "quote", &w.store, started, deadline, r)?;
            self.warm.give_back(w);
            if let Err(v) = &mut quote {
                output::violations(v);
            }
            Ok(quote)
        })
        .await
    }

    /// `sender`: the one the message names, checked at intake (see the WIT's `send`).
    pub async fn send(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        msg: &wit::Message,
        sender: Option<&wit::Sender>,
    ) -> Result<SendAnswer, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "send", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let mut w = self
                .checkout(plugin, &connection, Some(conn), Kind::Send, deadline)
                .await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                w.inst.call_send(&mut w.store, msg, &wit_conn, sender),
            )
            .await;
            let answer_lost = w.store.data().answer_lost;
            let mut sent = finish(plugin.name(), "send", &w.store, started, deadline, r)?;
            output::send(plugin.name(), &mut sent)?;
            self.warm.give_back(w);
            Ok(SendAnswer {
                result: sent,
                answer_lost,
            })
        })
        .await
    }

    /// The plugin's answer to a provider callback, with the host's rule applied: an `ok`
    /// stands only if the call verified the callback through `webhook-auth` and any signed
    /// time it declared is within the replay window (see [`super::webhook_auth`]). Otherwise
    /// the answer becomes `unauthorized`, so nothing the plugin normalised is applied.
    pub async fn handle_webhook(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        req: &wit::WebhookRequest,
    ) -> Result<Result<wit::WebhookOutcome, wit::WebhookError>, CallError> {
        let connection = conn.id.clone();
        let (answer, verdict) = self
            .guarded(plugin, &connection, "handle-webhook", async {
                let deadline = self.limits.webhook_deadline;
                let wit_conn = convert::wit_connection(&conn);
                let mut w = self
                    .checkout(plugin, &connection, Some(conn), Kind::Webhook, deadline)
                    .await?;
                let started = Instant::now();
                let r = tokio::time::timeout(
                    deadline,
                    w.inst.call_handle_webhook(&mut w.store, req, &wit_conn),
                )
                .await;
                let mut answer = finish(
                    plugin.name(),
                    "handle-webhook",
                    &w.store,
                    started,
                    deadline,
                    r,
                )?;
                output::webhook(plugin.name(), &mut answer)?;
                let verdict = w.store.data().webhook.verdict(
                    switchboard_model::clock::now_ms(),
                    self.limits.callback_replay_window,
                );
                self.warm.give_back(w);
                Ok((answer, verdict))
            })
            .await?;
        if answer.is_err() {
            return Ok(answer);
        }
        Ok(match verdict {
            Ok(()) => answer,
            Err(refusal) => {
                if refusal == Refusal::Unverified {
                    // A plugin bug, not a provider's or an attacker's doing: worth a warning.
                    tracing::warn!(plugin = plugin.name(), %connection, %refusal, "callback refused");
                } else {
                    tracing::info!(plugin = plugin.name(), %connection, %refusal, "callback refused");
                }
                Err(wit::WebhookError::Unauthorized(refusal.to_string()))
            }
        })
    }

    /// One page of the connection's contacts (`sync-contacts`), with the send deadline: it
    /// makes provider round trips like `send` does.
    pub async fn sync_contacts(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        cursor: Option<String>,
    ) -> Result<Result<wit::ContactPage, wit::SendError>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "sync-contacts", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_sync_contacts(&mut store, &wit_conn, cursor.as_deref()),
            )
            .await;
            let mut page = finish(plugin.name(), "sync-contacts", &store, started, deadline, r)?;
            output::contact_page(plugin.name(), &mut page)?;
            Ok(page)
        })
        .await
    }

    /// The provider's current status of one sent message (`lookup-status`), with the send
    /// deadline: it is a provider round trip like `send`.
    pub async fn lookup_status(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_message_id: &str,
    ) -> Result<Result<Option<wit::StatusUpdate>, wit::SendError>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "lookup-status", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_lookup_status(&mut store, provider_message_id, &wit_conn),
            )
            .await;
            let mut found = finish(plugin.name(), "lookup-status", &store, started, deadline, r)?;
            output::status_lookup(&mut found);
            Ok(found)
        })
        .await
    }
}

impl PluginRuntime {
    /// Whether the provider already took `msg`, sent by an attempt whose answer was lost in
    /// `window` (`find-sent`), with the send deadline: it is a provider round trip. `None`
    /// when the plugin predates `find-sent` (API 0.1): the provider cannot be asked.
    pub async fn find_sent(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        msg: &wit::Message,
        window: AttemptWindow,
    ) -> Result<Option<Result<FindOutcome, wit::SendError>>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "find-sent", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_find_sent(&mut store, msg, &wit_conn, window),
            )
            .await;
            let mut found = finish(plugin.name(), "find-sent", &store, started, deadline, r)?;
            output::find_sent(plugin.name(), &mut found)?;
            Ok(found)
        })
        .await
    }
}

/// Turn the raw outcome of a call into the value or a [`CallError`] that says what happened.
pub(crate) fn finish<R>(
    plugin: &str,
    export: &'static str,
    store: &Store<CallState>,
    started: Instant,
    deadline: Duration,
    outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
) -> Result<R, CallError> {
    let err = match outcome {
        Ok(Ok(v)) => return Ok(v),
        Err(_) => {
            return Err(CallError::Deadline {
                plugin: plugin.into(),
                export,
                ms: deadline.as_millis(),
            });
        }
        Ok(Err(e)) => e,
    };
    if store.data().limiter.hit {
        return Err(CallError::Memory {
            plugin: plugin.into(),
            export,
            limit_mib: store.data().limiter.max_bytes >> 20,
        });
    }
    if output::is_output_exhausted(&err) {
        return Err(CallError::Output {
            plugin: plugin.into(),
            export,
            detail: format!(
                "more than {} MiB copied out of the guest in one transfer",
                store.data().services.limits.max_output_bytes >> 20
            ),
        });
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => Err(CallError::Trap {
            plugin: plugin.into(),
            export,
            detail: format!(
                "stack overflow (the wasm stack is capped at {} KiB)",
                engine::MAX_WASM_STACK >> 10
            ),
        }),
        Some(Trap::Interrupt) => Err(CallError::Deadline {
            plugin: plugin.into(),
            export,
            ms: started.elapsed().as_millis().max(deadline.as_millis()),
        }),
        Some(trap) => Err(CallError::Trap {
            plugin: plugin.into(),
            export,
            detail: trap.to_string(),
        }),
        None => Err(CallError::Trap {
            plugin: plugin.into(),
            export,
            detail: format!("{err:#}")
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        }),
    }
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
