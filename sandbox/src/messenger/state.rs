//! Everything the simulated Messenger Platform remembers: runtime config, Send API requests,
//! and per page the users, their conversations and their last activity.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

use super::body::SendRequest;
use super::errors::GraphError;
use super::{MAGIC_PSID_UNAVAILABLE, SandboxPage};

pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
pub const STANDARD_WINDOW_MS: u64 = DAY_MS;
pub const HUMAN_AGENT_WINDOW_MS: u64 = 7 * DAY_MS;

/// Runtime settings, changed through `PUT /_sandbox/messenger/config`.
#[derive(Debug, Clone, Serialize)]
pub struct MessengerConfig {
    /// Callback URL per page id. Facebook has one URL per app; see the module docs.
    pub webhooks: BTreeMap<String, String>,
    pub delivery_delay_ms: u64,
    pub read_delay_ms: u64,
    /// The app's "Valid OAuth Redirect URIs"; with strict mode (always on here) the login
    /// dialog refuses any other `redirect_uri`, compared as exact strings.
    pub oauth_redirect_uris: Vec<String>,
}

impl Default for MessengerConfig {
    fn default() -> Self {
        Self {
            webhooks: BTreeMap::new(),
            delivery_delay_ms: 20,
            read_delay_ms: 60,
            oauth_redirect_uris: Vec::new(),
        }
    }
}

/// One Send API request as the control API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SendRecord {
    pub page_id: String,
    pub psid: Option<String>,
    /// The raw request body.
    pub request: String,
    /// The message id answered.
    pub mid: Option<String>,
    pub http_status: u16,
    /// `code/subcode` of the error answered, if any.
    pub error: Option<String>,
    pub fault_id: Option<String>,
    pub timestamp_ms: u64,
    /// Webhook events that came due for this message (posted or not).
    pub events: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ConvMessage {
    pub mid: String,
    pub from_page: bool,
    pub text: String,
    pub created_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub page_id: String,
    pub psid: String,
    pub name: String,
    /// Oldest first.
    pub messages: Vec<ConvMessage>,
}

impl Conversation {
    pub fn updated_ms(&self) -> u64 {
        self.messages.last().map_or(0, |m| m.created_ms)
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MessengerStats {
    pub requests: u64,
    pub unique_accepted: u64,
    /// Always 0: Graph has no idempotency key, so a repeated send is one more message. Kept so
    /// the counters have the same shape on every simulator (payments counts replays).
    pub duplicates: u64,
    pub rejected: u64,
    pub callbacks_sent: u64,
    pub callbacks_failed: u64,
}

pub enum Outcome {
    Rejected(GraphError),
    Accepted { mid: String, response: Value },
}

#[derive(Default)]
struct Inner {
    config: MessengerConfig,
    stats: MessengerStats,
    records: Vec<SendRecord>,
    conversations: Vec<Conversation>,
    /// (page, psid) → last inbound activity, sim-clock ms.
    last_inbound: HashMap<(String, String), u64>,
    /// page → its current access token, once the page's original token was revoked (the
    /// page's admin changed password, or the app lost the page's permission).
    reissued_tokens: HashMap<String, String>,
    /// Login dialogs, codes, user tokens and page subscriptions.
    oauth: super::oauth::OAuthData,
}

#[derive(Default)]
pub(crate) struct MessengerState {
    inner: Mutex<Inner>,
}

/// `m_` and 86 characters of URL-safe base64, the shape of current Messenger message ids.
pub fn new_mid() -> String {
    use base64::Engine as _;
    let bytes: [u8; 64] = std::array::from_fn(|_| rand::random());
    format!(
        "m_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A 16-digit page-scoped id.
pub fn new_psid() -> String {
    rand::random_range(1_000_000_000_000_000u64..10_000_000_000_000_000).to_string()
}

fn new_thread_id() -> String {
    format!(
        "t_{}",
        rand::random_range(100_000_000_000_000u64..999_999_999_999_999)
    )
}

pub fn window_allows(req: &SendRequest, last: Option<u64>, now_ms: u64) -> bool {
    let elapsed = last.map(|t| now_ms.saturating_sub(t));
    if elapsed.is_some_and(|e| e <= STANDARD_WINDOW_MS) {
        return true;
    }
    match (req.messaging_type.as_str(), req.tag.as_deref()) {
        ("MESSAGE_TAG", Some("HUMAN_AGENT")) => elapsed.is_some_and(|e| e <= HUMAN_AGENT_WINDOW_MS),
        ("MESSAGE_TAG", Some(_)) => true,
        _ => false,
    }
}

impl MessengerState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("messenger state poisoned")
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// Revoke the page's current token and issue a new one: the old one now gets 190.
    pub fn reissue_token(&self, page_id: &str) -> String {
        use base64::Engine as _;
        let bytes: [u8; 48] = std::array::from_fn(|_| rand::random());
        let token = format!(
            "EAAaBcSw1tch{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        self.lock()
            .reissued_tokens
            .insert(page_id.to_string(), token.clone());
        token
    }

    /// The page a token belongs to: a reissued token, or an original one not revoked.
    pub fn page_for_token(&self, token: &str) -> Option<&'static super::SandboxPage> {
        let inner = self.lock();
        if let Some((page, _)) = inner.reissued_tokens.iter().find(|(_, t)| *t == token) {
            return super::page_by_id(page);
        }
        super::page_by_token(token).filter(|p| !inner.reissued_tokens.contains_key(p.id))
    }

    /// The token a page's API calls work with now: the reissued one once revoked.
    pub fn current_token(&self, page: &SandboxPage) -> String {
        self.lock()
            .reissued_tokens
            .get(page.id)
            .cloned()
            .unwrap_or_else(|| page.access_token.to_owned())
    }

    pub(crate) fn with_oauth<R>(&self, f: impl FnOnce(&mut super::oauth::OAuthData) -> R) -> R {
        f(&mut self.lock().oauth)
    }

    pub fn config(&self) -> MessengerConfig {
        self.lock().config.clone()
    }

    pub fn set_config(&self, config: MessengerConfig) {
        self.lock().config = config;
    }

    pub fn count_request(&self) {
        self.lock().stats.requests += 1;
    }

    pub fn stats(&self) -> MessengerStats {
        self.lock().stats
    }

    pub fn records(&self) -> Vec<SendRecord> {
        self.lock().records.clone()
    }

    /// A request answered without processing (an injected fault) or rejected before `accept`.
    pub fn record_answer(&self, record: SendRecord) {
        let mut inner = self.lock();
        if record.http_status >= 400 && record.fault_id.is_none() {
            inner.stats.rejected += 1;
        }
        inner.records.push(record);
    }

    pub fn record_event(&self, mid: &str, event: &str) {
        let mut inner = self.lock();
        if let Some(r) = inner
            .records
            .iter_mut()
            .find(|r| r.mid.as_deref() == Some(mid))
        {
            r.events.push(event.to_owned());
        }
    }

    /// Recipient and window checks, and acceptance. Graph has no idempotency key: a repeated
    /// send is one more message, as at Facebook.
    pub fn accept(
        &self,
        page: &SandboxPage,
        req: &SendRequest,
        raw: &str,
        now_ms: u64,
        fault_id: Option<String>,
    ) -> Outcome {
        let mut inner = self.lock();
        let mut record = SendRecord {
            page_id: page.id.to_owned(),
            psid: Some(req.psid.clone()),
            request: raw.to_owned(),
            mid: None,
            http_status: 200,
            error: None,
            fault_id,
            timestamp_ms: now_ms,
            events: Vec::new(),
        };
        let conv = inner
            .conversations
            .iter()
            .position(|c| c.page_id == page.id && c.psid == req.psid);
        let last = inner
            .last_inbound
            .get(&(page.id.to_owned(), req.psid.clone()))
            .copied();
        let rejection = if conv.is_none() {
            Some(GraphError::no_matching_user())
        } else if req.psid == MAGIC_PSID_UNAVAILABLE {
            Some(GraphError::unavailable())
        } else if !window_allows(req, last, now_ms) {
            Some(GraphError::outside_window())
        } else {
            None
        };
        if let Some(err) = rejection {
            inner.stats.rejected += 1;
            record.http_status = err.status.as_u16();
            record.error = Some(match err.subcode {
                Some(s) => format!("{}/{s}", err.code),
                None => err.code.to_string(),
            });
            inner.records.push(record);
            return Outcome::Rejected(err);
        }
        let mid = new_mid();
        let response = json!({ "recipient_id": req.psid, "message_id": mid });
        if let (Some(i), Some(_)) = (conv, &req.message) {
            inner.conversations[i].messages.push(ConvMessage {
                mid: mid.clone(),
                from_page: true,
                text: req.text.clone().unwrap_or_default(),
                created_ms: now_ms,
            });
        }
        inner.stats.unique_accepted += 1;
        record.mid = Some(mid.clone());
        inner.records.push(record);
        Outcome::Accepted { mid, response }
    }

    /// A user writes to the page: their conversation gets the message and their window opens.
    pub fn inbound(
        &self,
        page: &SandboxPage,
        psid: &str,
        name: Option<&str>,
        text: &str,
        now_ms: u64,
    ) -> String {
        let mut inner = self.lock();
        let mid = new_mid();
        let i = conversation_index(&mut inner, page.id, psid, name);
        inner.conversations[i].messages.push(ConvMessage {
            mid: mid.clone(),
            from_page: false,
            text: text.to_owned(),
            created_ms: now_ms,
        });
        inner
            .last_inbound
            .insert((page.id.to_owned(), psid.to_owned()), now_ms);
        mid
    }

    /// Someone at the page replies from the Page's own inbox (not through the Send API): the
    /// conversation gets the message. Like any reply it needs a person who wrote to the page,
    /// within the 7 days a human may answer (the HUMAN_AGENT window).
    pub fn page_reply(
        &self,
        page: &SandboxPage,
        psid: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<String, GraphError> {
        let mut inner = self.lock();
        let conv = inner
            .conversations
            .iter()
            .position(|c| c.page_id == page.id && c.psid == psid)
            .ok_or_else(GraphError::no_matching_user)?;
        let last = inner
            .last_inbound
            .get(&(page.id.to_owned(), psid.to_owned()))
            .copied();
        if last.is_none_or(|t| now_ms.saturating_sub(t) > HUMAN_AGENT_WINDOW_MS) {
            return Err(GraphError::outside_window());
        }
        let mid = new_mid();
        inner.conversations[conv].messages.push(ConvMessage {
            mid: mid.clone(),
            from_page: true,
            text: text.to_owned(),
            created_ms: now_ms,
        });
        Ok(mid)
    }

    /// Whether the page's webhooks include `field`. A page the app never subscribed to gets
    /// every field (the module's documented deviation, for tests that never subscribe); once
    /// subscribed, only the fields it named, as at Facebook.
    pub fn wants(&self, page_id: &str, field: &str) -> bool {
        self.lock()
            .oauth
            .subscription(page_id)
            .is_none_or(|fields| fields.iter().any(|f| f == field))
    }

    /// Synthetic conversations: users with names, messages alternating user/page (the user
    /// first and, with an odd count, last), the newest of conversation `i` sent
    /// `(i + 1) * 37` minutes ago and the others 5 minutes apart before it.
    pub fn seed(
        &self,
        page: &SandboxPage,
        count: usize,
        per_conversation: usize,
        now_ms: u64,
    ) -> Vec<Value> {
        let mut inner = self.lock();
        let mut created = Vec::new();
        for i in 0..count {
            let psid = new_psid();
            let name = format!(
                "{} {}",
                FIRST_NAMES[i % FIRST_NAMES.len()],
                LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()]
            );
            let idx = conversation_index(&mut inner, page.id, &psid, Some(&name));
            let newest = now_ms.saturating_sub((i as u64 + 1) * 37 * 60_000);
            let mut last_inbound = None;
            for j in 0..per_conversation {
                let created_ms =
                    newest.saturating_sub((per_conversation - 1 - j) as u64 * 5 * 60_000);
                let from_page = j % 2 == 1;
                if !from_page {
                    last_inbound = Some(created_ms);
                }
                let text = if from_page {
                    format!("Thanks {name}, we are on it ({j}).")
                } else {
                    format!("Hi, question {j} about my order.")
                };
                inner.conversations[idx].messages.push(ConvMessage {
                    mid: new_mid(),
                    from_page,
                    text,
                    created_ms,
                });
            }
            if let Some(t) = last_inbound {
                inner
                    .last_inbound
                    .insert((page.id.to_owned(), psid.clone()), t);
            }
            let c = &inner.conversations[idx];
            created.push(json!({"psid": psid, "name": name, "conversation_id": c.id, "last_inbound_ms": last_inbound}));
        }
        created
    }

    /// A page's conversations, most recently updated first.
    pub fn conversations(&self, page_id: &str) -> Vec<Conversation> {
        let inner = self.lock();
        let mut list: Vec<Conversation> = inner
            .conversations
            .iter()
            .filter(|c| c.page_id == page_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| {
            b.updated_ms()
                .cmp(&a.updated_ms())
                .then_with(|| a.id.cmp(&b.id))
        });
        list
    }

    pub fn knows(&self, page_id: &str, psid: &str) -> bool {
        self.lock()
            .conversations
            .iter()
            .any(|c| c.page_id == page_id && c.psid == psid)
    }
}

fn conversation_index(inner: &mut Inner, page_id: &str, psid: &str, name: Option<&str>) -> usize {
    if let Some(i) = inner
        .conversations
        .iter()
        .position(|c| c.page_id == page_id && c.psid == psid)
    {
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            inner.conversations[i].name = n.to_owned();
        }
        return i;
    }
    let tail = psid.get(psid.len().saturating_sub(4)..).unwrap_or(psid);
    inner.conversations.push(Conversation {
        id: new_thread_id(),
        page_id: page_id.to_owned(),
        psid: psid.to_owned(),
        name: name
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("Sandbox User {tail}"), str::to_owned),
        messages: Vec::new(),
    });
    inner.conversations.len() - 1
}

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Radia",
    "Edsger",
    "Frances",
    "Donald",
    "Hedy",
    "John",
    "Shafi",
    "Tim",
    "Sophie",
    "Guido",
    "Jean",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov",
    "Thompson", "Perlman",
];
