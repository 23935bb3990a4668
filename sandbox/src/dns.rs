//! A simulated DNS: the records a business would publish at its DNS host, which the
//! simulators read instead of the real DNS when a provider checks a domain (SendGrid's Domain
//! Authentication validation). Tests publish and remove records through the control API, so
//! a domain's check passes or fails for the reason it would in production, with no real
//! names involved.
//!
//! | endpoint | effect |
//! |---|---|
//! | `PUT /_sandbox/dns/{name}` | `{"type": "CNAME"\|"TXT"\|"MX", "value": "..."}`: publish one record at `name`, replacing that name's record of the same type (a CNAME replaces everything at the name, as DNS allows nothing beside one) → 200 with the name's records |
//! | `GET /_sandbox/dns` | every published record: `[{"name", "type", "value"}]`, by name |
//! | `DELETE /_sandbox/dns/{name}` | remove every record at `name` (`?type=TXT`: that type only) → 204, 404 when there was none |
//!
//! Names and CNAME/MX targets compare as DNS compares them: case-insensitive, a trailing dot
//! ignored. TXT values compare exactly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Shared;

/// The record types the providers' checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    Cname,
    Txt,
    Mx,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Cname => "CNAME",
            RecordType::Txt => "TXT",
            RecordType::Mx => "MX",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "CNAME" => Some(RecordType::Cname),
            "TXT" => Some(RecordType::Txt),
            "MX" => Some(RecordType::Mx),
            _ => None,
        }
    }
}

/// A published record as the control API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RecordType,
    pub value: String,
}

/// The zone: lower-case names without the trailing dot, each with at most one record per type.
#[derive(Default)]
pub struct Dns {
    names: Mutex<BTreeMap<String, BTreeMap<RecordType, String>>>,
}

/// A name as DNS compares it.
pub fn canonical(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Dns {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<RecordType, String>>> {
        self.names.lock().expect("dns poisoned")
    }

    pub fn publish(&self, name: &str, kind: RecordType, value: &str) {
        let mut names = self.lock();
        let at = names.entry(canonical(name)).or_default();
        if kind == RecordType::Cname {
            at.clear();
        } else {
            at.remove(&RecordType::Cname);
        }
        at.insert(kind, value.trim().to_string());
    }

    /// Remove every record at `name`, or only the one of `kind`; whether there was any.
    pub fn remove(&self, name: &str, kind: Option<RecordType>) -> bool {
        let mut names = self.lock();
        let name = canonical(name);
        let Some(at) = names.get_mut(&name) else {
            return false;
        };
        let removed = match kind {
            Some(k) => at.remove(&k).is_some(),
            None => !at.is_empty(),
        };
        if kind.is_none() || at.is_empty() {
            names.remove(&name);
        }
        removed
    }

    /// The value of `name`'s record of `kind`, as published.
    pub fn lookup(&self, name: &str, kind: RecordType) -> Option<String> {
        self.lock()
            .get(&canonical(name))
            .and_then(|at| at.get(&kind).cloned())
    }

    pub fn records(&self) -> Vec<Record> {
        self.lock()
            .iter()
            .flat_map(|(name, at)| {
                at.iter().map(|(kind, value)| Record {
                    name: name.clone(),
                    kind: *kind,
                    value: value.clone(),
                })
            })
            .collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/dns", get(list))
        .route("/_sandbox/dns/{name}", put(publish).delete(remove))
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.dns.records()).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishDto {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// A name the zone can hold: dot-separated labels of letters, digits, `-` and `_` (DKIM
/// selectors live under `_domainkey`), each 1-63 bytes, 253 at most in all.
fn valid_name(name: &str) -> bool {
    let name = canonical(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

async fn publish(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_name(&name) {
        return bad_request(format!("{name:?} is not a DNS name"));
    }
    let dto: PublishDto = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return bad_request(format!("expected {{\"type\", \"value\"}}: {e}")),
    };
    let Some(kind) = RecordType::parse(&dto.kind) else {
        return bad_request(format!("type {:?} is not one of CNAME, TXT, MX", dto.kind));
    };
    if dto.value.trim().is_empty() {
        return bad_request("value must not be empty");
    }
    shared.dns.publish(&name, kind, &dto.value);
    let name = canonical(&name);
    let here: Vec<Record> = shared
        .dns
        .records()
        .into_iter()
        .filter(|r| r.name == name)
        .collect();
    Json(here).into_response()
}

#[derive(Deserialize)]
struct RemoveQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Response {
    let kind = match q.kind.as_deref().map(|k| (k, RecordType::parse(k))) {
        None => None,
        Some((_, Some(k))) => Some(k),
        Some((k, None)) => {
            return bad_request(format!("type {k:?} is not one of CNAME, TXT, MX"));
        }
    };
    if shared.dns.remove(&name, kind) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no such record at {}", canonical(&name)) })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_dns_does_and_a_cname_stands_alone() {
        let dns = Dns::default();
        dns.publish("Em1.Example.COM.", RecordType::Txt, "v=spf1 -all");
        dns.publish("em1.example.com", RecordType::Cname, "u1.wl1.sendgrid.net.");
        assert_eq!(dns.lookup("em1.example.com", RecordType::Txt), None);
        assert_eq!(
            dns.lookup("EM1.example.com.", RecordType::Cname).as_deref(),
            Some("u1.wl1.sendgrid.net.")
        );
        dns.publish("em1.example.com", RecordType::Txt, "x");
        assert_eq!(dns.lookup("em1.example.com", RecordType::Cname), None);
        assert!(dns.remove("em1.example.com", Some(RecordType::Txt)));
        assert!(!dns.remove("em1.example.com", None));
        assert!(dns.records().is_empty());
    }

    #[test]
    fn only_dns_names_are_held() {
        assert!(valid_name("s1._domainkey.example.com"));
        assert!(valid_name("example.com."));
        for bad in ["", ".", "a..b", "a b.com", "x/y", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
