//! Switchboard: a messaging gateway that sends through sandboxed WebAssembly channel plugins.
//!
//! Follow one message from top to bottom:
//! 1. [`api`] accepts `POST /v1/messages` and authenticates the workspace;
//! 2. [`intake`] picks the connection and plugin, normalises the recipient, and asks the
//!    plugin to validate and quote;
//! 3. [`store`] commits the message and its delivery (group commit, WAL, `synchronous=FULL`)
//!    before the API answers 202;
//! 4. [`dispatch`] claims the delivery from the outbox and calls the plugin's `send` in the
//!    [`runtime`] sandbox, retrying with backoff;
//! 5. the provider calls back; [`callbacks`] has the plugin verify and normalise it, and the
//!    store moves the status forward.

pub mod api;
pub mod app;
pub mod billing;
pub mod callbacks;
pub mod clock;
pub mod connections;
pub mod contact_sync;
pub mod dispatch;
pub mod events;
pub mod followup;
pub mod intake;
pub mod metrics;
pub mod model;
pub mod netguard;
pub mod receipts;
pub mod resend;
pub mod routing;
pub mod runtime;
pub mod sandbox_setup;
pub mod scaffold;
pub mod schemas;
pub mod status_lookup;
pub mod store;
pub mod tenancy;
pub mod validation;
pub mod vault;

pub use app::{Gateway, GatewayConfig, Running, StartError, start};

/// Channel plugins compiled from `plugins/` by the build script and bundled into the binary.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
