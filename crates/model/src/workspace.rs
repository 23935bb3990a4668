//! Workspaces and API keys as values: the scopes a key carries, their stored form, and the
//! views the API shows. Here so the store can persist them; generating and hashing keys, and
//! deciding what a scope reaches, stay in the host's tenancy service.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Send,
    Read,
    Billing,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Send, Scope::Read, Scope::Billing, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Send => "send",
            Scope::Read => "read",
            Scope::Billing => "billing",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's scopes, stored space-separated in the order of [`Scope::ALL`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |acc, s| acc | (1 << *s as u8)))
    }
    pub fn has(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn list(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.has(*s)).collect()
    }
    /// Parses the stored form; unknown words are ignored, so an old binary reading a newer
    /// scope grants less, never more.
    pub fn parse(stored: &str) -> Scopes {
        Scopes::of(
            &stored
                .split_whitespace()
                .filter_map(Scope::parse)
                .collect::<Vec<_>>(),
        )
    }
    pub fn stored(self) -> String {
        self.list()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The member the key acts as: it sees what they see (their data scope) and goes when
    /// they do. A key with none acts for the workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

/// Who holds a live key: its workspace, its scopes and the member it acts as, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub workspace_id: String,
    pub scopes: Scopes,
    pub member_id: Option<String>,
}

/// A key just created: the only time its value is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The key. Store it now: it is not shown again.
    pub key: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// Minutes a customer may wait for an agent's answer before the no-reply alert goes out
    /// (none: no alerts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_reply_alert_minutes: Option<i64>,
    /// What happens when a send's answer was lost and its provider cannot be asked whether
    /// it took the message (Messenger, push). A policy's own setting wins for its messages.
    pub ambiguous_sends: AmbiguousSends,
    /// Whether a new conversation starts hosted (its automations answer it) until someone
    /// switches it.
    pub hosting_default: bool,
}

/// After a send whose answer was lost (a timeout or a reset after the request was written),
/// on a channel whose provider cannot be asked whether it took the message.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguousSends {
    /// Send again: at least once, possibly twice; the timeline says so. The default: a
    /// message that never arrives costs more than one that arrives twice, for most traffic.
    #[default]
    Retry,
    /// Do not send again: at most once. The delivery fails `outcome_unknown`, and a person
    /// may resend it.
    Fail,
}

impl AmbiguousSends {
    pub fn as_str(self) -> &'static str {
        match self {
            AmbiguousSends::Retry => "retry",
            AmbiguousSends::Fail => "fail",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "retry" => Some(AmbiguousSends::Retry),
            "fail" => Some(AmbiguousSends::Fail),
            _ => None,
        }
    }
}

/// A workspace just created, with its first key (all four scopes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewWorkspace {
    #[serde(flatten)]
    pub workspace: WorkspaceView,
    pub api_key: NewApiKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_ignore_unknown_words() {
        let s = Scopes::of(&[Scope::Admin, Scope::Send]);
        assert_eq!(s.stored(), "send admin");
        assert_eq!(Scopes::parse("admin send"), s);
        assert_eq!(Scopes::parse("send superuser"), Scopes::of(&[Scope::Send]));
        assert!(!s.has(Scope::Billing));
        assert!(Scopes::parse("").is_empty());
    }
}
