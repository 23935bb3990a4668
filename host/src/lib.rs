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
//!
//! What this crate owns, and what it does not: it is the gateway proper (the HTTP API, the
//! services, the store and the wallet) while they are being split into crates of their own.
//! The schema lives in `switchboard-model` and the plugin host in `switchboard-runtime`; they
//! are re-exported here as [`model`] and [`runtime`] so paths read the same while the split
//! goes on. The plugins themselves reach this crate only as bytes from the binary
//! (`GatewayConfig::bundled`), and the provider simulators only behind the `sandbox` feature.

pub mod api;
pub mod app;
pub mod callbacks;
pub mod connections;
pub mod contact_sync;
pub mod dispatch;
pub mod followup;
pub mod intake;
pub mod lifecycle;
pub mod metrics;
pub mod receipts;
pub mod resend;
pub mod routing;
#[cfg(feature = "sandbox")]
pub mod sandbox_setup;
pub mod schemas;
pub mod status_lookup;
pub mod tenancy;
pub mod validation;

// Until every caller imports the crates by name: the schema and the plugin host at the paths
// the gateway's modules have always used.
pub use switchboard_billing as billing;
pub use switchboard_events as events;
pub use switchboard_model as model;
pub use switchboard_model::clock;
pub use switchboard_runtime as runtime;
pub use switchboard_runtime::netguard;
pub use switchboard_store as store;
pub use switchboard_vault as vault;

pub use app::{Gateway, GatewayConfig, Running, StartError, start};
