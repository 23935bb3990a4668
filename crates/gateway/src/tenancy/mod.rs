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
pub use crate::model::{ApiKeyView, NewApiKey, NewWorkspace, Scope, Scopes, WorkspaceView};

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
    let view = add_api_key(store, workspace_id, &key, name, scopes).await?;
    Ok(NewApiKey { view, key })
}

/// Keep a key whose value the caller chose (the sandbox keeps its keys in files): the store
/// gets its digest and prefix, never the key.
pub async fn add_api_key(
    store: &Store,
    workspace_id: String,
    key: &str,
    name: String,
    scopes: Scopes,
) -> Result<ApiKeyView, StoreError> {
    store
        .add_api_key(
            workspace_id,
            hash_api_key(key),
            key_prefix(key),
            name,
            scopes,
        )
        .await
}

/// The workspace and scopes of a live (not revoked) key.
pub async fn workspace_for_key(
    store: &Store,
    key: &str,
) -> Result<Option<(String, Scopes)>, StoreError> {
    store.workspace_for_key_hash(hash_api_key(key)).await
}

impl crate::Gateway {
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
