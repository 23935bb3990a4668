//! One schema for every channel: what a client sends ([`NewMessage`]), what the gateway
//! reports ([`MessageView`], [`DeliveryView`]), and the status and failure vocabulary shared by
//! all plugins ([`Status`], [`FailureReason`]).
//!
//! These types are the source of `schemas/json/*.schema.json` (schemars) and of the
//! component schemas in `schemas/openapi.json` (utoipa); tests fail when either is stale.

mod contact;
mod message;
mod status;
mod views;

pub use contact::*;
pub use message::*;
pub use status::*;
pub use views::*;

/// Milliseconds since the Unix epoch, as stored.
pub type Millis = i64;

/// Now, by the gateway's clock ([`crate::clock`]).
pub fn now_ms() -> Millis {
    crate::clock::now_ms()
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(ms: Millis) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A new time-ordered id with a type prefix (`msg_`, `dlv_`, ...). Time order makes cursor
/// pagination by id the same as pagination by creation time.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
