use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/messages`: one message to one recipient on one channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "sms", "to": {"phone": "+15551234567"}, "content": {"text": "hi"}}))]
pub struct NewMessage {
    /// The channel to send on, e.g. `sms` (see `GET /v1/plugins`). Leave it out to send
    /// through a `policy` instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    /// Send through a routing policy instead of one channel: the name of a policy (see
    /// `/v1/policies`; `follow-up` is built in) or a policy inline. The recipient then carries
    /// an address for each channel it may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRef>,
    pub to: Recipient,
    pub content: Content,
    #[serde(default)]
    pub category: Category,
    /// Free-form key/value pairs kept with the message and shown back.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Channel options the channel's plugin documents, e.g. Messenger `messaging_type` and
    /// `tag`, push `priority` and `collapse_id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Send through this connection instead of the workspace's first active one for the
    /// channel, e.g. the Facebook page a PSID belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Who the email is from, instead of the connection's own sender. Email only: its
    /// domain must be verified for the connection (`/v1/sender-domains`), else the message
    /// is refused `sender_domain_unverified`; the connection's own sender is always
    /// accepted. A routed message's other channels leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Sender>,
}

/// The sender of an email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "news@example.com", "name": "Example News"}))]
pub struct Sender {
    /// An address on a domain verified for the connection, or the connection's own sender.
    pub email: String,
    /// The display name recipients see; at most 100 characters, one line.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "display_name"
    )]
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: Option<String>,
}

/// A sender's display name as the document allows it, refused while the body is parsed (as
/// any other value of the wrong shape is): a name becomes an email header, one line.
fn display_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = <Option<String> as serde::Deserialize>::deserialize(d)?;
    if let Some(n) = &name {
        if n.chars().count() > 100 {
            return Err(serde::de::Error::custom(
                "a sender's name is at most 100 characters",
            ));
        }
        if n.chars().any(char::is_control) {
            return Err(serde::de::Error::custom(
                "a sender's name is one line, without control characters",
            ));
        }
    }
    Ok(name)
}

impl Sender {
    /// The domain part, lower case, when the address has one.
    pub fn domain(&self) -> Option<String> {
        self.email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .filter(|d| !d.is_empty())
    }
}

/// A policy by name, or inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(untagged)]
pub enum PolicyRef {
    Named(String),
    Inline(crate::policy::Policy),
}

/// Where to reach the recipient: each channel reads the address it needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// E.164 phone number, e.g. `+15551234567`. Normalised by the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2 country of `phone`, derived from the number (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Messenger page-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_token: Option<String>,
    /// `android` (FCM) or `ios` (APNs): the platform of `push_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Email subject, Korean LMS title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carousel: Vec<CarouselElement>,
    /// Buttons under the message (AlimTalk).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    /// Suggested replies (Messenger quick replies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    /// A provider-registered template and its variables (AlimTalk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    /// Key/value data delivered to the app with a push notification.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuickReply {
    pub title: String,
    pub payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    /// The provider's template id.
    pub id: String,
    /// Values of the template's variables, e.g. `{"#{name}": "Ada"}`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    File,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    pub kind: MediaKind,
    /// Where the provider fetches the file. Before the message is accepted the gateway asks
    /// this URL itself (HEAD, or a one-byte ranged GET): a URL that does not answer 2xx,
    /// serves an empty file, serves a type other than the kind's (an `image` must serve
    /// `image/*`, a `file` one of the channel's document types), is larger than the channel
    /// takes, or points at a private address is refused with a violation on this field.
    pub url: String,
    /// The declared media type. Not trusted: replaced by the `Content-Type` the URL serves
    /// (without parameters) in what is stored and what the channel gets.
    pub mime_type: String,
    /// The declared size in bytes (at most 2^63 - 1, as the document's `int64` says). Not
    /// trusted: the size the URL serves replaces it in what is stored and what the channel
    /// gets, and the channel's cap applies to that real size.
    #[serde(deserialize_with = "int64_size")]
    pub size: u64,
}

/// A size the document's `int64` can hold: past it, the body is refused while it is parsed,
/// as any other value of the wrong type is.
fn int64_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = <u64 as serde::Deserialize>::deserialize(d)?;
    if i64::try_from(n).is_err() {
        return Err(serde::de::Error::custom(format!(
            "size {n} is over 9223372036854775807"
        )));
    }
    Ok(n)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Button {
    pub title: String,
    /// A link button when set; otherwise a postback carrying `payload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarouselElement {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    #[default]
    Transactional,
    Marketing,
    FollowUp,
}

impl NewMessage {
    /// The links the recipient would follow: button URLs and URLs in the text.
    pub fn link_urls(&self) -> Vec<String> {
        let c = &self.content;
        let mut urls: Vec<String> = c.buttons.iter().filter_map(|b| b.url.clone()).collect();
        for e in &c.carousel {
            urls.extend(e.buttons.iter().filter_map(|b| b.url.clone()));
        }
        if let Some(text) = &c.text {
            urls.extend(text_urls(text));
        }
        urls.sort();
        urls.dedup();
        urls
    }

    /// Every URL the message would make the recipient see or the provider fetch: media,
    /// carousel images and buttons, buttons, quick-reply images, and links in the text.
    /// Block lists and `url_blocked` resends are decided on these.
    pub fn urls(&self) -> Vec<String> {
        let c = &self.content;
        let mut urls: Vec<String> = Vec::new();
        urls.extend(c.media.iter().map(|m| m.url.clone()));
        for e in &c.carousel {
            urls.extend(e.image_url.clone());
            urls.extend(e.buttons.iter().filter_map(|b| b.url.clone()));
        }
        urls.extend(c.buttons.iter().filter_map(|b| b.url.clone()));
        urls.extend(c.quick_replies.iter().filter_map(|q| q.image_url.clone()));
        if let Some(text) = &c.text {
            urls.extend(text_urls(text));
        }
        urls.sort();
        urls.dedup();
        urls
    }
}

fn text_urls(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|ch: char| ch.is_whitespace() || matches!(ch, '<' | '>' | '"' | '\''))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| {
            w.trim_end_matches(['.', ',', ')', ';', '!', '?'])
                .to_string()
        })
}
