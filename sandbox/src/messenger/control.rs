//! `/_sandbox/messenger/…`: runtime config, user traffic and observation.
//!
//! | endpoint | effect |
//! |---|---|
//! | `GET`/`PUT /_sandbox/messenger/config` | `{"webhooks": {"<page_id>": "<url>"}, "delivery_delay_ms", "read_delay_ms", "oauth_redirect_uris": ["<url>"]}`; PUT is partial, a `""` URL removes the page's webhook, `oauth_redirect_uris` replaces the app's Valid OAuth Redirect URIs (absolute http(s), no fragment) |
//! | `POST /_sandbox/messenger/inbound` | `{"page_id", "psid"?, "name"?, "text"?, "attachments"?: [{"type","url"}], "quick_reply"?: {"payload"}, "postback"?: {"title","payload"}}`: the user writes to the page (a `quick_reply` is a tap on one of the page's quick replies: `text` is its title; a `postback` a tap on a button) → `{"mid","psid","timestamp"}` |
//! | `POST /_sandbox/messenger/page_reply` | `{"page_id", "psid", "text"}`: someone at the page replies to the person from the Page's own inbox, not through the Send API → `{"mid","timestamp"}`; the echo webhook follows (Page inbox app id, no metadata). 400 with Graph's error when the person never wrote to the page or wrote more than 7 days ago |
//! | `POST /_sandbox/messenger/conversations` | `{"page_id", "count", "messages_per_conversation"}`: seed synthetic conversations → `{"created": [{"psid","name","conversation_id","last_inbound_ms"}]}` |
//! | `GET /_sandbox/messenger/messages` | every Send API request: page, psid, raw body, mid, status, error, events |
//! | `GET /_sandbox/messenger/stats` | `{requests, unique_accepted, duplicates, rejected, callbacks_sent, callbacks_failed}` |
//! | `GET /_sandbox/messenger/pages` | the sandbox pages (`id`, `name`, original `access_token`, `current_access_token`, `subscribed`, `subscribed_fields`), app id, secret and verify token, the Facebook Login user |
//! | `POST /_sandbox/messenger/pages/{page_id}/reissue-token` | revoke the page's token (sends with it now get 190) and issue a new one → `{"access_token"}` |

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::new_psid;
use super::{
    CHANNEL, SANDBOX_FACEBOOK_USER_EMAIL, SANDBOX_FACEBOOK_USER_ID, SANDBOX_FACEBOOK_USER_NAME,
    SANDBOX_FACEBOOK_USER_PASSWORD, SANDBOX_MESSENGER_APP_ID, SANDBOX_MESSENGER_APP_SECRET,
    SANDBOX_MESSENGER_PAGES, SANDBOX_MESSENGER_VERIFY_TOKEN, page_by_id, webhooks,
};
use crate::Shared;

const MAX_SEED_CONVERSATIONS: usize = 1000;
const MAX_SEED_MESSAGES: usize = 100;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_sandbox/messenger/config",
            get(get_config).put(put_config),
        )
        .route("/_sandbox/messenger/inbound", post(inbound))
        .route("/_sandbox/messenger/page_reply", post(page_reply))
        .route("/_sandbox/messenger/conversations", post(seed))
        .route("/_sandbox/messenger/messages", get(messages))
        .route("/_sandbox/messenger/stats", get(stats))
        .route("/_sandbox/messenger/pages", get(pages))
        .route(
            "/_sandbox/messenger/pages/{page_id}/reissue-token",
            post(reissue_token),
        )
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.to_string() })),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDto {
    #[serde(default)]
    webhooks: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    delivery_delay_ms: Option<u64>,
    #[serde(default)]
    read_delay_ms: Option<u64>,
    #[serde(default)]
    oauth_redirect_uris: Option<Vec<String>>,
}

async fn get_config(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.messenger.config()).into_response()
}

async fn put_config(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let dto: ConfigDto = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("invalid config: {e}")),
    };
    let mut cfg = shared.messenger.config();
    for (page, url) in dto.webhooks.unwrap_or_default() {
        if page_by_id(&page).is_none() {
            return bad_request(format!("{page:?} is not a sandbox page id"));
        }
        if url.is_empty() {
            cfg.webhooks.remove(&page);
            continue;
        }
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                cfg.webhooks.insert(page, url);
            }
            _ => return bad_request(format!("webhook {url:?} is not an http(s) URL")),
        }
    }
    if let Some(d) = dto.delivery_delay_ms {
        cfg.delivery_delay_ms = d;
    }
    if let Some(d) = dto.read_delay_ms {
        cfg.read_delay_ms = d;
    }
    if let Some(uris) = dto.oauth_redirect_uris {
        for uri in &uris {
            // The dialog appends `?code=…#_=_` and sends the result as a Location header.
            let usable = uri.bytes().all(|b| b.is_ascii_graphic()) && !uri.contains('#');
            match reqwest::Url::parse(uri) {
                Ok(u) if usable && matches!(u.scheme(), "http" | "https") && u.has_host() => {}
                _ => {
                    return bad_request(format!(
                        "redirect URI {uri:?} is not an absolute http(s) URL without a fragment"
                    ));
                }
            }
        }
        cfg.oauth_redirect_uris = uris;
    }
    shared.messenger.set_config(cfg);
    Json(shared.messenger.config()).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attachment {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Postback {
    title: String,
    payload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuickReply {
    payload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundDto {
    page_id: String,
    #[serde(default)]
    psid: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    quick_reply: Option<QuickReply>,
    #[serde(default)]
    postback: Option<Postback>,
}

async fn inbound(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let dto: InboundDto = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("invalid inbound message: {e}")),
    };
    let Some(page) = page_by_id(&dto.page_id) else {
        return bad_request(format!("{:?} is not a sandbox page id", dto.page_id));
    };
    let psid = dto.psid.filter(|p| !p.is_empty()).unwrap_or_else(new_psid);
    if !psid.bytes().all(|b| b.is_ascii_digit()) {
        return bad_request("a PSID is a string of digits");
    }
    for a in &dto.attachments {
        if !["image", "video", "audio", "file"].contains(&a.kind.as_str()) {
            return bad_request(format!(
                "attachment type {:?} is not image, video, audio or file",
                a.kind
            ));
        }
    }
    let text = dto.text.clone().unwrap_or_default();
    if dto.postback.is_none() && text.is_empty() && dto.attachments.is_empty() {
        return bad_request("an inbound message needs text, attachments or a postback");
    }
    // Messenger sends a quick reply's title as the message text, with its payload beside it.
    if dto.quick_reply.is_some() && (text.is_empty() || dto.postback.is_some()) {
        return bad_request("a quick reply needs its title as text, and is not a postback");
    }
    let now_ms = shared.clock.now_ms();
    let conversation_text = dto
        .postback
        .as_ref()
        .map_or(text.clone(), |p| p.title.clone());
    let mid =
        shared
            .messenger
            .inbound(page, &psid, dto.name.as_deref(), &conversation_text, now_ms);
    let sender = json!({"id": psid});
    let recipient = json!({"id": page.id});
    let (event, kind) = match &dto.postback {
        Some(p) => (
            json!({"sender": sender, "recipient": recipient, "timestamp": now_ms,
                   "postback": {"title": p.title, "payload": p.payload, "mid": mid}}),
            "messaging_postbacks",
        ),
        None => {
            let mut message = json!({ "mid": mid });
            if !text.is_empty() {
                message["text"] = json!(text);
            }
            if let Some(q) = &dto.quick_reply {
                message["quick_reply"] = json!({ "payload": q.payload });
            }
            if !dto.attachments.is_empty() {
                message["attachments"] = dto
                    .attachments
                    .iter()
                    .map(|a| json!({"type": a.kind, "payload": {"url": a.url}}))
                    .collect();
            }
            (
                json!({"sender": sender, "recipient": recipient, "timestamp": now_ms, "message": message}),
                "messages",
            )
        }
    };
    webhooks::schedule_inbound(&shared, page, &mid, event, now_ms, kind);
    Json(json!({ "mid": mid, "psid": psid, "timestamp": now_ms })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageReplyDto {
    page_id: String,
    psid: String,
    text: String,
}

async fn page_reply(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let dto: PageReplyDto = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("invalid page reply: {e}")),
    };
    let Some(page) = page_by_id(&dto.page_id) else {
        return bad_request(format!("{:?} is not a sandbox page id", dto.page_id));
    };
    if dto.text.trim().is_empty() {
        return bad_request("a page reply needs text");
    }
    let now_ms = shared.clock.now_ms();
    match shared
        .messenger
        .page_reply(page, &dto.psid, &dto.text, now_ms)
    {
        Ok(mid) => {
            webhooks::schedule_page_reply(&shared, page, &dto.psid, &mid, &dto.text, now_ms);
            Json(json!({ "mid": mid, "timestamp": now_ms })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedDto {
    page_id: String,
    count: usize,
    #[serde(default = "default_messages")]
    messages_per_conversation: usize,
}

fn default_messages() -> usize {
    4
}

async fn seed(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let dto: SeedDto = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("invalid seed request: {e}")),
    };
    let Some(page) = page_by_id(&dto.page_id) else {
        return bad_request(format!("{:?} is not a sandbox page id", dto.page_id));
    };
    if dto.count > MAX_SEED_CONVERSATIONS || dto.messages_per_conversation > MAX_SEED_MESSAGES {
        return bad_request(format!(
            "at most {MAX_SEED_CONVERSATIONS} conversations of {MAX_SEED_MESSAGES} messages"
        ));
    }
    let now_ms = shared.clock.now_ms();
    let created = shared
        .messenger
        .seed(page, dto.count, dto.messages_per_conversation, now_ms);
    (StatusCode::CREATED, Json(json!({ "created": created }))).into_response()
}

async fn messages(State(shared): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = shared
        .messenger
        .records()
        .into_iter()
        .map(|r| {
            let callbacks = r
                .mid
                .as_deref()
                .map(|mid| shared.callbacks.records_for(CHANNEL.name, mid))
                .unwrap_or_default();
            let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
            v["callbacks"] = serde_json::to_value(callbacks).unwrap_or(Value::Null);
            v
        })
        .collect();
    Json(list).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut s = shared.messenger.stats();
    (s.callbacks_sent, s.callbacks_failed) = shared.callbacks.counts(CHANNEL.name);
    Json(s).into_response()
}

async fn reissue_token(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(page_id): axum::extract::Path<String>,
) -> Response {
    if page_by_id(&page_id).is_none() {
        return bad_request(format!("no sandbox page {page_id}"));
    }
    let token = shared.messenger.reissue_token(&page_id);
    Json(json!({ "access_token": token })).into_response()
}

async fn pages(State(shared): State<Arc<Shared>>) -> Response {
    let pages: Vec<Value> = SANDBOX_MESSENGER_PAGES
        .iter()
        .map(|p| {
            let fields = shared.messenger.with_oauth(|o| o.subscription(p.id));
            json!({
                "id": p.id,
                "name": p.name,
                "access_token": p.access_token,
                "current_access_token": shared.messenger.current_token(p),
                "subscribed": fields.is_some(),
                "subscribed_fields": fields.unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({
        "pages": pages,
        "app_id": SANDBOX_MESSENGER_APP_ID.to_string(),
        "app_secret": SANDBOX_MESSENGER_APP_SECRET,
        "verify_token": SANDBOX_MESSENGER_VERIFY_TOKEN,
        "user": {
            "id": SANDBOX_FACEBOOK_USER_ID,
            "name": SANDBOX_FACEBOOK_USER_NAME,
            "email": SANDBOX_FACEBOOK_USER_EMAIL,
            "password": SANDBOX_FACEBOOK_USER_PASSWORD,
        },
    }))
    .into_response()
}
