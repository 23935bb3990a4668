//! End-to-end tests: the `switchboard` binary over real HTTP and a real SQLite file, with
//! only the providers simulated (`sandbox/`). One test binary, so wasmtime links once.
//!
//! `on_postgres.rs` is the same suite, every file, on PostgreSQL; keep the two module lists
//! alike (a test there checks they are).

/// The database every gateway started by this binary uses.
pub const BACKEND: support::Backend = support::Backend::Sqlite;

mod alimtalk;
mod api_document;
mod api_input;
mod api_keys;
mod automation_definitions;
mod automations;
mod chat_switch;
mod connections;
mod console;
mod console_admin;
mod contact_activity;
mod content;
mod conversation_channels;
mod conversation_records;
mod conversations;
mod crash;
mod digest;
mod email;
pub mod faults;
mod followup;
mod hosting;
mod media;
mod members;
mod messenger;
mod netguard;
mod no_reply;
mod operator_config;
mod outbound_webhooks;
mod plugin_sandbox;
mod plugin_versions;
mod push;
mod receiver;
mod resend;
mod routing;
mod rules;
mod sandbox_tls;
mod scaffold;
mod sender_domains;
mod sms;
mod support;
mod tenancy;
mod wallet;
mod webhook_channel;
