//! One message, one signed POST.
//!
//! The body carries the delivery id (`id`, also the `webhook-id` header and the id status
//! callbacks name), the gateway's message id, the recipient, the content and a
//! `callback_url`. `webhook-id` is the same on every attempt of one delivery, so a receiver
//! that deduplicates on it never acts twice on a retry after a lost answer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::secrets::HmacAlgorithm;

pub fn send(msg: &Message, conn: &Connection) -> Result<Sent, SendError> {
    let url = config::require("url")?;
    let id = &msg.idempotency_key;
    let body = body(msg, conn).to_string().into_bytes();
    let timestamp = (clock::now_ms() / 1000).to_string();
    let content = crate::signed_content(id, &timestamp, &body);
    let mac = secrets::hmac(HmacAlgorithm::Sha256, crate::SIGNING_SECRET, &content)
        .map_err(|e| SendError::permanent(FailureReason::PermissionDenied, None, e))?;
    let request = Request::post(url)
        .json_body(body)
        .header("webhook-id", id.clone())
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", format!("v1,{}", STANDARD.encode(mac)));
    classify(&http::send(request).map_err(SendError::from_http)?)?;
    Ok(Sent {
        provider_message_id: id.clone(),
    })
}

fn body(msg: &Message, conn: &Connection) -> Value {
    let object = |p: &[(String, String)]| -> Map<String, Value> {
        p.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
    };
    let (to, content) = (&msg.to, &msg.content);
    let mut recipient = json!({"phone": to.phone, "email": to.email, "psid": to.psid,
        "push_token": to.push_token, "name": to.name, "country": to.country});
    if let Some(fields) = recipient.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    json!({"id": msg.idempotency_key, "message_id": msg.id, "to": recipient,
        "content": {"text": content.text, "subject": content.subject, "data": object(&content.data)},
        "metadata": object(&msg.metadata), "callback_url": conn.webhook_url})
}

/// What the receiver's answer means. 5xx, 408 and 429 are worth another try (honouring
/// Retry-After); other answers will fail the same way again.
pub fn classify(resp: &Response) -> Result<(), SendError> {
    use FailureReason::*;
    let (retryable, reason) = match resp.status {
        200..=299 => return Ok(()),
        429 => (true, RateLimited),
        408 => (true, Timeout),
        500..=599 => (true, ProviderTransient),
        // The receiver refused our signature: the connection's secret needs replacing.
        401 => (false, TokenExpired),
        403 | 404 | 405 | 410 => (false, PermissionDenied),
        400 | 413 | 415 | 422 => (false, InvalidFormat),
        // Redirects are not followed, so a 3xx is as final as any other answer.
        _ => (false, ProviderError),
    };
    let shown = String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)]);
    let detail = format!("receiver answered HTTP {}: {shown}", resp.status);
    let code = Some(resp.status.to_string());
    Err(match retryable {
        true => SendError::retryable(reason, code, resp.retry_after_ms(), detail),
        false => SendError::permanent(reason, code, detail),
    })
}
