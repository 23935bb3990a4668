//! Simulated Facebook Messenger Platform: the Graph API Send API, signed page webhooks and the
//! conversations API, following Meta's documented formats (`docs/channels/messenger.md`,
//! "Simulator").
//!
//! One sandbox app ([`SANDBOX_MESSENGER_APP_SECRET`], [`SANDBOX_MESSENGER_VERIFY_TOKEN`]) with
//! three pages ([`SANDBOX_MESSENGER_PAGES`]), each with its own page access token.
//!
//! | endpoint | |
//! |---|---|
//! | `POST /{v}/me/messages`, `POST /{v}/{page_id}/messages` | Send API (`v<digits>.<digits>`) |
//! | `GET /{v}/{page_id}/conversations` | conversations with field selection and cursor paging |
//! | `GET /{v}/me` | the token's page (`{"name","id"}`), or the user for a user token |
//! | `GET /{v}/dialog/oauth`, `POST /{v}/dialog/oauth/login`, `POST /{v}/dialog/oauth/confirm` | Facebook Login dialog: login page, consent page, redirect with `code` (see the `oauth` module) |
//! | `GET`/`POST /{v}/oauth/access_token` | code exchange for a user token |
//! | `GET /{v}/me/accounts` | the user's pages with their current page tokens |
//! | `GET`/`POST`/`DELETE /{v}/{page_id}/subscribed_apps` | the app's subscription to the page's webhooks |
//!
//! The token comes from the `access_token` query parameter or `Authorization: Bearer` (or
//! `OAuth`). Unknown token: 190 (HTTP 400, as Graph answers); none: 2500. A page id in the
//! path that is not the token's page: 100/33. A user token from Facebook Login where a page
//! token is needed: 190 "This method must be called with a Page Access Token".
//!
//! # Deviation: subscriptions are not enforced
//!
//! Facebook posts a page's webhooks only once the app subscribed to the page
//! (`subscribed_apps`). The sandbox records subscriptions but posts regardless, so tests that
//! never subscribe keep working.
//!
//! Send handling order: count, authenticate, parse, consult the fault book (match key `to` =
//! recipient PSID), latency, then the injected answer or processing: Graph-style validation
//! (first problem as a `(#100)` error), recipient known to the page
//! (100/2018001 otherwise), the messaging window by the sim clock (10/2018278), acceptance
//! `{"recipient_id","message_id":"m_…"}` and webhooks (see [`webhooks`]).
//!
//! # No idempotency
//!
//! Graph has no idempotency key and neither has the simulator: `message.metadata` is echoed,
//! never deduplicated, and a repeated send is a second message with its own `message_id`. What
//! Graph offers a client whose answer was lost is the conversation with the person
//! ([`conversations`], `user_id`), whose messages show text and time but not `metadata`.

//! # Deviation: per-page webhook URLs
//!
//! Facebook has one callback URL per app, receiving the entries of every subscribed page. The
//! sandbox takes one URL per page (`PUT /_sandbox/messenger/config`), so each page can point
//! at its own gateway connection; the envelope is Facebook's.
//!
//! # Magic PSIDs
//!
//! | PSID | behaviour |
//! |---|---|
//! | [`MAGIC_PSID_NEVER_READS`] | echo and delivery, never a read |
//! | [`MAGIC_PSID_NEVER_DELIVERED`] | echo only |
//! | [`MAGIC_PSID_UNAVAILABLE`] | sends fail with 551 ("This person isn't available right now") |
//!
//! They still have to write to the page first (`POST /_sandbox/messenger/inbound`), like any
//! PSID. A fault's `callback_status` (`sent`, `delivered`, `read`) forces the same cuts.
//!
//! # Faults
//!
//! An injected `status` answers in the Graph envelope. The rule's `code` selects the Graph
//! code/subcode pair (see [`errors::split_code`]): below 1 000 000 a code (`190`, `613`),
//! a known subcode alone (`2018278` → 10/2018278), or `code * 10 000 000 + subcode`. Without
//! a code: 400 → 100, 401 → 190, 403 → 10, 429 → 613, 5xx → 2. `retry_after_s` becomes a
//! `Retry-After` header.

pub mod body;
mod control;
pub mod conversations;
pub mod errors;
mod graph;
mod oauth;
pub(crate) mod state;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;

use crate::Shared;
use crate::faults::ChannelSpec;
pub use oauth::{
    SANDBOX_FACEBOOK_USER_EMAIL, SANDBOX_FACEBOOK_USER_ID, SANDBOX_FACEBOOK_USER_NAME,
    SANDBOX_FACEBOOK_USER_PASSWORD, SANDBOX_MESSENGER_APP_NAME,
};
pub(crate) use state::MessengerState;
pub use webhooks::messenger_signature;

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "messenger",
    match_keys: &["to"],
    callback_statuses: &["sent", "delivered", "read"],
};

/// A Facebook Page of the sandbox app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxPage {
    pub id: &'static str,
    pub name: &'static str,
    pub access_token: &'static str,
}

/// The sandbox app's id, as echoes carry it; also Facebook Login's `client_id`.
pub const SANDBOX_MESSENGER_APP_ID: u64 = 1_839_204_756_103_847;
/// The app secret: key of every webhook signature. 32 lowercase hex characters, like a real one.
pub const SANDBOX_MESSENGER_APP_SECRET: &str = "6d657373656e676572a5b0c0ffee5ec7";
/// What a gateway configures as its webhook verify token for the sandbox app.
pub const SANDBOX_MESSENGER_VERIFY_TOKEN: &str = "switchboard-sandbox-verify-token";

pub const SANDBOX_MESSENGER_PAGES: [SandboxPage; 3] = [
    SandboxPage {
        id: "104729384756102",
        name: "Switchboard Sandbox Shop",
        access_token: "EAAaBcSw1tchb0ardSandb0xP4ge1ZBZCkqXv3n9YQwLmT2pC8sDfGhJkLzXcVbNmQwErTyUiOpZAZDZD",
    },
    SandboxPage {
        id: "104729384756203",
        name: "Switchboard Sandbox Support",
        access_token: "EAAaBcSw1tchb0ardSandb0xP4ge2ZBZCr7HtW9mKqPzL3vXyB4nD6fGsJ1uQ8cE5aRwTZAZDZD",
    },
    SandboxPage {
        id: "104729384756304",
        name: "Switchboard Sandbox News",
        access_token: "EAAaBcSw1tchb0ardSandb0xP4ge3ZBZCm2VbN8xQ4pLk7JhGf5DsA9zW3eR6tY1uIoPZAZDZD",
    },
];

pub const MAGIC_PSID_NEVER_READS: &str = "9000000000000001";
pub const MAGIC_PSID_NEVER_DELIVERED: &str = "9000000000000002";
pub const MAGIC_PSID_UNAVAILABLE: &str = "9000000000000003";

pub fn page_by_token(token: &str) -> Option<&'static SandboxPage> {
    SANDBOX_MESSENGER_PAGES
        .iter()
        .find(|p| p.access_token == token)
}

pub fn page_by_id(id: &str) -> Option<&'static SandboxPage> {
    SANDBOX_MESSENGER_PAGES.iter().find(|p| p.id == id)
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    graph::routes()
        .merge(oauth::routes())
        .merge(control::routes())
}
