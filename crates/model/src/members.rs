//! Workspace members: the people who sign in to the console, as opposed to the API keys that
//! act for programs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the workspace, members included.
    Admin,
    /// The billing pages only, as the `billing` key scope.
    Billing,
    /// Messages, contacts and conversations.
    Agent,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Billing, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Billing => "billing",
            Role::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
}

/// An invitation as listed: never its token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: String,
    pub expires_at: String,
    /// When it was used; an invitation works once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
}

/// An invitation just made: the only time its token is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewInvitation {
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// The one-time token; the invited person accepts with it (`POST /v1/invitations/accept`).
    pub token: String,
    /// The console page where the invited person sets a name and password with it.
    pub accept_path: String,
}

/// What a member is told, and when (`/v1/members/{id}/preferences`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPreferences {
    /// An IANA time zone (`Asia/Seoul`): the digest goes out at 07:00 there.
    #[schema(min_length = 1, max_length = 64)]
    pub time_zone: String,
    /// The daily digest of the conversations waiting for them.
    pub digest: bool,
    /// A push to their phone when something reaches their inbox while they are offline.
    pub offline_push: bool,
    /// The device token of their phone (needed for the offline push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 4096)]
    pub push_token: Option<String>,
    /// `android` or `ios`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(android|ios)$")]
    pub push_platform: Option<String>,
}

/// A member's sign of life (`POST /v1/members/{id}/activity`), by the follow-ups' rules.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberActivity {
    /// `heartbeat` keeps them online for 4 min 30 s; `left` takes them offline at once.
    #[schema(pattern = "^(heartbeat|left)$")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberPresence {
    /// `online` or `offline`.
    pub presence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<String>,
}
