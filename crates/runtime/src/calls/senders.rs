//! The sender exports of plugin API 0.4 (`default-sender` and the `domain-*` calls), one
//! method each, on a fresh instance with the connection's config and secrets: a domain call
//! is a provider round trip like `send`, so it has `send`'s deadline; `default-sender` reads
//! the configuration only, so it has the pure calls' deadline. Plugins built before 0.4
//! answer as a channel without senders ([`crate::bindings::PluginInstance`]).

use std::sync::Arc;
use std::time::Instant;

use super::finish;
use crate::bindings::wit;
use crate::{CallError, ConnectionCtx, LoadedPlugin, PluginRuntime, convert, output};

/// One sender call: a fresh instance with the connection, the call under `deadline`, its
/// answer finished as every call's is, then held to its caps by `check`.
macro_rules! sender_call {
    ($rt:ident, $plugin:ident, $conn:ident, $name:literal, $deadline:expr,
     |$store:ident, $inst:ident, $wit_conn:ident| $call:expr, |$answer:ident| $check:expr) => {{
        let connection = $conn.id.clone();
        $rt.guarded($plugin, &connection, $name, async {
            let deadline = $deadline;
            let $wit_conn = convert::wit_connection(&$conn);
            let (mut $store, $inst) = $rt.instantiate_for($plugin, Some($conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(deadline, $call).await;
            #[allow(unused_mut)]
            let mut $answer = finish($plugin.name(), $name, &$store, started, deadline, r)?;
            $check;
            Ok($answer)
        })
        .await
    }};
}

impl PluginRuntime {
    /// The sender the connection's configuration names, if its plugin has senders.
    pub async fn default_sender(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
    ) -> Result<Option<wit::Sender>, CallError> {
        sender_call!(
            self,
            plugin,
            conn,
            "default-sender",
            self.limits.pure_deadline,
            |store, inst, wit_conn| inst.call_default_sender(&mut store, &wit_conn),
            |sender| if let Some(s) = &mut sender {
                output::sender(s)
            }
        )
    }

    /// Ask the provider to set `domain` up as a sender domain.
    pub async fn domain_create(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        domain: &str,
    ) -> Result<Result<wit::SenderDomain, wit::DomainError>, CallError> {
        sender_call!(
            self,
            plugin,
            conn,
            "domain-create",
            self.limits.send_deadline,
            |store, inst, wit_conn| inst.call_domain_create(&mut store, domain, &wit_conn),
            |answer| output::sender_domain(plugin.name(), "domain-create", &mut answer)?
        )
    }

    /// The provider's current view of a sender domain.
    pub async fn domain_get(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_id: &str,
    ) -> Result<Result<wit::SenderDomain, wit::DomainError>, CallError> {
        sender_call!(
            self,
            plugin,
            conn,
            "domain-get",
            self.limits.send_deadline,
            |store, inst, wit_conn| inst.call_domain_get(&mut store, provider_id, &wit_conn),
            |answer| output::sender_domain(plugin.name(), "domain-get", &mut answer)?
        )
    }

    /// Ask the provider to check a sender domain's DNS records now.
    pub async fn domain_validate(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_id: &str,
    ) -> Result<Result<wit::DomainCheck, wit::DomainError>, CallError> {
        sender_call!(
            self,
            plugin,
            conn,
            "domain-validate",
            self.limits.send_deadline,
            |store, inst, wit_conn| inst.call_domain_validate(&mut store, provider_id, &wit_conn),
            |answer| output::domain_check(&mut answer)
        )
    }

    /// Delete a sender domain at the provider.
    pub async fn domain_delete(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_id: &str,
    ) -> Result<Result<(), wit::DomainError>, CallError> {
        sender_call!(
            self,
            plugin,
            conn,
            "domain-delete",
            self.limits.send_deadline,
            |store, inst, wit_conn| inst.call_domain_delete(&mut store, provider_id, &wit_conn),
            |answer| if let Err(e) = &mut answer {
                output::domain_error(e)
            }
        )
    }
}
