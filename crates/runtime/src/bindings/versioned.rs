//! One plugin, whichever contract version it was built against: the pre-instantiated
//! component and its instances as an enum over the bindgen modules, with one method per
//! export, answering in the latest version's types: 0.1.0's and 0.2.0's webhook outcomes are
//! converted (they never carry echoes or payloads), `find-sent`, which 0.1.0 lacks, answers
//! `None` there, and the senders of 0.4.0 answer as a channel without senders would before it
//! (no default sender, `unsupported` domains).

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::{since_v0_1_0, since_v0_2_0, since_v0_3_0, since_v0_4_0, wit};
use crate::api_version::ApiVersion;
use crate::imports::CallState;

pub use since_v0_3_0::events::{AttemptWindow, FindOutcome};

/// A linked plugin, ready to instantiate.
pub enum PluginPre {
    V0_1(since_v0_1_0::ChannelPluginPre<CallState>),
    V0_2(since_v0_2_0::ChannelPluginPre<CallState>),
    V0_3(since_v0_3_0::ChannelPluginPre<CallState>),
    V0_4(since_v0_4_0::ChannelPluginPre<CallState>),
}

impl PluginPre {
    /// The bindings for the version the component declared (checked against
    /// [`crate::api_version::SUPPORTED`] before it was compiled).
    pub fn new(version: ApiVersion, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(if version >= ApiVersion::new(0, 4, 0) {
            PluginPre::V0_4(since_v0_4_0::ChannelPluginPre::new(pre)?)
        } else if version >= ApiVersion::new(0, 3, 0) {
            PluginPre::V0_3(since_v0_3_0::ChannelPluginPre::new(pre)?)
        } else if version >= ApiVersion::new(0, 2, 0) {
            PluginPre::V0_2(since_v0_2_0::ChannelPluginPre::new(pre)?)
        } else {
            PluginPre::V0_1(since_v0_1_0::ChannelPluginPre::new(pre)?)
        })
    }

    pub async fn instantiate_async(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<PluginInstance> {
        Ok(match self {
            PluginPre::V0_1(pre) => PluginInstance::V0_1(pre.instantiate_async(store).await?),
            PluginPre::V0_2(pre) => PluginInstance::V0_2(pre.instantiate_async(store).await?),
            PluginPre::V0_3(pre) => PluginInstance::V0_3(pre.instantiate_async(store).await?),
            PluginPre::V0_4(pre) => PluginInstance::V0_4(pre.instantiate_async(store).await?),
        })
    }
}

/// One instance of a plugin.
pub enum PluginInstance {
    V0_1(since_v0_1_0::ChannelPlugin),
    V0_2(since_v0_2_0::ChannelPlugin),
    V0_3(since_v0_3_0::ChannelPlugin),
    V0_4(since_v0_4_0::ChannelPlugin),
}

/// The same call on whichever version's export interface the instance has.
macro_rules! each_version {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            PluginInstance::V0_1(i) => {
                let $p = i.switchboard_channel_plugin();
                $call
            }
            PluginInstance::V0_2(i) => {
                let $p = i.switchboard_channel0_2_0_plugin();
                $call
            }
            PluginInstance::V0_3(i) => {
                let $p = i.switchboard_channel0_3_0_plugin();
                $call
            }
            PluginInstance::V0_4(i) => {
                let $p = i.switchboard_channel0_4_0_plugin();
                $call
            }
        }
    };
}

/// What a plugin built before 0.4.0 answers to a domain export: it has no sender domains.
fn unsupported<T>() -> wasmtime::Result<Result<T, wit::DomainError>> {
    Ok(Err(wit::DomainError::Unsupported))
}

impl PluginInstance {
    pub async fn call_describe(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<wit::Manifest> {
        each_version!(self, p => p.call_describe(store).await)
    }

    pub async fn call_validate(
        &self,
        store: &mut Store<CallState>,
        msg: &wit::Message,
    ) -> wasmtime::Result<Vec<wit::Violation>> {
        each_version!(self, p => p.call_validate(store, msg).await)
    }

    pub async fn call_quote(
        &self,
        store: &mut Store<CallState>,
        msg: &wit::Message,
    ) -> wasmtime::Result<Result<wit::Quotation, Vec<wit::Violation>>> {
        each_version!(self, p => p.call_quote(store, msg).await)
    }

    /// `sender` reaches only a 0.4.0 plugin: the host gives one only to plugins that declare
    /// sender domains, which a plugin built before 0.4.0 cannot (the runtime drops the
    /// capability at load). Should one get here anyway, the send fails saying why rather
    /// than going out from another address than the message names.
    pub async fn call_send(
        &self,
        store: &mut Store<CallState>,
        msg: &wit::Message,
        conn: &wit::Connection,
        sender: Option<&wit::Sender>,
    ) -> wasmtime::Result<Result<wit::Sent, wit::SendError>> {
        match self {
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_send(store, msg, conn, sender)
                    .await
            }
            _ if sender.is_some() => Ok(Err(wit::SendError {
                retryable: false,
                retry_after_ms: None,
                reason: wit::FailureReason::InvalidFormat,
                provider_code: None,
                detail: "this plugin predates plugin API 0.4 and cannot send from the sender the message names".into(),
            })),
            PluginInstance::V0_1(i) => {
                i.switchboard_channel_plugin()
                    .call_send(store, msg, conn)
                    .await
            }
            PluginInstance::V0_2(i) => {
                i.switchboard_channel0_2_0_plugin()
                    .call_send(store, msg, conn)
                    .await
            }
            PluginInstance::V0_3(i) => {
                i.switchboard_channel0_3_0_plugin()
                    .call_send(store, msg, conn)
                    .await
            }
        }
    }

    pub async fn call_handle_webhook(
        &self,
        store: &mut Store<CallState>,
        req: &wit::WebhookRequest,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Result<wit::WebhookOutcome, wit::WebhookError>> {
        Ok(match self {
            PluginInstance::V0_1(i) => i
                .switchboard_channel_plugin()
                .call_handle_webhook(store, req, conn)
                .await?
                .map(Into::into),
            PluginInstance::V0_2(i) => i
                .switchboard_channel0_2_0_plugin()
                .call_handle_webhook(store, req, conn)
                .await?
                .map(Into::into),
            PluginInstance::V0_3(i) => {
                i.switchboard_channel0_3_0_plugin()
                    .call_handle_webhook(store, req, conn)
                    .await?
            }
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_handle_webhook(store, req, conn)
                    .await?
            }
        })
    }

    pub async fn call_sync_contacts(
        &self,
        store: &mut Store<CallState>,
        conn: &wit::Connection,
        cursor: Option<&str>,
    ) -> wasmtime::Result<Result<wit::ContactPage, wit::SendError>> {
        each_version!(self, p => p.call_sync_contacts(store, conn, cursor).await)
    }

    pub async fn call_lookup_status(
        &self,
        store: &mut Store<CallState>,
        provider_message_id: &str,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Result<Option<wit::StatusUpdate>, wit::SendError>> {
        each_version!(self, p => p.call_lookup_status(store, provider_message_id, conn).await)
    }

    /// `None` for a 0.1.0 plugin, which has no `find-sent`: the provider cannot be asked
    /// through it.
    pub async fn call_find_sent(
        &self,
        store: &mut Store<CallState>,
        msg: &wit::Message,
        conn: &wit::Connection,
        window: AttemptWindow,
    ) -> wasmtime::Result<Option<Result<FindOutcome, wit::SendError>>> {
        match self {
            PluginInstance::V0_1(_) => Ok(None),
            PluginInstance::V0_2(i) => Ok(Some(
                i.switchboard_channel0_2_0_plugin()
                    .call_find_sent(store, msg, conn, window.into())
                    .await?
                    .map(Into::into),
            )),
            PluginInstance::V0_3(i) => i
                .switchboard_channel0_3_0_plugin()
                .call_find_sent(store, msg, conn, window)
                .await
                .map(Some),
            PluginInstance::V0_4(i) => i
                .switchboard_channel0_4_0_plugin()
                .call_find_sent(store, msg, conn, window)
                .await
                .map(Some),
        }
    }

    /// `None` before 0.4.0: such a plugin has no senders to name.
    pub async fn call_default_sender(
        &self,
        store: &mut Store<CallState>,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Option<wit::Sender>> {
        match self {
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_default_sender(store, conn)
                    .await
            }
            _ => Ok(None),
        }
    }

    pub async fn call_domain_create(
        &self,
        store: &mut Store<CallState>,
        domain: &str,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Result<wit::SenderDomain, wit::DomainError>> {
        match self {
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_domain_create(store, domain, conn)
                    .await
            }
            _ => unsupported(),
        }
    }

    pub async fn call_domain_get(
        &self,
        store: &mut Store<CallState>,
        provider_id: &str,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Result<wit::SenderDomain, wit::DomainError>> {
        match self {
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_domain_get(store, provider_id, conn)
                    .await
            }
            _ => unsupported(),
        }
    }

    pub async fn call_domain_validate(
        &self,
        store: &mut Store<CallState>,
        provider_id: &str,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Result<wit::DomainCheck, wit::DomainError>> {
        match self {
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_domain_validate(store, provider_id, conn)
                    .await
            }
            _ => unsupported(),
        }
    }

    pub async fn call_domain_delete(
        &self,
        store: &mut Store<CallState>,
        provider_id: &str,
        conn: &wit::Connection,
    ) -> wasmtime::Result<Result<(), wit::DomainError>> {
        match self {
            PluginInstance::V0_4(i) => {
                i.switchboard_channel0_4_0_plugin()
                    .call_domain_delete(store, provider_id, conn)
                    .await
            }
            _ => unsupported(),
        }
    }
}
