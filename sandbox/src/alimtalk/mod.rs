//! Simulated AlimTalk provider (Solapi-like `POST /messages/v4/send`, HMAC-SHA256 auth).
//! Skeleton: filled in by the AlimTalk simulator work.

use std::sync::Arc;

use axum::Router;

use crate::Shared;
use crate::faults::ChannelSpec;

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "alimtalk",
    match_keys: &["to"],
    callback_statuses: &[],
};

#[derive(Debug, Default)]
pub(crate) struct AlimTalkState {}

impl AlimTalkState {
    pub(crate) fn clear(&self) {}
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
}
