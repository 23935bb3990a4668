//! Workspaces and the API keys that act for them.
//!
//! A key carries a set of scopes, and every endpoint names the one scope it needs:
//!
//! | scope | reaches |
//! |---|---|
//! | `send` | sending and resending messages, contacts, receipts, activity, conversations |
//! | `read` | reading messages, contacts, conversations, connections, policies, events |
//! | `billing` | `/v1/billing` only |
//! | `admin` | connections, policies, webhook endpoints and the workspace's keys |
//!
//! A key may act as a member ([`create_member_key`]): then it holds no scope their role does
//! not give them, its reads see what they see ([`viewer_of`]: their data scope), and it is
//! revoked when they are removed.
//!
//! Scopes do not imply one another: an `admin` key that should also send is given both. Keys
//! are random 32-byte strings, shown once when created and stored as SHA-256 digests (a
//! slow hash buys nothing for 256 random bits, and auth must stay cheap per request).
//! Workspaces themselves are created by the gateway's operator, with the operator key.

pub mod members;

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};

// The values (scopes, workspace and key views) live in the schema crate, so the store can
// persist them without depending on this module's rules.
use crate::model::Role;
pub use crate::model::{
    ApiKeyView, KeyHolder, NewApiKey, NewWorkspace, Scope, Scopes, Viewer, WorkspaceView,
};

/// A new key: `sk_` and 64 hex digits. The prefix lets secret scanners recognise leaked keys.
pub fn new_api_key() -> String {
    format!("sk_{}", hex::encode(rand::rng().random::<[u8; 32]>()))
}

/// The digest an API key is stored and looked up by.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What is shown of a key after creation: enough to recognise it, never enough to use it.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(10).collect()
}

/// Create a key with a fresh random value; the value is in the answer and nowhere else.
pub async fn create_api_key(
    store: &Store,
    workspace_id: String,
    name: String,
    scopes: Scopes,
) -> Result<NewApiKey, StoreError> {
    let key = new_api_key();
    let view = add_api_key(store, workspace_id, &key, name, scopes, None).await?;
    Ok(NewApiKey { view, key })
}

/// Why a key for a member was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemberKeyError {
    #[error("member: no member {0} in this workspace")]
    UnknownMember(String),
    #[error("scopes: a member with role `{role}` cannot hold the `{scope}` scope")]
    BeyondRole {
        role: &'static str,
        scope: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The scopes a member's role allows a key of theirs: what their console pages allow.
pub fn scopes_of_role(role: Role) -> &'static [Scope] {
    match role {
        Role::Admin => &[Scope::Send, Scope::Read, Scope::Billing, Scope::Admin],
        Role::Agent => &[Scope::Send, Scope::Read],
        Role::Billing => &[Scope::Billing],
    }
}

/// Create a key that acts as `member`: it sees what the member sees, and cannot hold a scope
/// the member's role does not give them.
pub async fn create_member_key(
    store: &Store,
    workspace_id: String,
    name: String,
    scopes: Scopes,
    member: String,
) -> Result<NewApiKey, MemberKeyError> {
    let (ws, id) = (workspace_id.clone(), member.clone());
    let Some(row) = store
        .read(move |c| crate::store::members::member_in(c, &ws, &id))
        .await?
    else {
        return Err(MemberKeyError::UnknownMember(member));
    };
    let allowed = scopes_of_role(row.view.role);
    if let Some(scope) = scopes.list().into_iter().find(|s| !allowed.contains(s)) {
        return Err(MemberKeyError::BeyondRole {
            role: row.view.role.as_str(),
            scope: scope.as_str(),
        });
    }
    let key = new_api_key();
    let view = add_api_key(store, workspace_id, &key, name, scopes, Some(member)).await?;
    Ok(NewApiKey { view, key })
}

/// What a key's holder sees: everything for a workspace key; for a member's key, what that
/// member's role, data scope and list preference give (read at every request, so a change
/// or a removal applies at once). `None`: the member is gone.
pub async fn viewer_of(store: &Store, holder: &KeyHolder) -> Result<Option<Viewer>, StoreError> {
    let Some(member) = holder.member_id.clone() else {
        return Ok(Some(Viewer::everything()));
    };
    let ws = holder.workspace_id.clone();
    let row = store
        .read(move |c| crate::store::members::member_in(c, &ws, &member))
        .await?;
    Ok(row.map(|m| Viewer::member(&m.view.id, m.view.role, m.view.data_scope, m.list_label)))
}

/// Keep a key whose value the caller chose (the sandbox keeps its keys in files): the store
/// gets its digest and prefix, never the key.
pub async fn add_api_key(
    store: &Store,
    workspace_id: String,
    key: &str,
    name: String,
    scopes: Scopes,
    member: Option<String>,
) -> Result<ApiKeyView, StoreError> {
    store
        .add_api_key(
            workspace_id,
            hash_api_key(key),
            key_prefix(key),
            name,
            scopes,
            member,
        )
        .await
}

/// The workspace and scopes of a live (not revoked) key.
pub async fn workspace_for_key(store: &Store, key: &str) -> Result<Option<KeyHolder>, StoreError> {
    store.workspace_for_key_hash(hash_api_key(key)).await
}

impl crate::Gateway {
    /// Forget every cached key after keys were revoked in bulk (a member's, on their
    /// removal): the next request of each reads its key again.
    pub fn forget_cached_keys(&self) {
        let mut cache = self.key_cache.write().unwrap_or_else(|p| p.into_inner());
        self.key_revocations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        cache.clear();
    }

    /// Revoke a key of `workspace_id`: from now on it opens nothing on this node (its cached
    /// digest goes at once; a lookup racing the revocation does not cache it again), and on
    /// other nodes within the shared caches' bound. `false`: the workspace has no such key.
    pub async fn revoke_api_key(
        &self,
        workspace_id: String,
        id: String,
    ) -> Result<bool, StoreError> {
        match self.store.revoke_api_key(workspace_id, id).await? {
            Some(digest) => {
                let mut cache = self.key_cache.write().unwrap_or_else(|p| p.into_inner());
                self.key_revocations
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                cache.remove(&digest);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let (a, b) = (new_api_key(), new_api_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert_eq!(hash_api_key(&a).len(), 64);
        assert_ne!(hash_api_key(&a), hash_api_key(&b));
    }
}
