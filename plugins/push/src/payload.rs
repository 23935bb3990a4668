//! Channel options and the provider payloads, built as pure functions of the message so that
//! `validate` measures exactly the bytes `send` will post.

use serde_json::{Map, Value, json};
use switchboard_plugin_sdk::prelude::*;

/// FCM and APNs both cap a notification payload at 4096 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// APNs refuses a longer `apns-collapse-id`; FCM's `collapse_key` gets the same cap.
pub const MAX_COLLAPSE_ID_BYTES: usize = 64;
/// FCM's longest `android.ttl` (28 days); APNs has no documented cap, so the same one applies.
pub const MAX_TTL_S: u64 = 2_419_200;
/// Data keys the plugin writes itself, or that a provider reserves.
const RESERVED_DATA_KEYS: &[&str] = &[
    "sb_message_id",
    "sb_image_url",
    "aps",
    "from",
    "notification",
    "message_type",
];
const RESERVED_DATA_PREFIXES: &[&str] = &["google.", "gcm."];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Android,
    Ios,
}

impl Platform {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "android" => Some(Self::Android),
            "ios" => Some(Self::Ios),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    High,
    Normal,
}

/// The options a push message may carry, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub priority: Option<Priority>,
    pub collapse_id: Option<String>,
    pub ttl_s: Option<u64>,
}

/// Every option problem, each on `options.<key>`.
pub fn parse_options(pairs: &[(String, String)]) -> (Options, Vec<Violation>) {
    let mut opts = Options::default();
    let mut v = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in pairs {
        let field = format!("options.{key}");
        if seen.contains(&key.as_str()) {
            v.push(Violation::new(
                "duplicate_option",
                &field,
                "option given more than once",
            ));
            continue;
        }
        seen.push(key);
        match key.as_str() {
            "priority" => match value.as_str() {
                "high" => opts.priority = Some(Priority::High),
                "normal" => opts.priority = Some(Priority::Normal),
                _ => v.push(Violation::new(
                    "invalid_value",
                    &field,
                    "priority is `high` or `normal`",
                )),
            },
            "collapse_id" => {
                if value.is_empty() || value.len() > MAX_COLLAPSE_ID_BYTES {
                    v.push(Violation::new(
                        "invalid_value",
                        &field,
                        format!("collapse_id is 1 to {MAX_COLLAPSE_ID_BYTES} bytes"),
                    ));
                } else if value.chars().any(char::is_control) {
                    v.push(Violation::new(
                        "invalid_value",
                        &field,
                        "collapse_id is sent as a header: no control characters",
                    ));
                } else {
                    opts.collapse_id = Some(value.clone());
                }
            }
            "ttl_s" => match value.parse::<u64>() {
                Ok(n) if n <= MAX_TTL_S => opts.ttl_s = Some(n),
                _ => v.push(Violation::new(
                    "invalid_value",
                    &field,
                    format!("ttl_s is whole seconds from 0 to {MAX_TTL_S}"),
                )),
            },
            _ => v.push(Violation::new(
                "unknown_option",
                &field,
                "allowed options: priority, collapse_id, ttl_s",
            )),
        }
    }
    (opts, v)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The title and body a user sees; none of either makes a silent (data or background) push.
pub fn visible(content: &Content) -> (Option<&str>, Option<&str>) {
    (non_empty(&content.subject), non_empty(&content.text))
}

pub fn is_alert(content: &Content) -> bool {
    let (title, body) = visible(content);
    title.is_some() || body.is_some()
}

pub fn image_url(content: &Content) -> Option<&str> {
    content.media.first().map(|m| m.url.as_str())
}

/// A data key the plugin or a provider owns.
pub fn is_reserved_key(key: &str) -> bool {
    RESERVED_DATA_KEYS.contains(&key) || RESERVED_DATA_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// `{"message": {...}}` for `POST /v1/projects/{p}/messages:send`.
pub fn fcm_body(msg: &Message, token: &str, opts: &Options) -> Value {
    let (title, body) = visible(&msg.content);
    let mut message = Map::new();
    message.insert("token".into(), token.into());
    let mut notification = Map::new();
    if let Some(t) = title {
        notification.insert("title".into(), t.into());
    }
    if let Some(b) = body {
        notification.insert("body".into(), b.into());
    }
    if let Some(url) = image_url(&msg.content) {
        notification.insert("image".into(), url.into());
    }
    if !notification.is_empty() {
        message.insert("notification".into(), Value::Object(notification));
    }
    let mut data: Map<String, Value> = msg
        .content
        .data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    // Inserted last so a stray key of the same name cannot redirect the receipt.
    data.insert("sb_message_id".into(), msg.id.clone().into());
    message.insert("data".into(), Value::Object(data));
    // A visible notification defaults to high so it shows at once; a data-only message to
    // normal, since Android penalises apps whose high-priority pushes show nothing.
    let priority = match opts.priority {
        Some(p) => p,
        None if is_alert(&msg.content) => Priority::High,
        None => Priority::Normal,
    };
    let mut android = Map::new();
    android.insert(
        "priority".into(),
        match priority {
            Priority::High => "high",
            Priority::Normal => "normal",
        }
        .into(),
    );
    if let Some(ttl) = opts.ttl_s {
        android.insert("ttl".into(), format!("{ttl}s").into());
    }
    if let Some(c) = &opts.collapse_id {
        android.insert("collapse_key".into(), c.clone().into());
    }
    message.insert("android".into(), Value::Object(android));
    json!({ "message": message })
}

/// The APNs JSON payload: `aps` plus the message id and the data pairs at top level.
pub fn apns_body(msg: &Message) -> Value {
    let (title, body) = visible(&msg.content);
    let mut aps = Map::new();
    if is_alert(&msg.content) {
        let mut alert = Map::new();
        if let Some(t) = title {
            alert.insert("title".into(), t.into());
        }
        if let Some(b) = body {
            alert.insert("body".into(), b.into());
        }
        aps.insert("alert".into(), Value::Object(alert));
        aps.insert("sound".into(), "default".into());
    } else {
        aps.insert("content-available".into(), 1.into());
    }
    let mut root: Map<String, Value> = msg
        .content
        .data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if let Some(url) = image_url(&msg.content) {
        // A notification service extension downloads the image; it only runs with this flag.
        aps.insert("mutable-content".into(), 1.into());
        root.insert("sb_image_url".into(), url.into());
    }
    root.insert("aps".into(), Value::Object(aps));
    root.insert("sb_message_id".into(), msg.id.clone().into());
    Value::Object(root)
}

/// The exact body bytes `send` posts for this platform.
pub fn body_bytes(platform: Platform, msg: &Message, token: &str, opts: &Options) -> Vec<u8> {
    match platform {
        Platform::Android => fcm_body(msg, token, opts).to_string().into_bytes(),
        Platform::Ios => apns_body(msg).to_string().into_bytes(),
    }
}
