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
