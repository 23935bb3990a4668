//! One schema for every channel: what a client sends ([`NewMessage`]), what the gateway
//! reports ([`MessageView`], [`DeliveryView`]), and the status and failure vocabulary shared by
//! all plugins ([`Status`], [`FailureReason`]).
//!
//! Why a crate of its own: every other crate speaks these types (the store persists them, the
//! plugin runtime converts them to WIT, the services decide on them, the API serialises them),
//! so they sit at the bottom of the house and depend on nothing of ours. Value types only: a
//! routing [`policy::Policy`] as written, a [`CostQuote`], the gateway's [`clock`], a key's
//! [`Scopes`]. What a policy *does* lives in the routing service; what a price *is* lives in
//! billing; how a key is made and hashed lives in tenancy.
//!
//! These types are the source of `schemas/json/*.schema.json` (schemars) and of the
//! component schemas in `schemas/openapi.json` (utoipa); tests fail when either is stale.

pub mod automation;
mod chat;
pub mod clock;
mod contact;
mod conversation_record;
pub mod json_numbers;
mod members;
mod message;
pub mod policy;
mod redrive;
mod rules;
mod sender_domains;
mod status;
mod views;
mod workspace;

pub use chat::*;
pub use contact::*;
pub use conversation_record::*;
pub use members::*;
pub use message::*;
pub use redrive::*;
pub use rules::*;
pub use sender_domains::*;
pub use status::*;
pub use views::*;
pub use workspace::*;

/// Money in integer micro-units of the currency (1 USD = 1,000,000): never a float.
pub type Micros = i64;

/// What a message would cost now, from `POST /v1/messages/preview`.
#[derive(
    Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema, utoipa::ToSchema,
)]
pub struct CostQuote {
    pub currency: String,
    pub unit_price_micros: Micros,
    pub cost_micros: Micros,
    /// Whether the wallet could pay for it now (credit and paid balance).
    pub affordable: bool,
}

/// Milliseconds since the Unix epoch, as stored.
pub type Millis = i64;

/// Now, by the gateway's clock ([`crate::clock`]).
pub fn now_ms() -> Millis {
    clock::now_ms()
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
