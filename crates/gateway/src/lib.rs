//! Switchboard: a messaging gateway that sends through sandboxed WebAssembly channel plugins.
//!
//! Follow one message from top to bottom:
//! 1. [`api`] accepts `POST /v1/messages` and authenticates the workspace;
//! 2. [`intake`] (`Intake::prepare`) picks the connection and plugin, normalises the
//!    recipient, and asks the plugin to validate and quote; it writes nothing;
//! 3. [`lifecycle`] (`Deliveries::accept`) commits the message, its delivery, its timeline
//!    line and its event in one [`store`] unit of work (group commit, WAL,
//!    `synchronous=FULL`) before the API answers 202;
//! 4. [`dispatch`] claims the delivery (`Deliveries::claim`, which places the [`billing`]
//!    hold in the same commit) and calls the plugin's `send` in the [`runtime`] sandbox,
//!    retrying with backoff; `Deliveries::complete` records the outcome;
//! 5. the provider calls back; [`callbacks`] has the plugin verify and normalise it, and the
//!    lifecycle moves the status forward, announcing it through [`events`].
//!
//! What this crate owns: the services (each holds its dependencies explicitly and is built
//! once in `app/services.rs`) and the HTTP API over them. What it does not: the tables
//! (`switchboard-store`), the wallet (`switchboard-billing`), the event feed
//! (`switchboard-events`), secrets at rest (`switchboard-vault`), the schema
//! (`switchboard-model`) and the plugin host (`switchboard-runtime`). They are re-exported
//! below under their old module names, so `crate::store::Store` reads as it always did. The
//! plugins reach this crate only as bytes from the binary (`GatewayConfig::bundled`), and the
//! provider simulators only behind the `sandbox` feature.

pub mod app;
pub mod automations;
pub mod callbacks;
pub mod chat_switch;
pub mod connections;
pub mod contact_edits;
pub mod contact_sync;
pub mod conversations;
pub mod digest;
pub mod dispatch;
pub mod facebook_login;
pub mod followup;
pub mod hosting;
pub mod intake;
pub mod lifecycle;
pub mod media_probe;
pub mod metrics;
pub mod no_reply;
pub mod receipts;
pub mod resend;
pub mod routing;
pub mod rules;
#[cfg(feature = "sandbox")]
pub mod sandbox_setup;
pub mod sender_domains;
pub mod sending;
pub mod status_lookup;
pub mod tenancy;
pub mod validation;

// The crates below the services, at the paths the gateway's modules have always used.
pub use switchboard_billing as billing;
pub use switchboard_events as events;
pub use switchboard_model as model;
pub use switchboard_model::clock;
pub use switchboard_runtime as runtime;
pub use switchboard_runtime::netguard;
pub use switchboard_store as store;
pub use switchboard_vault as vault;

pub use app::{Gateway, GatewayConfig, Running, StartError, start};
