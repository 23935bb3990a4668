//! `POST {base}/messages/v4/send` with one ATA (AlimTalk) message.

use serde_json::{Map, Value, json};
use switchboard_plugin_sdk::prelude::*;

use crate::{auth, codes, phone};

pub const DEFAULT_BASE_URL: &str = "https://api.solapi.com";

fn invalid(detail: &str) -> SendError {
    SendError::permanent(FailureReason::InvalidFormat, None, detail)
}

/// A gateway button as a Solapi/Kakao button: links are web-link (WL) buttons opening the same
/// URL on mobile and PC; postbacks are bot-keyword (BK) buttons, which send their name back
/// to the channel's chat.
pub fn button_json(b: &Button) -> Value {
    match b.url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => json!({
            "buttonType": "WL",
            "buttonName": b.title,
            "linkMo": url,
            "linkPc": url,
        }),
        None => json!({ "buttonType": "BK", "buttonName": b.title }),
    }
}

/// The request body. `disableSms` is always true: the gateway runs the SMS/LMS substitute
/// itself, so routing and billing stay in one place.
pub fn body(msg: &Message, to: &str, from: &str, pf_id: &str) -> Result<Value, SendError> {
    let template = msg
        .content
        .template
        .as_ref()
        .ok_or_else(|| invalid("AlimTalk needs content.template"))?;
    let variables: Map<String, Value> = template
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut kakao = json!({
        "pfId": pf_id,
        "templateId": template.id,
        "variables": variables,
        "disableSms": true,
    });
    if !msg.content.buttons.is_empty() {
        kakao["buttons"] = msg.content.buttons.iter().map(button_json).collect();
    }
    let mut message = json!({
        "to": to,
        "from": from,
        "type": "ATA",
        "kakaoOptions": kakao,
        // Solapi echoes custom fields in its reports and its message list: the delivery id
        // finds a send whose answer was lost (`find.rs`).
        "customFields": {
            "sb_message_id": msg.id,
            crate::find::DELIVERY_FIELD: msg.idempotency_key,
        },
    });
    if let Some(text) = msg.content.text.as_deref().filter(|t| !t.is_empty()) {
        message["text"] = json!(text);
    }
    Ok(json!({ "message": message }))
}

pub fn build_request(msg: &Message, now_ms: u64) -> Result<Request, SendError> {
    let api_key = config::require("api_key")?;
    let pf_id = config::require("pf_id")?;
    let sender = phone::domestic_sender(&config::require("sender")?);
    if !secrets::has(auth::SECRET) {
        return Err(SendError::misconfigured(auth::SECRET));
    }
    let base = config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.into());
    let to = msg
        .to
        .phone
        .as_deref()
        .ok_or_else(|| invalid("no phone number"))
        .and_then(|p| {
            phone::domestic_mobile(p).map_err(|e| {
                SendError::permanent(
                    FailureReason::RecipientInvalid,
                    None,
                    format!("{p} cannot receive AlimTalk: {e}"),
                )
            })
        })?;
    let body = body(msg, &to, &sender, &pf_id)?;
    let authorization = auth::request_header(&api_key, &msg.idempotency_key, now_ms)?;
    let url = format!("{}/messages/v4/send", base.trim_end_matches('/'));
    Ok(Request::post(url)
        .header("authorization", authorization)
        .json_body(body.to_string()))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    message_id: Option<String>,
    status_code: Option<String>,
    status_message: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEnvelope {
    error_code: Option<String>,
    error_message: Option<String>,
}

pub fn send(msg: &Message) -> Result<Sent, SendError> {
    let now_ms = clock::now_ms();
    let resp = http::send(build_request(msg, now_ms)?).map_err(SendError::from_http)?;
    interpret(&resp, now_ms)
}

pub fn interpret(resp: &Response, now_ms: u64) -> Result<Sent, SendError> {
    if !resp.is_success() {
        let env = serde_json::from_slice::<ErrorEnvelope>(&resp.body).ok();
        let (code, message) = env
            .map(|e| (e.error_code, e.error_message))
            .unwrap_or_default();
        return Err(codes::http_error(
            resp.status,
            code.as_deref(),
            message.as_deref(),
            resp.retry_after_ms(),
        ));
    }
    // A 2xx we cannot read may still have created the message: retry with the same key.
    let unreadable = |what: &str| {
        SendError::retryable(FailureReason::ProviderError, None, None, what.to_string())
    };
    let accepted: Accepted = serde_json::from_slice(&resp.body)
        .map_err(|e| unreadable(&format!("unreadable send response: {e}")))?;
    let status = accepted
        .status_code
        .ok_or_else(|| unreadable("send response without statusCode"))?;
    if status != codes::ACCEPTED {
        return Err(codes::status_error(
            &status,
            accepted.status_message.as_deref().unwrap_or(""),
            now_ms,
        ));
    }
    let id = accepted
        .message_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| unreadable("statusCode 2000 without messageId"))?;
    Ok(Sent {
        provider_message_id: id,
    })
}
