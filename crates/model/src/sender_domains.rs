//! Sender domains: a domain an email connection's provider has checked, so that messages may
//! name a sender on it (`from`), and the workspace's follow-up sender.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/sender-domains`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"connection": "con_sandbox_sendgrid_email", "domain": "example.com"}))]
pub struct NewSenderDomain {
    /// The email connection whose provider sends from the domain.
    pub connection: String,
    /// The domain, e.g. `example.com`: dot-separated labels of letters, digits and `-` (not
    /// at a label's ends), at least two. Kept in lower case.
    #[schema(
        pattern = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$",
        max_length = 253
    )]
    pub domain: String,
}

/// Where a sender domain stands with its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderDomainStatus {
    /// Created; not checked yet, or never passed a check.
    Pending,
    /// The provider's last check found every record: messages may name a sender on it.
    Verified,
    /// Verified once, then a check found a record missing or wrong: new messages from it are
    /// refused until a check passes again.
    Failed,
}

impl SenderDomainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderDomainStatus::Pending => "pending",
            SenderDomainStatus::Verified => "verified",
            SenderDomainStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(SenderDomainStatus::Pending),
            "verified" => Some(SenderDomainStatus::Verified),
            "failed" => Some(SenderDomainStatus::Failed),
            _ => None,
        }
    }
}

/// One DNS record to publish, with what the provider's last check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct DnsRecordView {
    /// The provider's name for the record, e.g. SendGrid's `mail_cname`, `dkim1`, `dkim2`.
    pub key: String,
    /// `cname`, `txt` or `mx`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where to publish it.
    pub host: String,
    /// What it must hold.
    pub value: String,
    /// Whether the provider's last check found it as it must be.
    pub valid: bool,
    /// Why the last check found it wrong, in the provider's words.
    pub reason: Option<String>,
}

/// The address follow-up emails go out from: `local_part@` the domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"local_part": "hello", "name": "Acme Support"}))]
pub struct FollowUpSender {
    /// The part before `@`: dot-separated runs of letters, digits and
    /// ``!#$%&'*+/=?^_`{|}~-``, 1 to 64 characters.
    #[schema(
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$",
        max_length = 64
    )]
    pub local_part: String,
    /// The display name; at most 100 characters, one line.
    #[serde(default)]
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", max_length = 100)]
    pub name: Option<String>,
}

/// A sender domain as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct SenderDomainView {
    pub id: String,
    pub connection: String,
    pub domain: String,
    pub status: SenderDomainStatus,
    /// The records to publish at the domain's DNS host, with the last check's result.
    pub records: Vec<DnsRecordView>,
    /// Set when this domain is the workspace's follow-up sender: follow-up emails go out
    /// from `local_part@domain` while the domain is verified.
    pub follow_up: Option<FollowUpSender>,
    pub created_at: String,
    pub updated_at: String,
    /// When the provider last checked it.
    pub validated_at: Option<String>,
}
