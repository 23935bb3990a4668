//! Validation of a Send API body the way Graph does it: the first problem found is answered
//! as a `(#100)` parameter error naming the parameter in Graph's bracket notation.

use serde_json::Value;

use super::errors::GraphError;

pub const MAX_TEXT_CHARS: usize = 2000;
pub const MAX_BUTTON_TEXT_CHARS: usize = 640;
pub const MAX_ELEMENTS: usize = 10;
pub const MAX_ELEMENT_TITLE_CHARS: usize = 80;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
pub const MAX_QUICK_REPLIES: usize = 13;
pub const MAX_QUICK_REPLY_TITLE_CHARS: usize = 20;
pub const MAX_PAYLOAD_CHARS: usize = 1000;
pub const MAX_METADATA_CHARS: usize = 1000;

pub const MESSAGING_TYPES: &[&str] = &["RESPONSE", "UPDATE", "MESSAGE_TAG"];
pub const TAGS: &[&str] = &[
    "HUMAN_AGENT",
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
];
const ATTACHMENT_TYPES: &[&str] = &["image", "audio", "video", "file", "template"];
const SENDER_ACTIONS: &[&str] = &["typing_on", "typing_off", "mark_seen"];

/// What the simulator keeps of an accepted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub psid: String,
    pub messaging_type: String,
    pub tag: Option<String>,
    /// `None` for a bare `sender_action`.
    pub message: Option<Value>,
    pub text: Option<String>,
    pub metadata: Option<String>,
}

type Check = Result<(), GraphError>;

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn max_len(param: &str, s: &str, max: usize) -> Check {
    if chars(s) > max {
        return Err(GraphError::param(format!(
            "Length of param {param} must be less than or equal to {max}"
        )));
    }
    Ok(())
}

fn non_empty_str<'a>(v: &'a Value, key: &str, param: &str) -> Result<&'a str, GraphError> {
    match v.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(GraphError::param(format!(
            "Param {param}[{key}] must be a non-empty UTF-8 encoded string"
        ))),
    }
}

fn is_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && reqwest::Url::parse(s).is_ok_and(|u| u.has_host())
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn parse(body: &Value) -> Result<SendRequest, GraphError> {
    if !body.is_object() {
        return Err(GraphError::param("The parameter recipient is required"));
    }
    let psid = match body.get("recipient") {
        Some(r) if r.is_object() => id_string(r.get("id")).ok_or_else(|| {
            GraphError::param("Param recipient[id] must be a valid ID string (e.g., \"123\")")
        })?,
        _ => return Err(GraphError::param("The parameter recipient is required")),
    };
    let messaging_type = match body.get("messaging_type") {
        None | Some(Value::Null) => "RESPONSE".to_owned(),
        Some(Value::String(t)) if MESSAGING_TYPES.contains(&t.as_str()) => t.clone(),
        Some(other) => {
            return Err(GraphError::param(format!(
                "Param messaging_type must be one of {{RESPONSE, UPDATE, MESSAGE_TAG}} - got {other}"
            )));
        }
    };
    let tag = match body.get("tag") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if TAGS.contains(&t.as_str()) => Some(t.clone()),
        Some(other) => {
            return Err(GraphError::param(format!(
                "Param tag must be one of {{{}}} - got {other}",
                TAGS.join(", ")
            )));
        }
    };
    if messaging_type == "MESSAGE_TAG" && tag.is_none() {
        return Err(GraphError::param(
            "Param tag is required when messaging_type is MESSAGE_TAG",
        ));
    }
    let message = body.get("message").filter(|m| !m.is_null());
    let Some(message) = message else {
        return match body.get("sender_action").and_then(Value::as_str) {
            Some(a) if SENDER_ACTIONS.contains(&a) => Ok(SendRequest {
                psid,
                messaging_type,
                tag,
                message: None,
                text: None,
                metadata: None,
            }),
            Some(a) => Err(GraphError::param(format!(
                "Param sender_action must be one of {{typing_on, typing_off, mark_seen}} - got \"{a}\""
            ))),
            None => Err(GraphError::param("The parameter message is required")),
        };
    };
    if !message.is_object() {
        return Err(GraphError::param("Param message must be a JSON object"));
    }
    let text = message.get("text").filter(|t| !t.is_null());
    let attachment = message.get("attachment").filter(|a| !a.is_null());
    let text = match (text, attachment) {
        (Some(_), Some(_)) => {
            return Err(GraphError::param(
                "Only one of text or attachment can be specified",
            ));
        }
        (None, None) => {
            return Err(GraphError::param(
                "Must send either message text or attachment",
            ));
        }
        (Some(t), None) => {
            let t = t.as_str().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
                GraphError::param("Param message[text] must be a non-empty UTF-8 encoded string")
            })?;
            max_len("message[text]", t, MAX_TEXT_CHARS)?;
            Some(t.to_owned())
        }
        (None, Some(a)) => {
            attachment_check(a)?;
            None
        }
    };
    if let Some(q) = message.get("quick_replies") {
        quick_replies(q)?;
    }
    let metadata = match message.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => {
            max_len("message[metadata]", m, MAX_METADATA_CHARS)?;
            Some(m.clone())
        }
        Some(_) => {
            return Err(GraphError::param(
                "Param message[metadata] must be a string",
            ));
        }
    };
    Ok(SendRequest {
        psid,
        messaging_type,
        tag,
        message: Some(message.clone()),
        text,
        metadata,
    })
}

fn attachment_check(a: &Value) -> Check {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    if !ATTACHMENT_TYPES.contains(&kind) {
        return Err(GraphError::param(
            "Param message[attachment][type] must be one of {IMAGE, AUDIO, VIDEO, FILE, TEMPLATE}",
        ));
    }
    let payload = a.get("payload").filter(|p| p.is_object()).ok_or_else(|| {
        GraphError::param("Param message[attachment][payload] must be a JSON object")
    })?;
    if kind != "template" {
        let by_url = payload
            .get("url")
            .and_then(Value::as_str)
            .is_some_and(is_url);
        let by_id = id_string(payload.get("attachment_id")).is_some();
        if !by_url && !by_id {
            return Err(GraphError::param(
                "Param message[attachment][payload][url] must be a valid URL",
            ));
        }
        return Ok(());
    }
    let p = "message[attachment][payload]";
    match payload.get("template_type").and_then(Value::as_str) {
        Some("generic") => {
            let elements = payload
                .get("elements")
                .and_then(Value::as_array)
                .filter(|e| !e.is_empty())
                .ok_or_else(|| {
                    GraphError::param(format!("Param {p}[elements] must be a non-empty array"))
                })?;
            if elements.len() > MAX_ELEMENTS {
                return Err(GraphError::param(format!(
                    "Param {p}[elements] must have at most {MAX_ELEMENTS} elements"
                )));
            }
            for (i, e) in elements.iter().enumerate() {
                let ep = format!("{p}[elements][{i}]");
                let title = non_empty_str(e, "title", &ep)?;
                max_len(&format!("{ep}[title]"), title, MAX_ELEMENT_TITLE_CHARS)?;
                if let Some(s) = e.get("subtitle").and_then(Value::as_str) {
                    max_len(&format!("{ep}[subtitle]"), s, MAX_ELEMENT_TITLE_CHARS)?;
                }
                if let Some(u) = e.get("image_url")
                    && !u.as_str().is_some_and(is_url)
                {
                    return Err(GraphError::param(format!(
                        "Param {ep}[image_url] must be a valid URL"
                    )));
                }
                if let Some(b) = e.get("buttons") {
                    buttons(b, &format!("{ep}[buttons]"), false)?;
                }
            }
            Ok(())
        }
        Some("button") => {
            let text = non_empty_str(payload, "text", p)?;
            max_len(&format!("{p}[text]"), text, MAX_BUTTON_TEXT_CHARS)?;
            let b = payload.get("buttons").ok_or_else(|| {
                GraphError::param(format!("Param {p}[buttons] must be a non-empty array"))
            })?;
            buttons(b, &format!("{p}[buttons]"), true)
        }
        Some("media" | "receipt") => Ok(()),
        _ => Err(GraphError::param(format!(
            "Param {p}[template_type] must be one of {{generic, button, media, receipt}}"
        ))),
    }
}

fn buttons(v: &Value, param: &str, required: bool) -> Check {
    let list = v
        .as_array()
        .ok_or_else(|| GraphError::param(format!("Param {param} must be an array")))?;
    if required && list.is_empty() {
        return Err(GraphError::param(format!(
            "Param {param} must be a non-empty array"
        )));
    }
    if list.len() > MAX_BUTTONS {
        return Err(GraphError::param(format!(
            "Param {param} must have at most {MAX_BUTTONS} elements"
        )));
    }
    for (j, b) in list.iter().enumerate() {
        let bp = format!("{param}[{j}]");
        let title = non_empty_str(b, "title", &bp)?;
        max_len(&format!("{bp}[title]"), title, MAX_BUTTON_TITLE_CHARS)?;
        match b.get("type").and_then(Value::as_str) {
            Some("web_url") => {
                if !b.get("url").and_then(Value::as_str).is_some_and(is_url) {
                    return Err(GraphError::param(format!(
                        "Param {bp}[url] must be a valid URL"
                    )));
                }
            }
            Some("postback" | "phone_number") => {
                let payload = non_empty_str(b, "payload", &bp)?;
                max_len(&format!("{bp}[payload]"), payload, MAX_PAYLOAD_CHARS)?;
            }
            _ => {
                return Err(GraphError::param(format!(
                    "Param {bp}[type] must be one of {{web_url, postback, phone_number}}"
                )));
            }
        }
    }
    Ok(())
}

fn quick_replies(v: &Value) -> Check {
    let list = v
        .as_array()
        .ok_or_else(|| GraphError::param("Param message[quick_replies] must be an array"))?;
    if list.len() > MAX_QUICK_REPLIES {
        return Err(GraphError::param(format!(
            "param message[quick_replies] must have at most {MAX_QUICK_REPLIES} elements"
        )));
    }
    for (i, q) in list.iter().enumerate() {
        let qp = format!("message[quick_replies][{i}]");
        match q.get("content_type").and_then(Value::as_str) {
            Some("text") => {
                let title = non_empty_str(q, "title", &qp)?;
                max_len(&format!("{qp}[title]"), title, MAX_QUICK_REPLY_TITLE_CHARS)?;
                let payload = non_empty_str(q, "payload", &qp)?;
                max_len(&format!("{qp}[payload]"), payload, MAX_PAYLOAD_CHARS)?;
            }
            Some("user_phone_number" | "user_email") => {}
            _ => {
                return Err(GraphError::param(format!(
                    "Param {qp}[content_type] must be one of {{text, user_phone_number, user_email}}"
                )));
            }
        }
        if let Some(u) = q.get("image_url")
            && !u.as_str().is_some_and(is_url)
        {
            return Err(GraphError::param(format!(
                "Param {qp}[image_url] must be a valid URL"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(body: Value) -> String {
        let e = parse(&body).unwrap_err();
        assert_eq!((e.code, e.subcode), (100, None), "{}", e.message);
        e.message
    }

    fn text(t: &str) -> Value {
        json!({"recipient": {"id": "1"}, "messaging_type": "RESPONSE", "message": {"text": t}})
    }

    fn generic(elements: Vec<Value>) -> Value {
        json!({"recipient": {"id": "1"}, "message": {"attachment": {"type": "template",
            "payload": {"template_type": "generic", "elements": elements}}}})
    }

    fn el(buttons: usize) -> Value {
        let b: Vec<Value> = (0..buttons)
            .map(|i| json!({"type": "postback", "title": "Buy", "payload": format!("P{i}")}))
            .collect();
        json!({"title": "Shoe", "image_url": "https://cdn.example/s.png", "buttons": b})
    }

    #[test]
    fn accepts_the_plugin_shapes() {
        let r = parse(&text("hi")).unwrap();
        assert_eq!(
            (
                r.psid.as_str(),
                r.messaging_type.as_str(),
                r.text.as_deref()
            ),
            ("1", "RESPONSE", Some("hi"))
        );
        assert!(parse(&generic((0..10).map(|_| el(3)).collect())).is_ok());
        let mut b = text("x");
        b["recipient"]["id"] = json!(1234);
        b["message"]["metadata"] = json!("dlv_1");
        b["message"]["quick_replies"] =
            json!([{"content_type": "text", "title": "Yes", "payload": "Y"}]);
        let r = parse(&b).unwrap();
        assert_eq!(
            (r.psid.as_str(), r.metadata.as_deref()),
            ("1234", Some("dlv_1"))
        );
        assert!(
            parse(&json!({"recipient": {"id": "1"}, "sender_action": "typing_on"}))
                .unwrap()
                .message
                .is_none()
        );
    }

    #[test]
    fn rejects_what_graph_rejects() {
        assert!(err(json!({"message": {"text": "x"}})).contains("recipient"));
        let mut both = text("x");
        both["message"]["attachment"] =
            json!({"type": "image", "payload": {"url": "https://x.example/a.png"}});
        assert!(err(both).contains("Only one of text or attachment"));
        assert!(err(json!({"recipient": {"id": "1"}, "message": {}})).contains("either"));
        assert!(err(generic((0..11).map(|_| el(1)).collect())).contains("at most 10"));
        assert!(err(generic(vec![el(4)])).contains("[elements][0][buttons] must have at most 3"));
        let mut long = el(1);
        long["title"] = json!("x".repeat(81));
        assert!(err(generic(vec![long])).contains("[elements][0][title]"));
        let mut b = text("x");
        b["message"]["quick_replies"] = json!(
            (0..14)
                .map(|_| json!({"content_type": "text", "title": "a", "payload": "b"}))
                .collect::<Vec<_>>()
        );
        assert!(err(b).contains("quick_replies"));
        let mut b = text("x");
        b["messaging_type"] = json!("PUSH");
        assert!(err(b).contains("messaging_type"));
        let mut b = text("x");
        b["messaging_type"] = json!("MESSAGE_TAG");
        assert!(err(b.clone()).contains("tag is required"));
        b["tag"] = json!("NOT_A_TAG");
        assert!(err(b).contains("Param tag"));
        assert!(err(text(&"x".repeat(2001))).contains("2000"));
        let media = json!({"recipient": {"id": "1"}, "message": {"attachment": {"type": "image", "payload": {"url": "nope"}}}});
        assert!(err(media).contains("valid URL"));
    }
}
