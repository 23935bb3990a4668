//! `/v1/connections`: what a workspace connected (a plugin, a name, config and secrets),
//! its health, reconnecting after the provider revoked a token, bulk resend, contact sync
//! and the per-connection URL block list.
//!
//! Secrets go in and never come out: they are sealed before they reach the store
//! ([`switchboard_gateway::vault`]), views list secret names only, and no error message repeats a value.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{AdminCaller, AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody, check_name, parse_json, read_body};
use switchboard_gateway::Gateway;

mod blocked_urls;
mod bulk_resend;
mod chat;
mod sync;

pub use blocked_urls::*;
pub use bulk_resend::*;
pub use chat::*;
use switchboard_gateway::connections::{ConnectionPatch, ConnectionsError, secrets_owner};
use switchboard_gateway::model::{ConnectionView, QuarantineView, new_id, rfc3339};
use switchboard_gateway::store::ConnectionRecord;
pub use sync::*;

fn owned(
    gw: &Gateway,
    ws: &str,
    id: &str,
) -> Result<Arc<switchboard_gateway::connections::Connection>, ApiError> {
    gw.connections
        .get(id)
        .filter(|c| c.workspace_id == ws)
        .ok_or_else(|| ApiError::not_found("connection"))
}

fn view(gw: &Gateway, c: &switchboard_gateway::connections::Connection) -> ConnectionView {
    ConnectionView {
        quarantine: gw
            .runtime
            .quarantine_state(&c.plugin, &c.id)
            .into_iter()
            .map(|q| QuarantineView {
                calls: q.calls.to_string(),
                until: rfc3339(q.until_ms),
                backoff_ms: q.backoff_ms,
                consecutive_faults: q.consecutive_faults,
                last_fault: q.last_fault,
            })
            .collect(),
        id: c.id.clone(),
        channel: c.channel.clone(),
        plugin: c.plugin.clone(),
        name: c.ctx.name.clone(),
        status: c.status.clone(),
        status_detail: c.status_detail.clone(),
        webhook_url: c.ctx.webhook_url.clone(),
        config: c.ctx.config.clone(),
        secrets: c.ctx.secrets.keys().cloned().collect(),
        max_in_flight: c.max_in_flight,
        chat: c.chat.mode,
        chat_auto_reply: c.chat.auto_reply.clone(),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

/// The body's `secrets` object, read by hand so that no parse error can quote a value.
/// `null` values (PATCH only) remove a secret.
fn take_secrets(
    body: &mut Value,
    allow_null: bool,
) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(obj) = body.as_object_mut() else {
        return Ok(out);
    };
    match obj.remove("secrets") {
        None => Ok(out),
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if !s.is_empty() => {
                        out.insert(k, Some(s));
                    }
                    Value::Null if allow_null => {
                        out.insert(k, None);
                    }
                    _ => {
                        let expected = if allow_null {
                            "a non-empty string, or null to remove it"
                        } else {
                            "a non-empty string"
                        };
                        return Err(ApiError::invalid(
                            format!("secrets.{k}"),
                            format!("must be {expected} (the value is not repeated here)"),
                        ));
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(ApiError::invalid(
            "secrets",
            "must be an object of secret names to values",
        )),
    }
}

fn nullable_name() -> utoipa::openapi::schema::Schema {
    crate::openapi::or_null(super::error::name_schema())
}

/// `secrets` as [`take_secrets`] reads it: names to non-empty strings, and with `nullable`
/// (PATCH) `null` to remove one.
fn secrets_schema(nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .build();
    let value = if nullable {
        crate::openapi::or_null(value)
    } else {
        value.into()
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
        .build()
}

fn new_secrets_schema() -> utoipa::openapi::Object {
    secrets_schema(false)
}

fn changed_secrets_schema() -> utoipa::openapi::Object {
    secrets_schema(true)
}

fn parse_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = read_body(body)?;
    serde_json::from_slice(&switchboard_gateway::model::json_numbers::integral_numbers(
        &body,
    ))
    .map_err(|e| {
        // serde_json's syntax errors name a position, never a value.
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
    })
}

/// Check config and secret names against the plugin's manifest: unknown names, a secret
/// given as config (where it would be shown back), and missing required keys.
fn check_keys(
    plugin: &switchboard_gateway::runtime::LoadedPlugin,
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let keys = &plugin.manifest.config_keys;
    let names = |secret: bool| {
        keys.iter()
            .filter(|k| k.secret == secret)
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for k in config.keys() {
        match keys.iter().find(|c| &c.name == k) {
            Some(c) if c.secret => {
                return Err(ApiError::invalid(
                    format!("config.{k}"),
                    format!(
                        "`{k}` is a secret: give it under `secrets`, where it is sealed and never shown"
                    ),
                ));
            }
            Some(_) => {}
            None => {
                return Err(ApiError::invalid(
                    format!("config.{k}"),
                    format!(
                        "unknown config key for {}; it takes: {}",
                        plugin.name(),
                        names(false)
                    ),
                ));
            }
        }
    }
    for k in secrets.keys() {
        match keys.iter().find(|c| &c.name == k) {
            Some(c) if c.secret => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    format!("secrets.{k}"),
                    format!("`{k}` is not a secret: give it under `config`"),
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    format!("secrets.{k}"),
                    format!(
                        "unknown secret for {}; it takes: {}",
                        plugin.name(),
                        names(true)
                    ),
                ));
            }
        }
    }
    for k in keys.iter().filter(|k| k.required) {
        let (present, section) = if k.secret {
            (secrets.contains_key(&k.name), "secrets")
        } else {
            (config.contains_key(&k.name), "config")
        };
        if !present {
            return Err(ApiError::invalid(
                format!("{section}.{}", k.name),
                format!("required by {}: {}", plugin.name(), k.description),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/connections", operation_id = "list_connections", tag = "connections",
    responses((status = 200, body = Vec<ConnectionView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
) -> Json<Vec<ConnectionView>> {
    Json(
        gw.connections
            .in_workspace(&ws)
            .iter()
            .map(|c| view(&gw, c))
            .collect(),
    )
}

#[utoipa::path(get, path = "/v1/connections/{id}", operation_id = "get_connection", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    Ok(Json(view(&gw, &*owned(&gw, &ws, &id)?)))
}

/// A new connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// A loaded plugin's name (see `GET /v1/plugins`).
    #[schema(min_length = 1)]
    pub plugin: String,
    #[schema(schema_with = super::error::name_schema)]
    pub name: String,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secret values by name (e.g. `page_access_token`): sealed at rest, never returned.
    #[serde(default)]
    #[schema(schema_with = new_secrets_schema)]
    pub secrets: BTreeMap<String, String>,
    /// Sends to this provider in flight at once (default 64).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1024)]
    pub max_in_flight: Option<u32>,
}

fn check_max_in_flight(n: Option<u32>) -> Result<(), ApiError> {
    match n {
        Some(n) if n == 0 || n > 1024 => Err(ApiError::invalid(
            "max_in_flight",
            "must be between 1 and 1024",
        )),
        _ => Ok(()),
    }
}

/// Connect a channel account: a plugin, a name, its config and its secrets.
#[utoipa::path(post, path = "/v1/connections", operation_id = "create_connection", tag = "connections", request_body = NewConnection,
    responses((status = 201, body = ConnectionView), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    let mut value = parse_body(body)?;
    let secrets = take_secrets(&mut value, false)?;
    let secrets: BTreeMap<String, String> = secrets
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let req: NewConnection = parse_json(value.to_string().as_bytes())?;
    check_name(&req.name)?;
    check_max_in_flight(req.max_in_flight)?;
    let plugin = gw.runtime.plugin(&req.plugin).ok_or_else(|| {
        let loaded: Vec<String> = gw
            .runtime
            .plugins()
            .iter()
            .map(|p| p.name().to_string())
            .collect();
        ApiError::invalid(
            "plugin",
            format!(
                "no plugin `{}` is loaded; loaded: {}",
                req.plugin,
                loaded.join(", ")
            ),
        )
    })?;
    check_keys(&plugin, &req.config, &secrets)?;
    let id = new_id("con");
    let rec = ConnectionRecord {
        sealed_secrets: gw
            .vault
            .seal_json(&secrets_owner(&id), &secrets)
            .map_err(ConnectionsError::from)?,
        id: id.clone(),
        workspace_id: ws.clone(),
        channel: plugin.channel().to_string(),
        plugin: plugin.name().to_string(),
        name: req.name,
        config: req.config,
        allowed_origins: Vec::new(),
        max_in_flight: req.max_in_flight.unwrap_or(64),
        status: "active".into(),
        status_detail: None,
        chat: Default::default(),
        created_at: switchboard_gateway::model::now_ms(),
        updated_at: switchboard_gateway::model::now_ms(),
    };
    gw.store.put_connection(rec.clone(), false).await?;
    gw.connections.upsert(rec, &gw.vault, &gw.public_url)?;
    Ok((
        StatusCode::CREATED,
        Json(view(&gw, &*owned(&gw, &ws, &id)?)),
    ))
}

/// A change to a connection. Omitted fields stay; `config` and `secrets` merge key by key,
/// and a `null` value removes the key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionChange {
    #[serde(default)]
    #[schema(schema_with = nullable_name)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: BTreeMap<String, Option<String>>,
    /// New secret values. Giving any to a `needs_reconnect` connection reconnects it, and
    /// its messages that failed `token_expired` become resendable.
    #[serde(default)]
    #[schema(schema_with = changed_secrets_schema)]
    pub secrets: BTreeMap<String, Option<String>>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1024)]
    pub max_in_flight: Option<u32>,
    /// `active` or `disabled`. A disabled connection gets no new messages.
    #[serde(default)]
    #[schema(pattern = "^(active|disabled)$")]
    pub status: Option<String>,
    /// The two-way chat switch: `one_way` keeps customers' messages as contact events
    /// instead of conversations; `two_way` applies again from the next message.
    #[serde(default)]
    pub chat: Option<switchboard_gateway::model::ChatMode>,
    /// What answers a customer writing to the connection while it is `one_way`, at most
    /// once per contact in 24 hours; `null` removes it.
    #[serde(default, deserialize_with = "chat::present")]
    #[schema(schema_with = chat::auto_reply_schema)]
    pub chat_auto_reply: Option<Option<String>>,
}

/// Change a connection; reconnect it with new credentials; switch its two-way chat (each
/// change of `chat` or `chat_auto_reply` is recorded with the key that made it:
/// `GET /v1/connections/{id}/chat-changes`).
#[utoipa::path(patch, path = "/v1/connections/{id}", operation_id = "update_connection", tag = "connections", request_body = ConnectionChange,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn patch(
    State(gw): State<Arc<Gateway>>,
    caller: AdminCaller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ConnectionView>, ApiError> {
    let ws = caller.workspace.clone();
    let conn = owned(&gw, &ws, &id)?;
    let mut value = parse_body(body)?;
    let secrets = take_secrets(&mut value, true)?;
    let change: ConnectionChange = parse_json(value.to_string().as_bytes())?;
    if let Some(name) = &change.name {
        check_name(name)?;
    }
    check_max_in_flight(change.max_in_flight)?;
    if let Some(s) = &change.status
        && s != "active"
        && s != "disabled"
    {
        return Err(ApiError::invalid(
            "status",
            "must be `active` or `disabled`",
        ));
    }
    let plugin = gw.runtime.plugin(&conn.plugin).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "plugin_missing",
            format!("plugin `{}` is not loaded", conn.plugin),
        )
    })?;
    // Check the result of the merge, so a patch cannot remove a required key.
    let mut config = conn.ctx.config.clone();
    for (k, v) in &change.config {
        match v {
            Some(v) => config.insert(k.clone(), v.clone()),
            None => config.remove(k),
        };
    }
    let mut names: BTreeMap<String, String> = conn
        .ctx
        .secrets
        .keys()
        .map(|k| (k.clone(), String::new()))
        .collect();
    for (k, v) in &secrets {
        match v {
            Some(_) => names.insert(k.clone(), String::new()),
            None => names.remove(k),
        };
    }
    check_keys(&plugin, &config, &names)?;
    let chat = chat::change(&plugin, change.chat, change.chat_auto_reply, caller.key_id)?;
    let patch = ConnectionPatch {
        name: change.name,
        config: change.config,
        secrets,
        max_in_flight: change.max_in_flight,
        status: change.status,
        chat,
    };
    let patched = switchboard_gateway::connections::patch(
        &gw.store,
        gw.vault.clone(),
        ws.clone(),
        id.clone(),
        patch,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("connection"))?;
    if patched.secrets_changed {
        // Tokens derived from the old credentials must not outlive them.
        gw.runtime.forget_cached(&id);
    }
    if patched.reconnected {
        tracing::info!(connection = %id, "connection reconnected with new credentials");
    }
    gw.connections
        .upsert(patched.record, &gw.vault, &gw.public_url)?;
    Ok(Json(view(&gw, &*owned(&gw, &ws, &id)?)))
}

/// Remove a connection: its secrets are erased, its queued messages fail `no_connection`,
/// and its message history stays.
#[utoipa::path(delete, path = "/v1/connections/{id}", operation_id = "delete_connection", tag = "connections",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    owned(&gw, &ws, &id)?;
    if !switchboard_gateway::connections::delete(&gw.store, ws, id.clone()).await? {
        return Err(ApiError::not_found("connection"));
    }
    gw.connections.remove(&id);
    gw.runtime.forget_cached(&id);
    Ok(StatusCode::NO_CONTENT)
}
