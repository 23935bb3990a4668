//! Simulated Facebook Messenger Platform (Graph API Send API, webhooks, conversations).
//! Skeleton: filled in by the Messenger simulator work.

use std::sync::Arc;

use axum::Router;

use crate::Shared;
use crate::faults::ChannelSpec;

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "messenger",
    match_keys: &["to"],
    callback_statuses: &[],
};

#[derive(Debug, Default)]
pub(crate) struct MessengerState {}

impl MessengerState {
    pub(crate) fn clear(&self) {}
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
}
