//! `/v1/policies`: a workspace's routing policies (create, read, update, delete). The
//! built-in `follow-up` and the config file's policies are listed too, read-only.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::auth::{AdminKey, ReadKey};
use super::error::{ApiError, ErrorBody, parse_json, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::routing::policy::Policy;

/// A policy as the API answers it: the policy as written, and where it comes from.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    #[serde(flatten)]
    pub policy: Policy,
    /// `workspace`, `config` (the `--policies` file) or `built-in`.
    pub source: &'static str,
}

// Documented by hand from `Policy`'s own schema rather than derived: a derived flatten becomes
// `allOf: [Policy, {source}]`, and `Policy` (a request body) forbids unknown fields, so every
// real answer would break the document. Same properties as `Policy`, plus `source`.
impl utoipa::PartialSchema for PolicyView {
    fn schema() -> RefOr<Schema> {
        let mut schema = <Policy as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.additional_properties = None;
            object.description = Some("A policy, and where it comes from.".into());
            object.properties.insert(
                "source".into(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["workspace", "config", "built-in"]))
                    .description(Some(
                        "`workspace`, `config` (the `--policies` file) or `built-in`.",
                    ))
                    .into(),
            );
            object.required.push("source".into());
        }
        schema
    }
}

impl ToSchema for PolicyView {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <Policy as ToSchema>::schemas(schemas);
    }
}

fn checked(gw: &Gateway, body: Result<Bytes, BytesRejection>) -> Result<Policy, ApiError> {
    let body = read_body(body)?;
    let policy: Policy = parse_json(&body)?;
    let violations = policy.validate(&gw.policies.channels());
    if !violations.is_empty() {
        let summary: Vec<String> = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.message))
            .collect();
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_policy",
            message: summary.join("; "),
            field: violations.first().map(|v| v.field.clone()),
            violations,
            reason: None,
            retry_after_s: 0,
        });
    }
    if gw.policies.is_reserved(&policy.name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "reserved",
            format!("`{}` is a built-in or config-file policy", policy.name),
        )
        .field("name"));
    }
    Ok(policy)
}

#[utoipa::path(get, path = "/v1/policies", operation_id = "list_policies", tag = "policies",
    responses((status = 200, body = Vec<PolicyView>)), security(("api_key" = [])))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
) -> Result<Json<Vec<PolicyView>>, ApiError> {
    let mut all: Vec<PolicyView> = gw
        .policies
        .shared()
        .into_iter()
        .map(|p| PolicyView {
            source: if p.name == switchboard_gateway::routing::policy::FOLLOW_UP {
                "built-in"
            } else {
                "config"
            },
            policy: p,
        })
        .collect();
    all.extend(
        gw.store
            .list_policies(ws)
            .await?
            .into_iter()
            .map(|p| PolicyView {
                policy: p,
                source: "workspace",
            }),
    );
    Ok(Json(all))
}

#[utoipa::path(post, path = "/v1/policies", operation_id = "create_policy", tag = "policies", request_body = Policy,
    responses((status = 201, body = Policy), (status = 409, body = ErrorBody), (status = 422, description = "Invalid: unknown channel, empty step, missing timeout...", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Policy>), ApiError> {
    let policy = checked(&gw, body)?;
    if !gw.store.put_policy(ws, policy.clone(), true).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("policy `{}` exists; PUT it to change it", policy.name),
        )
        .field("name"));
    }
    Ok((StatusCode::CREATED, Json(policy)))
}

#[utoipa::path(get, path = "/v1/policies/{name}", operation_id = "get_policy", tag = "policies", params(("name" = String, Path, description = "Policy name")),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    ReadKey(ws): ReadKey,
    Path(name): Path<String>,
) -> Result<Json<Policy>, ApiError> {
    gw.policies
        .resolve(&ws, &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("policy"))
}

#[utoipa::path(put, path = "/v1/policies/{name}", operation_id = "update_policy", tag = "policies", request_body = Policy, params(("name" = String, Path, description = "Policy name")),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Policy>, ApiError> {
    let policy = checked(&gw, body)?;
    if policy.name != name {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_policy",
            "the body's name must match the path",
        )
        .field("name"));
    }
    if !gw.store.put_policy(ws, policy.clone(), false).await? {
        return Err(ApiError::not_found("policy"));
    }
    Ok(Json(policy))
}

/// Messages already routed keep the policy they were accepted with.
#[utoipa::path(delete, path = "/v1/policies/{name}", operation_id = "delete_policy", tag = "policies", params(("name" = String, Path, description = "Policy name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("api_key" = [])))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    AdminKey(ws): AdminKey,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if gw.policies.is_reserved(&name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "reserved",
            format!("`{name}` is a built-in or config-file policy"),
        ));
    }
    if gw.store.delete_policy(ws, name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("policy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real answer (the built-in policy) fits its documented schema: every field it carries
    /// is a documented property, and every required property is there.
    #[test]
    fn a_policy_answer_fits_its_schema() {
        let view = PolicyView {
            policy: switchboard_gateway::routing::policy::follow_up(),
            source: "built-in",
        };
        let answer = serde_json::to_value(&view).unwrap();
        let schema = serde_json::to_value(<PolicyView as utoipa::PartialSchema>::schema()).unwrap();
        let properties = schema["properties"].as_object().expect("an object schema");
        assert!(
            schema
                .get("additionalProperties")
                .is_none_or(|v| v != false),
            "the answer has more fields than the request body"
        );
        for key in answer.as_object().unwrap().keys() {
            assert!(properties.contains_key(key), "`{key}` is not documented");
        }
        for required in schema["required"].as_array().unwrap() {
            assert!(
                answer.get(required.as_str().unwrap()).is_some(),
                "{required} missing"
            );
        }
    }
}
