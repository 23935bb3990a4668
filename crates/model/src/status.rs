use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a delivery (and, aggregated, a message) stands.
///
/// Statuses only move forward: `queued < sending < sent < delivered < seen`. A late or
/// out-of-order provider callback is recorded in the timeline but never moves a status back.
/// `failed` is final except that a provider may still report the message delivered or seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Delivered,
    Seen,
    Failed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Queued,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Seen,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Seen => "seen",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    fn rank(self) -> u8 {
        match self {
            Status::Queued => 0,
            Status::Sending => 1,
            Status::Sent => 2,
            Status::Delivered => 3,
            Status::Seen => 4,
            Status::Failed => 2,
        }
    }

    /// Whether moving from `self` to `next` is progress.
    pub fn can_become(self, next: Status) -> bool {
        match (self, next) {
            (a, b) if a == b => false,
            (Status::Failed, b) => matches!(b, Status::Delivered | Status::Seen),
            (a, Status::Failed) => a.rank() < Status::Delivered.rank(),
            (a, b) => b.rank() > a.rank(),
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Seen | Status::Failed)
    }
}

/// The one failure taxonomy across channels. Plugins map provider codes into it; the host
/// adds the reasons only it can know (`plugin_error`, `plugin_quarantined`, `no_connection`,
/// `outcome_unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The message is malformed for the channel (refused before sending, or by the provider). Never resendable.
    InvalidFormat,
    /// The address does not exist or is dead (bad number, unregistered push token); it is not used again.
    RecipientInvalid,
    /// The address exists but cannot receive now (not a KakaoTalk user, deactivated, unreachable handset).
    RecipientUnavailable,
    /// The recipient opted out (STOP, unsubscribe).
    OptedOut,
    /// The recipient or a carrier blocked the sender.
    Blocked,
    /// Outside the channel's messaging window (Messenger 24 h / HUMAN_AGENT 7 days); resendable after the contact writes again.
    WindowClosed,
    /// The connection's credentials were revoked or expired; resendable after a reconnect.
    TokenExpired,
    /// The connection lacks a permission or is misconfigured.
    PermissionDenied,
    /// The provider asked us to slow down; retried with backoff.
    RateLimited,
    /// A temporary provider failure; retried with backoff.
    ProviderTransient,
    /// Any other provider failure.
    ProviderError,
    /// An attachment exceeds the channel's size limit.
    FileTooLarge,
    /// The provider could not fetch an attachment URL.
    MediaFetchFailed,
    /// The provider flagged a URL in the message; resendable once it is off the connection's block list.
    UrlBlocked,
    /// Another app owns the conversation (Messenger handover).
    ThreadOwned,
    /// The provider rejected the content (e.g. an AlimTalk template mismatch).
    ContentRejected,
    /// No answer from the provider in time.
    Timeout,
    /// A provider outcome the plugin could not classify.
    Unknown,
    /// The provider only delivers within set hours (AlimTalk 08:00-20:00 KST).
    OutsideHours,
    /// Not enough balance: the provider account's, or the gateway wallet's.
    InsufficientFunds,
    /// The plugin trapped, ran past its deadline, exceeded its memory limit or returned more than the host accepts.
    PluginError,
    /// The connection's plugin kept faulting and is quarantined for a while: the attempt was not made; retried when the quarantine allows a probe.
    PluginQuarantined,
    /// No usable connection or plugin for the channel at dispatch time.
    NoConnection,
    /// An attempt's answer was lost (a timeout or a reset after the request was written), the
    /// provider cannot be asked whether it took the message, and the workspace chose at most
    /// once (`ambiguous_sends: fail`): not retried. A person may resend it, knowing it may
    /// arrive twice.
    OutcomeUnknown,
}

/// Every reason in declaration order, which is also the order of the shared name table
/// ([`switchboard_vocab::failure_reason::NAMES`]): the plugin reasons in the WIT enum's order,
/// then the host-only ones. `as_str` indexes that table, so the names exist once.
impl FailureReason {
    pub const ALL: [FailureReason; 24] = {
        use FailureReason::*;
        [
            InvalidFormat,
            RecipientInvalid,
            RecipientUnavailable,
            OptedOut,
            Blocked,
            WindowClosed,
            TokenExpired,
            PermissionDenied,
            RateLimited,
            ProviderTransient,
            ProviderError,
            FileTooLarge,
            MediaFetchFailed,
            UrlBlocked,
            ThreadOwned,
            ContentRejected,
            Timeout,
            Unknown,
            OutsideHours,
            InsufficientFunds,
            PluginError,
            PluginQuarantined,
            NoConnection,
            OutcomeUnknown,
        ]
    };

    pub fn as_str(self) -> &'static str {
        switchboard_vocab::failure_reason::name(self as usize)
    }

    pub fn parse(s: &str) -> Option<FailureReason> {
        let i = switchboard_vocab::failure_reason::index(s)?;
        FailureReason::ALL.get(i).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_never_go_backwards() {
        use Status::*;
        assert!(Queued.can_become(Sending));
        assert!(Sending.can_become(Sent));
        assert!(Sent.can_become(Delivered));
        assert!(Delivered.can_become(Seen));
        assert!(Queued.can_become(Delivered), "a callback may skip steps");
        assert!(!Delivered.can_become(Sent));
        assert!(!Seen.can_become(Delivered));
        assert!(!Delivered.can_become(Failed));
        assert!(Sent.can_become(Failed));
        assert!(Failed.can_become(Delivered));
        assert!(!Failed.can_become(Sent));
    }

    #[test]
    fn reason_names_round_trip() {
        for r in [
            FailureReason::PluginError,
            FailureReason::RecipientInvalid,
            FailureReason::RateLimited,
        ] {
            assert_eq!(FailureReason::parse(r.as_str()), Some(r));
        }
    }

    /// The shared table, the declaration order and serde's names (which the API, the JSON
    /// schema and the database use) must agree for every reason.
    #[test]
    fn the_name_table_matches_every_variant_and_serde() {
        assert_eq!(
            FailureReason::ALL.len(),
            switchboard_vocab::failure_reason::NAMES.len()
        );
        for (i, r) in FailureReason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i, "ALL is in declaration order");
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::Value::String(r.as_str().into())
            );
        }
    }
}
