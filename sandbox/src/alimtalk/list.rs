//! `GET /messages/v4/list`: Solapi's message list, the query a client makes to learn whether a
//! send whose answer was lost created a message. Same HMAC-SHA256 auth as the send.
//!
//! Parameters, as Solapi's SDKs send them (`solapi-nodejs` `getMessages`): `messageId`,
//! `messageIds` (repeated), `groupId`, `to`, `from`, `type`, `statusCode` (exact matches),
//! `dateType` (`CREATED`, the default, or `UPDATED`) with `startDate` / `endDate` (ISO 8601,
//! both inclusive), `limit` (1 to 500, default 20) and `startKey`. The older documented form
//! `criteria=to,type&cond=eq,eq&value=010…,ATA` is accepted with `eq` only. Any other
//! parameter or operator is refused with 400 `ValidationError` rather than ignored, since an
//! ignored filter widens the answer. `customFields` cannot be queried (no documented
//! parameter does it) but come back on every message, so a client matches its own key there.
//!
//! The answer is `{"startKey", "nextKey", "limit", "messageList": {messageId: message}}`,
//! newest first. `startKey` echoes the request's (null without), `nextKey` is the `messageId`
//! the next page starts at (null on the last page): pass it as `startKey`. A message's
//! `statusCode` is its latest: 2000 accepted, 3000 handed to Kakao, 4000 received or the
//! failure code, with `status` `PENDING`, `SENDING` or `COMPLETE` (an assumption: Solapi
//! documents the codes, not this field).

use serde_json::{Map, Value, json};

use super::reports::status_message;
use super::state::Received;
use super::time::{format_iso, parse_iso};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 500;

/// A stored message as the list shows it, built from the request that created it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub message_id: String,
    pub group_id: String,
    pub body: Value,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub status_code: String,
    pub received_ms: Option<u64>,
}

impl Stored {
    /// The message a request created, if any: one with an answered message id.
    pub fn from_received(r: &Received) -> Option<Self> {
        let message_id = r.message_id.clone()?;
        let request: Value = serde_json::from_str(&r.body).ok()?;
        let last = r.reports.last();
        Some(Self {
            group_id: r
                .response
                .get("groupId")
                .and_then(Value::as_str)
                .map_or_else(
                    || format!("G{}", message_id.get(1..).unwrap_or_default()),
                    str::to_owned,
                ),
            message_id,
            body: request.get("message").cloned().unwrap_or(Value::Null),
            created_ms: r.received_at_ms,
            updated_ms: last.map_or(r.received_at_ms, |d| d.at_ms),
            status_code: last
                .map(|d| d.status_code.clone())
                .or_else(|| r.status_code.clone())
                .unwrap_or_else(|| "2000".into()),
            received_ms: last.filter(|d| d.status_code != "3000").map(|d| d.at_ms),
        })
    }

    fn field(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    fn status(&self) -> &'static str {
        match self.status_code.as_str() {
            "2000" => "PENDING",
            "3000" => "SENDING",
            _ => "COMPLETE",
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "_id": self.message_id,
            "messageId": self.message_id,
            "groupId": self.group_id,
            "accountId": "SANDBOX0000",
            "type": self.field("type"),
            "country": "82",
            "to": self.field("to"),
            "from": self.field("from"),
            "text": self.field("text"),
            "subject": null,
            "imageId": null,
            "kakaoOptions": self.body.get("kakaoOptions").cloned().unwrap_or(Value::Null),
            "customFields": self.body.get("customFields").cloned().unwrap_or_else(|| json!({})),
            "statusCode": self.status_code,
            "statusMessage": status_message(&self.status_code),
            "status": self.status(),
            "reason": null,
            "networkCode": null,
            "networkName": "ETC",
            "log": [],
            "replacement": false,
            "autoTypeDetect": false,
            "dateCreated": format_iso(self.created_ms),
            "dateUpdated": format_iso(self.updated_ms),
            "dateProcessed": (self.status_code != "2000").then(|| format_iso(self.updated_ms)),
            "dateReported": self.received_ms.map(format_iso),
            "dateReceived": self.received_ms.map(format_iso),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateType {
    Created,
    Updated,
}

/// A parsed list request.
#[derive(Debug)]
pub struct ListQuery {
    equal: Vec<(&'static str, String)>,
    message_ids: Vec<String>,
    date_type: DateType,
    start: Option<u64>,
    end: Option<u64>,
    limit: usize,
    start_key: Option<String>,
}

/// Fields that filter by equality, and where the message keeps them.
const EQUAL_FIELDS: &[&str] = &["messageId", "groupId", "to", "from", "type", "statusCode"];

fn equal_field(name: &str) -> Option<&'static str> {
    EQUAL_FIELDS.iter().copied().find(|f| *f == name)
}

impl ListQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, String> {
        let mut q = Self {
            equal: Vec::new(),
            message_ids: Vec::new(),
            date_type: DateType::Created,
            start: None,
            end: None,
            limit: DEFAULT_LIMIT,
            start_key: None,
        };
        let (mut criteria, mut cond, mut value) = (None, None, None);
        let date = |k: &str, v: &str| {
            parse_iso(v).ok_or_else(|| format!("{k} {v:?} is not an ISO 8601 date-time"))
        };
        for (k, v) in pairs {
            match k.as_str() {
                "messageIds" | "messageIds[]" => q.message_ids.push(v.clone()),
                "dateType" => {
                    q.date_type = match v.as_str() {
                        "CREATED" => DateType::Created,
                        "UPDATED" => DateType::Updated,
                        _ => return Err(format!("dateType must be CREATED or UPDATED, not {v:?}")),
                    }
                }
                "startDate" => q.start = Some(date(k, v)?),
                "endDate" => q.end = Some(date(k, v)?),
                "limit" => {
                    q.limit = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| format!("limit must be 1 to {MAX_LIMIT}, not {v:?}"))?;
                }
                "startKey" => q.start_key = Some(v.clone()).filter(|v| !v.is_empty()),
                "criteria" => criteria = Some(v.clone()),
                "cond" => cond = Some(v.clone()),
                "value" => value = Some(v.clone()),
                other => match equal_field(other) {
                    Some(f) => q.equal.push((f, v.clone())),
                    None => {
                        return Err(format!(
                            "{other} is not a parameter of this API (the sandbox refuses it rather than ignore it)"
                        ));
                    }
                },
            }
        }
        if criteria.is_some() || cond.is_some() || value.is_some() {
            let split = |s: Option<String>| -> Vec<String> {
                s.unwrap_or_default()
                    .split(',')
                    .map(|p| p.trim().to_owned())
                    .collect()
            };
            let (names, ops, values) = (split(criteria), split(cond), split(value));
            if names.len() != ops.len() || names.len() != values.len() {
                return Err(
                    "criteria, cond and value must have as many comma-separated items".into(),
                );
            }
            for ((name, op), v) in names.iter().zip(&ops).zip(values) {
                let field = equal_field(name)
                    .ok_or_else(|| format!("criteria {name:?} is not supported by the sandbox"))?;
                if op != "eq" {
                    return Err(format!(
                        "cond {op:?} is not supported by the sandbox (eq only)"
                    ));
                }
                q.equal.push((field, v));
            }
        }
        Ok(q)
    }

    fn matches(&self, m: &Stored) -> bool {
        let value_of = |f: &str| match f {
            "messageId" => Some(m.message_id.as_str()),
            "groupId" => Some(m.group_id.as_str()),
            "statusCode" => Some(m.status_code.as_str()),
            other => m.field(other),
        };
        let at = match self.date_type {
            DateType::Created => m.created_ms,
            DateType::Updated => m.updated_ms,
        };
        self.equal
            .iter()
            .all(|(f, v)| value_of(f) == Some(v.as_str()))
            && (self.message_ids.is_empty() || self.message_ids.contains(&m.message_id))
            && self.start.is_none_or(|s| at >= s)
            && self.end.is_none_or(|e| at <= e)
    }
}

/// One page of `stored` (oldest first, as created) as Solapi's list envelope.
pub fn page(stored: Vec<Stored>, q: &ListQuery) -> Result<Value, String> {
    let all: Vec<Stored> = stored.into_iter().rev().filter(|m| q.matches(m)).collect();
    let from = match &q.start_key {
        None => 0,
        Some(k) => all
            .iter()
            .position(|m| &m.message_id == k)
            .ok_or_else(|| format!("startKey {k:?} is not a message of this list"))?,
    };
    let until = (from + q.limit).min(all.len());
    let list: Map<String, Value> = all[from..until]
        .iter()
        .map(|m| (m.message_id.clone(), m.json()))
        .collect();
    Ok(json!({
        "startKey": q.start_key,
        "nextKey": all.get(until).map(|m| m.message_id.clone()),
        "limit": q.limit,
        "messageList": list,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_and_the_criteria_form() {
        let q = ListQuery::parse(&pairs(&[
            ("to", "01012345678"),
            ("criteria", "type,statusCode"),
            ("cond", "eq,eq"),
            ("value", "ATA,4000"),
            ("limit", "500"),
        ]))
        .unwrap();
        assert_eq!(q.equal.len(), 3);
        assert_eq!(q.limit, 500);
        for bad in [
            vec![("limit", "0")],
            vec![("limit", "501")],
            vec![("startDate", "yesterday")],
            vec![("dateType", "SENT")],
            vec![("customFields.k", "v")],
            vec![("criteria", "to"), ("cond", "ne"), ("value", "010")],
            vec![("criteria", "text"), ("cond", "eq"), ("value", "x")],
            vec![("criteria", "to,type"), ("cond", "eq"), ("value", "010")],
        ] {
            assert!(ListQuery::parse(&pairs(&bad)).is_err(), "{bad:?}");
        }
    }
}
