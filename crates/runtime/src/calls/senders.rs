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

impl PluginRuntime {
    /// The sender the connection's configuration names, if its plugin has senders.
    pub async fn default_sender(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
    ) -> Result<Option<wit::Sender>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "default-sender", async {
            let deadline = self.limits.pure_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(deadline, inst.call_default_sender(&mut store, &wit_conn))
                .await;
            let mut sender = finish(
                plugin.name(),
                "default-sender",
                &store,
                started,
                deadline,
                r,
            )?;
            if let Some(s) = &mut sender {
                output::sender(s);
            }
            Ok(sender)
        })
        .await
    }

    /// Ask the provider to set `domain` up as a sender domain.
    pub async fn domain_create(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        domain: &str,
    ) -> Result<Result<wit::SenderDomain, wit::DomainError>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "domain-create", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_domain_create(&mut store, domain, &wit_conn),
            )
            .await;
            let mut answer = finish(plugin.name(), "domain-create", &store, started, deadline, r)?;
            output::sender_domain(plugin.name(), "domain-create", &mut answer)?;
            Ok(answer)
        })
        .await
    }

    /// The provider's current view of a sender domain.
    pub async fn domain_get(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_id: &str,
    ) -> Result<Result<wit::SenderDomain, wit::DomainError>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "domain-get", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_domain_get(&mut store, provider_id, &wit_conn),
            )
            .await;
            let mut answer = finish(plugin.name(), "domain-get", &store, started, deadline, r)?;
            output::sender_domain(plugin.name(), "domain-get", &mut answer)?;
            Ok(answer)
        })
        .await
    }

    /// Ask the provider to check a sender domain's DNS records now.
    pub async fn domain_validate(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_id: &str,
    ) -> Result<Result<wit::DomainCheck, wit::DomainError>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "domain-validate", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_domain_validate(&mut store, provider_id, &wit_conn),
            )
            .await;
            let mut answer = finish(
                plugin.name(),
                "domain-validate",
                &store,
                started,
                deadline,
                r,
            )?;
            output::domain_check(&mut answer);
            Ok(answer)
        })
        .await
    }

    /// Delete a sender domain at the provider.
    pub async fn domain_delete(
        &self,
        plugin: &LoadedPlugin,
        conn: Arc<ConnectionCtx>,
        provider_id: &str,
    ) -> Result<Result<(), wit::DomainError>, CallError> {
        let connection = conn.id.clone();
        self.guarded(plugin, &connection, "domain-delete", async {
            let deadline = self.limits.send_deadline;
            let wit_conn = convert::wit_connection(&conn);
            let (mut store, inst) = self.instantiate_for(plugin, Some(conn), deadline).await?;
            let started = Instant::now();
            let r = tokio::time::timeout(
                deadline,
                inst.call_domain_delete(&mut store, provider_id, &wit_conn),
            )
            .await;
            let mut answer = finish(plugin.name(), "domain-delete", &store, started, deadline, r)?;
            if let Err(e) = &mut answer {
                output::domain_error(e);
            }
            Ok(answer)
        })
        .await
    }
}
