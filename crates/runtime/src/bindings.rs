//! The plugin contract, by version.
//!
//! Each supported WIT version has a folder `schemas/wit/since_vX.Y.Z/` and a bindgen module
//! here (`since_vX_Y_Z`). The host speaks the latest version's types everywhere; older
//! versions' modules convert into them. [`api_version`](super::api_version) decides at load
//! time which version a component was built against and refuses the ones not listed in
//! [`SUPPORTED`](super::api_version::SUPPORTED).

pub mod since_v0_1_0;
pub mod since_v0_2_0;
pub mod since_v0_3_0;
pub mod since_v0_4_0;
mod versioned;

/// The imports: 0.1.0's, which every later version shares.
pub use since_v0_1_0::*;

/// The vocabulary the host speaks: 0.1.0's types, with the webhook outcome as 0.3.0 has it
/// (the explicit names shadow the glob's) and 0.4.0's senders.
pub mod wit {
    pub use super::since_v0_1_0::wit::*;
    pub use super::since_v0_3_0::events::{
        InboundMessage, OutboundEcho, WebhookEvent, WebhookOutcome,
    };
    pub use super::since_v0_4_0::senders::{
        DnsRecord, DomainCheck, DomainError, RecordCheck, Sender, SenderDomain,
    };
}
/// The exports, whichever version a plugin was built against.
pub use versioned::{AttemptWindow, FindOutcome, PluginInstance, PluginPre};
