//! Hostile test plugin: every export but `describe` (which must answer for the plugin to
//! load at all) hits `unreachable`. The host must fail each call with the trap as the reason
//! and quarantine the connection once the faults keep coming.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Trap;

impl Plugin for Trap {
    fn describe() -> Manifest {
        common::manifest("test-trap", &[])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        std::process::abort()
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        std::process::abort()
    }
    fn send(_: Message, _: Connection) -> Result<Sent, SendError> {
        std::process::abort()
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        std::process::abort()
    }
    fn sync_contacts(_: Connection, _: Option<String>) -> Result<ContactPage, SendError> {
        std::process::abort()
    }
}

switchboard_plugin_sdk::export_plugin!(Trap);
