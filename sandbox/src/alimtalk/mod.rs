//! Simulated AlimTalk provider, Solapi-like: `POST /messages/v4/send` with HMAC-SHA256 request
//! auth, template checks, signed delivery reports to a webhook, and the message list
//! `GET /messages/v4/list` (see [`list`]).
//!
//! Request handling order: authenticate (unknown apiKey → 403 `InvalidAPIKey`; date more than
//! 15 minutes from the simulator clock → 403 `RequestTimeTooSkewed`; bad signature → 403
//! `SignatureDoesNotMatch`; a `(date, salt)` pair seen before → 403 `DuplicatedSignature`;
//! no HMAC-SHA256 header at all → 401 `Unauthorized`), consult the fault book (keyed on
//! `to`), apply latency, then process: validation (400 `ValidationError`),
//! template check, sending hours, magic numbers, acceptance. Every request is recorded for
//! `GET /_sandbox/alimtalk/messages`, including refused ones.
//!
//! # Results
//!
//! A send is answered `200` with Solapi's message object; `statusCode` 2000 means accepted,
//! anything else is an immediate failure: 3015 template not found, 3016 message does not match
//! the template (a missing or unknown `#{variable}`, or a `text` other than the rendered
//! template), 3027 buttons do not match the template's, 3108 outside 08:00–20:00 KST (only
//! with `enforce_sending_hours`). 3016 and 3027 are Kakao's own result codes; Solapi's
//! numbers for them could not be confirmed and are an assumption of this simulator.
//!
//! Accepted messages get reports: 3000 (handed to Kakao) after `sent_delay_ms`, 4000
//! (received) after `delivered_delay_ms`; a failing message gets only its failure report, after
//! `sent_delay_ms`. A fault's `callback_status` forces the final code (see
//! [`reports::FINAL_STATUSES`]).
//!
//! # Magic recipient numbers
//!
//! | `to` | result |
//! |---|---|
//! | `01000003104` | 3104 not a KakaoTalk user |
//! | `01000003107` | 3107 KakaoTalk unused for 72 h, or AlimTalk blocked |
//! | `01000001030` | 1030 insufficient balance |
//! | `01000001061` | 1061 opted out |
//!
//! Like real Solapi they are accepted (2000) and fail by report; with
//! `immediate_failures: true` in the config they fail in the send response instead.
//!
//! # Substitute SMS
//!
//! `kakaoOptions.disableSms` must be `true`: the simulator refuses to send a substitute SMS
//! (400 `ValidationError`), because the gateway runs the SMS/LMS leg itself.
//!
//! # No idempotency
//!
//! Solapi has no idempotency key and neither has the simulator: `customFields` are echoed in
//! reports and the [`list`], never deduplicated, so a repeated send is a second message. A
//! client whose answer was lost lists its messages before sending again.
//!
//! # Reports
//!
//! `POST <webhook_url>` with a JSON array of `{messageId, groupId, to, from, type, country,
//! statusCode, statusMessage, dateCreated, dateReceived, customFields}` and
//! `Authorization: HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…` whose signature is
//! hex HMAC-SHA256 over `date + salt + raw body` keyed by the API secret (our deviation from
//! the request scheme, so a tampered body is detected): see [`alimtalk_auth_header`].

pub mod auth;
mod control;
pub mod list;
pub mod reports;
mod send;
pub(crate) mod state;
pub mod templates;
pub mod time;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::Shared;
use crate::faults::ChannelSpec;

pub use self::auth::alimtalk_auth_header;
pub use self::state::AlimTalkSimConfig;
pub(crate) use self::state::AlimTalkState;
pub use self::templates::{
    SANDBOX_ALIMTALK_TEMPLATES, SandboxButton, SandboxTemplate, TEMPLATE_DELIVERY_TRACKING,
    TEMPLATE_ORDER_SHIPPED,
};

/// The only API key the simulated Solapi knows, shaped like Solapi's (`NCS` + 13).
pub const SANDBOX_ALIMTALK_API_KEY: &str = "NCSSWBDALIMTALK1";
/// Its API secret (32 characters, like Solapi's); signs requests and reports.
pub const SANDBOX_ALIMTALK_API_SECRET: &str = "SWITCHBOARDSANDBOXALIMTALKSECRET";
/// The KakaoTalk channel (profile) the sandbox templates are registered to.
pub const SANDBOX_ALIMTALK_PF_ID: &str = "KA01PF231115000000000SWBDSANDBOX";
/// The registered sender number.
pub const SANDBOX_ALIMTALK_SENDER: &str = "0212345678";

pub const CHANNEL: ChannelSpec = ChannelSpec {
    name: "alimtalk",
    match_keys: &["to"],
    callback_statuses: reports::FINAL_STATUSES,
};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/messages/v4/send", post(send::send))
        .route("/messages/v4/list", get(send::list))
        .merge(control::routes())
}
