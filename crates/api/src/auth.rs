//! `Authorization: Bearer <key>` resolves to a workspace and the key's scopes; each handler
//! names the scope it needs by the extractor it takes ([`SendKey`], [`ReadKey`],
//! [`BillingKey`], [`AdminKey`]), so a handler cannot forget the check, and every query it
//! makes is scoped to the workspace it is handed. [`Operator`] is the gateway operator's key,
//! which creates workspaces and nothing else.
//!
//! Each key also has its own rate limit (GCRA, via `governor`): one runaway client gets
//! `429` with `Retry-After` instead of starving the others.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};

use super::error::ApiError;
use switchboard_gateway::Gateway;
use switchboard_gateway::tenancy::{KeyHolder, Scope, Scopes, Viewer, hash_api_key, viewer_of};

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <api key>"))?;
    header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| unauthorized("Authorization must be `Bearer <api key>`"))
}

/// Who holds the key, if the key is live and holds `scope`.
async fn authorize(parts: &Parts, gw: &Gateway, scope: Scope) -> Result<KeyHolder, ApiError> {
    let key = bearer(parts)?;
    let digest = hash_api_key(key);
    let cached = gw
        .key_cache
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&digest)
        .cloned();
    let holder = match cached {
        Some(found) => found,
        None => {
            // A revocation between this read and the insert below must not leave the key
            // cached: insert only if no key was revoked meanwhile.
            let generation = gw.key_revocations.load(std::sync::atomic::Ordering::SeqCst);
            match gw.store.workspace_for_key_hash(digest.clone()).await? {
                Some(found) => {
                    let mut cache = gw.key_cache.write().unwrap_or_else(|p| p.into_inner());
                    if gw.key_revocations.load(std::sync::atomic::Ordering::SeqCst) == generation {
                        cache.insert(digest.clone(), found.clone());
                    }
                    found
                }
                None => {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "unknown or revoked API key",
                    ));
                }
            }
        }
    };
    if let Some(limiter) = &gw.key_limiter
        && let Err(not_until) = limiter.check_key(&digest)
    {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return Err(ApiError::rate_limited(
            "this API key is over its request rate",
            wait,
        ));
    }
    if !holder.scopes.has(scope) {
        return Err(forbidden(scope, holder.scopes));
    }
    Ok(holder)
}

fn forbidden(needed: Scope, held: Scopes) -> ApiError {
    let held: Vec<&str> = held.list().iter().map(|s| s.as_str()).collect();
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "this endpoint needs a key with the `{needed}` scope; this key has: {}",
            if held.is_empty() {
                "none".to_string()
            } else {
                held.join(", ")
            }
        ),
    )
}

macro_rules! scoped_key {
    ($(#[$doc:meta])* $name:ident, $scope:expr) => {
        $(#[$doc])*
        pub struct $name(pub String);

        impl FromRequestParts<Arc<Gateway>> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                gw: &Arc<Gateway>,
            ) -> Result<Self, ApiError> {
                authorize(parts, gw, $scope).await.map(|h| $name(h.workspace_id))
            }
        }
    };
}

scoped_key!(
    /// The workspace of a key with the `send` scope.
    SendKey,
    Scope::Send
);
scoped_key!(
    /// The workspace of a key with the `read` scope.
    ReadKey,
    Scope::Read
);
scoped_key!(
    /// The workspace of a key with the `billing` scope.
    BillingKey,
    Scope::Billing
);
scoped_key!(
    /// The workspace of a key with the `admin` scope.
    AdminKey,
    Scope::Admin
);

/// A `read` key's workspace and what its holder sees: everything, or, for a key that acts as
/// a member whose data scope is `own`, only that member's conversations (and the messages,
/// contacts and figures that belong to them).
pub struct ReadAs(pub String, pub Viewer);

impl FromRequestParts<Arc<Gateway>> for ReadAs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Arc<Gateway>) -> Result<Self, ApiError> {
        let holder = authorize(parts, gw, Scope::Read).await?;
        match viewer_of(&gw.store, &holder).await? {
            Some(viewer) => Ok(ReadAs(holder.workspace_id, viewer)),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the member this key acts as is no longer in the workspace",
            )),
        }
    }
}

/// A key with the `admin` scope, for a change that records who made it: its workspace and
/// the key's id (never the key).
pub struct AdminCaller {
    pub workspace: String,
    pub key_id: String,
}

impl FromRequestParts<Arc<Gateway>> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Arc<Gateway>) -> Result<Self, ApiError> {
        let workspace = authorize(parts, gw, Scope::Admin).await?.workspace_id;
        let digest = hash_api_key(bearer(parts)?);
        // A revocation since the cached check wins: the change is not made in its name.
        let key_id = gw
            .api_key_id(workspace.clone(), digest)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "unknown or revoked API key",
                )
            })?;
        Ok(AdminCaller { workspace, key_id })
    }
}

/// The gateway operator: the only caller that can create workspaces.
pub struct Operator;

impl FromRequestParts<Arc<Gateway>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Arc<Gateway>) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        let digest = hash_api_key(key);
        // Compare digests, not keys: equal-length, and a timing difference reveals nothing
        // about the key itself.
        match &gw.operator_key_hash {
            Some(expected) if *expected == digest => Ok(Operator),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs the operator key",
            )),
        }
    }
}
