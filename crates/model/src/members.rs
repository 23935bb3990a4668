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

/// What a member sees of the workspace's conversations, messages, contacts and figures.
/// Admins see everything whatever theirs says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    /// Everything in the workspace.
    #[default]
    All,
    /// Only the conversations they received or own, and what belongs to those contacts.
    Own,
}

impl DataScope {
    pub fn as_str(self) -> &'static str {
        match self {
            DataScope::All => "all",
            DataScope::Own => "own",
        }
    }

    pub fn parse(s: &str) -> Option<DataScope> {
        [DataScope::All, DataScope::Own]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// How a member's lists name a contact: the note name an agent gave them first, or the label
/// the visitor came in with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListLabel {
    #[default]
    NoteName,
    VisitorLabel,
}

impl ListLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            ListLabel::NoteName => "note_name",
            ListLabel::VisitorLabel => "visitor_label",
        }
    }

    pub fn parse(s: &str) -> Option<ListLabel> {
        [ListLabel::NoteName, ListLabel::VisitorLabel]
            .into_iter()
            .find(|d| d.as_str() == s)
    }

    /// The name a list shows: the note name first, or the visitor label first; whichever is
    /// missing gives way to the other.
    pub fn display_name(self, note_name: Option<&str>, visitor_label: &str) -> String {
        match (self, note_name) {
            (ListLabel::NoteName, Some(note)) if !note.trim().is_empty() => note.to_string(),
            _ => visitor_label.to_string(),
        }
    }
}

/// Whose eyes a read goes through: a workspace key (or an admin) sees everything; a member
/// whose scope is `own` sees only the conversations they received or own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// The member reads are limited to: one whose data scope is `own` and who is no admin.
    pub own_only: Option<String>,
    pub list_label: ListLabel,
}

impl Viewer {
    /// A workspace key: everything, named by note name first.
    pub fn everything() -> Viewer {
        Viewer::default()
    }

    /// A member, by their role, scope and preference.
    pub fn member(id: &str, role: Role, scope: DataScope, list_label: ListLabel) -> Viewer {
        Viewer {
            own_only: (role != Role::Admin && scope == DataScope::Own).then(|| id.to_string()),
            list_label,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `own`: only the conversations they received or own (admins see all regardless).
    pub data_scope: DataScope,
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
    /// How their lists name a contact: `note_name` first (the default) or `visitor_label`.
    #[serde(default)]
    pub list_label: ListLabel,
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
