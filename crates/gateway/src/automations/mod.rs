//! Automations: a trigger, an optional condition and a graph of steps a run walks for one
//! conversation (`docs/automations.md`). The definitions as written live in
//! `switchboard-model` (`automation.rs`); here they are checked field by field
//! ([`validate`]) and kept as numbered versions ([`definitions`], over
//! `store/automations.rs`), so a run follows the version it started on.

pub mod ask;
pub mod definitions;
mod defs;
pub mod engine;
pub mod moves;
pub mod stats;
pub mod triggers;
pub mod validate;

pub use definitions::AutomationsError;
