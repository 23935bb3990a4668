//! `Authorization: Bearer <key>` resolves to a workspace; every query is scoped to it.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::Gateway;
use crate::store::hash_api_key;

/// The authenticated caller's workspace id.
pub struct Workspace(pub String);

impl FromRequestParts<Arc<Gateway>> for Workspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gw: &Arc<Gateway>) -> Result<Self, ApiError> {
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
        if let Some(ws) = gw
            .key_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return Ok(Workspace(ws.clone()));
        }
        match gw.store.workspace_for_key(key).await? {
            Some(ws) => {
                gw.key_cache
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(digest, ws.clone());
                Ok(Workspace(ws))
            }
            None => Err(unauthorized("unknown API key")),
        }
    }
}
