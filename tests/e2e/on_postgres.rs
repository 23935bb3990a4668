//! The end-to-end suite on PostgreSQL: every file of `main.rs`, each gateway on a fresh
//! database of the test cluster (`tools/pg-cluster`, started on first use). Tests that are
//! about many nodes on one database live in `multinode`, which only this binary has.

/// The database every gateway started by this binary uses.
pub const BACKEND: support::Backend = support::Backend::Postgres;

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
mod multinode;
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

/// Every file of the SQLite suite runs here too: the two lists of modules are the same.
#[test]
fn every_e2e_file_runs_on_postgres() {
    let modules = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("mod ") && *l != "mod multinode;")
            .map(str::to_string)
            .collect()
    };
    let sqlite = modules(include_str!("main.rs"));
    let postgres = modules(include_str!("on_postgres.rs"));
    assert!(sqlite.len() > 20, "{sqlite:?}");
    assert_eq!(sqlite, postgres);
}
