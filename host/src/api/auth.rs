//! `Authorization: Bearer <key>` resolves to a workspace; every query is scoped to it.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::Gateway;
use crate::store::hash_api_key;

/// The authenticated caller's workspace id, from a `full` key.
pub struct Workspace(pub String);

/// The authenticated caller's workspace id, from a `billing` key: the only keys that reach
/// `/v1/billing`, and the only thing those keys reach.
pub struct BillingWorkspace(pub String);

async fn authenticate(parts: &Parts, gw: &Gateway) -> Result<(String, String), ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <api key>"))?;
    let key = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| unauthorized("Authorization must be `Bearer <api key>`"))?;
    let digest = hash_api_key(key);
    if let Some(found) = gw
        .key_cache
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&digest)
    {
        return Ok(found.clone());
    }
    match gw.store.workspace_for_key(key).await? {
        Some(found) => {
            gw.key_cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(digest, found.clone());
            Ok(found)
        }
        None => Err(unauthorized("unknown API key")),
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

impl FromRequestParts<Arc<Gateway>> for Workspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Arc<Gateway>) -> Result<Self, ApiError> {
        match authenticate(parts, gw).await? {
            (ws, scope) if scope == "full" => Ok(Workspace(ws)),
            _ => Err(forbidden(
                "this key is billing-scoped: it can only use /v1/billing",
            )),
        }
    }
}

impl FromRequestParts<Arc<Gateway>> for BillingWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Arc<Gateway>) -> Result<Self, ApiError> {
        match authenticate(parts, gw).await? {
            (ws, scope) if scope == "billing" => Ok(BillingWorkspace(ws)),
            _ => Err(forbidden("/v1/billing needs a billing-scoped key")),
        }
    }
}
