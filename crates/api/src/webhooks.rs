//! `/v1/webhooks/{connection}`: provider callbacks, handed raw to the owning plugin. No API
//! key here: the plugin verifies the provider's own signature instead.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorBody, read_body};
use switchboard_gateway::Gateway;
use switchboard_gateway::callbacks::CallbackRequest;

/// A provider callback (status report, verification handshake, inbound message).
#[utoipa::path(post, path = "/v1/webhooks/{connection}", operation_id = "receive_provider_webhook", tag = "webhooks",
    request_body(content = String, description = "The provider's payload, exactly as sent", content_type = "application/octet-stream"),
    params(("connection" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Accepted; the body is whatever the plugin answers"),
        (status = 401, description = "Signature missing or wrong; nothing applied", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 413, description = "Body over the callback size limit", body = ErrorBody),
        (status = 429, description = "Over this connection's callback rate", body = ErrorBody),
    ))]
pub async fn receive(
    State(gw): State<Arc<Gateway>>,
    Path(connection): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body)?;
    // Limited per connection, and only for connections that exist: unknown ids must not
    // grow the limiter's table.
    if gw.connections.get(&connection).is_some()
        && let Some(limiter) = &gw.callback_limiter
        && let Err(not_until) = limiter.check_key(&connection)
    {
        use governor::clock::{Clock, DefaultClock};
        return Err(ApiError::rate_limited(
            "too many callbacks for this connection",
            not_until.wait_time_from(DefaultClock::default().now()),
        ));
    }
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let req = CallbackRequest {
        method: method.to_string(),
        url: format!("{}{}", gw.public_url.trim_end_matches('/'), path_and_query),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let reply = gw.callbacks.handle(&connection, req).await?;
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
        reply.body,
    )
        .into_response();
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            resp.headers_mut().append(k, v);
        }
    }
    Ok(resp)
}

/// GET callbacks, e.g. a subscription verification handshake.
#[utoipa::path(get, path = "/v1/webhooks/{connection}", operation_id = "verify_provider_webhook", tag = "webhooks",
    request_body(content = String, description = "Usually empty", content_type = "application/octet-stream"),
    params(("connection" = String, Path, description = "Connection id")),
    responses((status = 200, description = "The plugin's answer, e.g. the challenge"),
        (status = 401, description = "The provider's verification failed (`invalid_signature`)", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "This connection is over its callback rate", body = ErrorBody)))]
pub async fn verify(
    state: State<Arc<Gateway>>,
    path: Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    receive(state, path, method, uri, headers, body).await
}
