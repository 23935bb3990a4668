//! Simulated FCM HTTP v1 and APNs (HTTP/2), with a simulated device that acknowledges receipt.
//! Skeleton: filled in by the Push simulator work.

use std::sync::Arc;

use axum::Router;

use crate::Shared;
use crate::faults::ChannelSpec;

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "push",
    match_keys: &["to"],
    callback_statuses: &[],
};

#[derive(Debug, Default)]
pub(crate) struct PushState {}

impl PushState {
    pub(crate) fn clear(&self) {}
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
}
