//! Dead letters: `POST /v1/messages/redrive`, resending in bulk the failed messages whose
//! attempts ran out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FailureReason;

/// Which dead letters to resend. Every field narrows the set; none at all takes the oldest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"created_from": "2026-12-01", "created_to": "2026-12-07", "channel": "sms"}))]
pub struct RedriveRequest {
    /// Created at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = date_or_time)]
    pub created_from: Option<String>,
    /// Created before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = date_or_time)]
    pub created_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The connection the attempts ran out on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The last failure's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    /// At most this many (default 100, at most 1000); call again for the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A day (`YYYY-MM-DD`) or an RFC 3339 time, as the listing's `created_from` takes, or
/// `null` (no bound).
fn date_or_time() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string = |f| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
    };
    AnyOfBuilder::new()
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// What a redrive did. A message is resent at most once, so running the same redrive again
/// resends nothing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RedriveReport {
    /// Dead letters taken (not yet resent, matching the request).
    pub matched: u32,
    /// How many were resent now.
    pub redriven: u32,
    pub resent: Vec<Redriven>,
    pub refused: Vec<RedriveRefusal>,
}

/// A dead letter and the new message that resends it (`resend_of` points back).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Redriven {
    pub id: String,
    pub resent_as: String,
}

/// A dead letter that was not resent, and why (the error `POST /v1/messages/{id}/resend`
/// would answer).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct RedriveRefusal {
    pub id: String,
    pub code: String,
    pub message: String,
}
