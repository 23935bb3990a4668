//! `/v1/members/{id}/preferences` and `/v1/members/{id}/activity`: what a member is told and
//! when (time zone, daily digest, offline push), and the presence the offline push is decided
//! on (the service is [`switchboard_gateway::digest`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};

use super::auth::{AdminKey, SendKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::digest;
use switchboard_gateway::model::{
    MemberActivity, MemberPreferences, MemberPresence, now_ms, rfc3339,
};
use switchboard_gateway::store::member_prefs::{self as rows, PrefsRow};

async fn prefs(gw: &Gateway, ws: String, id: String) -> Result<PrefsRow, ApiError> {
    gw.store
        .read(move |c| rows::prefs_of(c, &ws, &id))
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

fn view(p: &PrefsRow) -> MemberPreferences {
    MemberPreferences {
        time_zone: p.time_zone.clone(),
        digest: p.digest,
        offline_push: p.offline_push,
        push_token: p.push_token.clone(),
        push_platform: p.push_platform.clone(),
        list_label: p.list_label,
    }
}

#[utoipa::path(get, path = "/v1/members/{id}/preferences", operation_id = "get_member_preferences", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    responses((status = 200, body = MemberPreferences), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<MemberPreferences>, ApiError> {
    Ok(Json(view(&prefs(&gw, ws, id).await?)))
}

/// Set what a member is told and when. A new time zone reschedules their digest.
#[utoipa::path(put, path = "/v1/members/{id}/preferences", operation_id = "set_member_preferences", tag = "members", request_body = MemberPreferences,
    params(("id" = String, Path, description = "Member id")),
    responses((status = 200, body = MemberPreferences), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn put(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<MemberPreferences>, ApiError> {
    let mut p = prefs(&gw, ws, id).await?;
    let new: MemberPreferences = parse_json(&read_body(b)?)?;
    digest::time_zone(&new.time_zone).map_err(|e| ApiError::invalid("time_zone", e))?;
    if let Some(platform) = &new.push_platform
        && platform != "android"
        && platform != "ios"
    {
        return Err(ApiError::invalid(
            "push_platform",
            "must be `android` or `ios`",
        ));
    }
    if let Some(token) = &new.push_token
        && (super::error::is_blank(token) || token.chars().count() > 4096)
    {
        return Err(ApiError::invalid(
            "push_token",
            "a device token of 1-4096 characters",
        ));
    }
    if new.offline_push && new.push_token.is_none() {
        return Err(ApiError::invalid(
            "push_token",
            "the offline push needs the member's device token",
        ));
    }
    p.time_zone = new.time_zone;
    p.digest = new.digest;
    p.offline_push = new.offline_push;
    p.push_token = new.push_token;
    p.push_platform = new.push_platform;
    p.list_label = new.list_label;
    let saved = p.clone();
    gw.store.write(move |t| rows::save_prefs(t, &saved)).await?;
    Ok(Json(view(&p)))
}

/// A member's sign of life, for the offline push: `heartbeat` keeps them online for 4 min
/// 30 s, `left` takes them offline at once.
#[utoipa::path(post, path = "/v1/members/{id}/activity", operation_id = "record_member_activity", tag = "members", request_body = MemberActivity,
    params(("id" = String, Path, description = "Member id")),
    responses((status = 200, body = MemberPresence), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn activity(
    State(gw): State<Arc<Gateway>>,
    SendKey(ws): SendKey,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<MemberPresence>, ApiError> {
    let a: MemberActivity = parse_json(&read_body(b)?)?;
    let present = match a.kind.as_str() {
        "heartbeat" => true,
        "left" => false,
        _ => return Err(ApiError::invalid("kind", "must be `heartbeat` or `left`")),
    };
    let now = now_ms();
    let (w, m) = (ws.clone(), id.clone());
    if !gw
        .store
        .write(move |t| rows::touch(t, &w, &m, now, present))
        .await?
    {
        return Err(ApiError::not_found("member"));
    }
    let p = prefs(&gw, ws, id).await?;
    Ok(Json(MemberPresence {
        presence: if digest::online(&p, now) {
            "online"
        } else {
            "offline"
        }
        .into(),
        last_seen_at: p.last_seen_at.map(rfc3339),
    }))
}
