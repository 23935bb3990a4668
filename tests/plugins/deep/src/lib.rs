//! Hostile test plugin: `send` recurses without bound. The host's explicit wasm stack limit
//! must end it as a stack overflow, not crash the gateway's own stack.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Deep;

/// Each frame keeps its state in wasm locals, so it is the wasm call stack that runs out, not
/// the shadow stack in linear memory (which would end as an out-of-bounds access instead: a
/// `black_box` here would put the value in memory). Rotating by a varying amount after the
/// call keeps the compiler from turning the recursion into a loop.
#[inline(never)]
fn dive(n: u64) -> u64 {
    // Never true in practice; it only tells the compiler the recursion could end.
    if n == u64::MAX {
        return 0;
    }
    dive(n.wrapping_add(1)).rotate_left((n % 63) as u32 + 1)
}

impl Plugin for Deep {
    fn describe() -> Manifest {
        common::manifest("test-deep", &[])
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(_: Message, _: Connection) -> Result<Sent, SendError> {
        Ok(Sent {
            provider_message_id: dive(std::hint::black_box(0)).to_string(),
        })
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

switchboard_plugin_sdk::export_plugin!(Deep);
