//! SendGrid's Domain Authentication API (`/v3/whitelabel/domains`), answered from the
//! simulated DNS ([`crate::dns`]) rather than the real one.
//!
//! | endpoint | answer |
//! |---|---|
//! | `POST /v3/whitelabel/domains` | 201, the authenticated domain with the DNS records to publish |
//! | `GET /v3/whitelabel/domains` | 200, every one (`domain`, `limit`, `offset` filter and page) |
//! | `GET /v3/whitelabel/domains/{id}` | 200, one |
//! | `POST /v3/whitelabel/domains/{id}/validate` | 200, `{id, valid, validation_results}` |
//! | `DELETE /v3/whitelabel/domains/{id}` | 204 |
//!
//! The same Bearer API key as mail send; errors in SendGrid's envelope (401 for the key, 404
//! `resource not found` for an unknown id, 400 naming the field for a bad body).
//!
//! With Automated Security (`automatic_security`, taken as on when the body leaves it out,
//! as SendGrid's own console does) the records are SendGrid's three CNAMEs: `mail_cname`
//! (`em1234.<domain>` → `u<user>.wl<n>.sendgrid.net`), `dkim1` and `dkim2`
//! (`s1._domainkey.<domain>` → `s1.domainkey.u<user>.wl<n>.sendgrid.net`). Without it: an MX
//! (`mail_server`), the subdomain's SPF TXT (`subdomain_spf`) and a DKIM TXT (`dkim`). A
//! subdomain left out is made up as SendGrid makes it (`em` and four digits).
//!
//! Validation looks every record up in the simulated DNS: a record missing, of another type
//! or holding another value is invalid, with SendGrid's reason (`Expected CNAME for "host" to
//! match "data".`), and the domain is valid only when all are. The result is kept: the
//! domain's `valid` (and each record's) is the last validation's, and mail send accepts a
//! `from` on the domain only while it is valid ([`EmailDomains::covers`]).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::authorized;
use super::errors::{FieldError, SendGridError};
use crate::Shared;
use crate::dns::{Dns, RecordType, canonical};

/// The user id of the sandbox's SendGrid account, as SendGrid shows it in `user_id` and in
/// the records' targets (`u<user_id>.wl<n>.sendgrid.net`).
pub const SANDBOX_SENDGRID_USER_ID: u64 = 38_129_445;
/// The sandbox account's username.
pub const SANDBOX_SENDGRID_USERNAME: &str = "switchboard-sandbox";
/// SendGrid's public DKIM key of the sandbox account, for domains set up without Automated
/// Security (a TXT record the business publishes verbatim).
const MANUAL_DKIM: &str =
    "k=rsa; t=s; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDSwitchboardSandboxDkimKeyAAAAIDAQAB";

#[derive(Debug, Clone, Serialize)]
struct DnsEntry {
    valid: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    host: String,
    data: String,
}

#[derive(Debug, Clone)]
struct Authenticated {
    id: u64,
    domain: String,
    subdomain: String,
    custom_spf: bool,
    default: bool,
    automatic_security: bool,
    valid: bool,
    /// In SendGrid's order, keyed by its record names.
    records: Vec<(&'static str, DnsEntry)>,
}

impl Authenticated {
    fn view(&self) -> Value {
        let dns: Map<String, Value> = self
            .records
            .iter()
            .map(|(k, r)| (k.to_string(), json!(r)))
            .collect();
        json!({
            "id": self.id,
            "user_id": SANDBOX_SENDGRID_USER_ID,
            "subdomain": self.subdomain,
            "domain": self.domain,
            "username": SANDBOX_SENDGRID_USERNAME,
            "ips": [],
            "custom_spf": self.custom_spf,
            "default": self.default,
            "legacy": false,
            "automatic_security": self.automatic_security,
            "valid": self.valid,
            "dns": dns,
        })
    }
}

/// The account's authenticated domains.
#[derive(Default)]
pub struct EmailDomains {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    domains: Vec<Authenticated>,
}

impl EmailDomains {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("email domains poisoned")
    }

    /// Whether an authenticated domain that passed its last validation covers `email`'s
    /// domain: what makes a `from` a verified Sender Identity besides a verified single sender.
    pub fn covers(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        let domain = canonical(domain);
        self.lock()
            .domains
            .iter()
            .any(|d| d.valid && d.domain == domain)
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v3/whitelabel/domains", post(create).get(list))
        .route("/v3/whitelabel/domains/{id}", get(read).delete(remove))
        .route("/v3/whitelabel/domains/{id}/validate", post(validate))
}

/// A domain SendGrid takes: dot-separated labels of letters, digits and `-`, not starting or
/// ending with `-`, at least two labels, 253 bytes at most.
fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn opt_bool(
    obj: &Map<String, Value>,
    field: &str,
    default: bool,
    errors: &mut Vec<FieldError>,
) -> bool {
    match obj.get(field) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new(Some(field.into()), "must be a boolean"));
            default
        }
    }
}

fn records(domain: &str, subdomain: &str, automatic: bool) -> Vec<(&'static str, DnsEntry)> {
    let wl = rand::random_range(100..1000u32);
    let target = format!("u{SANDBOX_SENDGRID_USER_ID}.wl{wl}.sendgrid.net");
    let entry = |kind, host: String, data: String| DnsEntry {
        valid: false,
        kind,
        host,
        data,
    };
    if automatic {
        vec![
            (
                "mail_cname",
                entry("cname", format!("{subdomain}.{domain}"), target.clone()),
            ),
            (
                "dkim1",
                entry(
                    "cname",
                    format!("s1._domainkey.{domain}"),
                    format!("s1.domainkey.{target}"),
                ),
            ),
            (
                "dkim2",
                entry(
                    "cname",
                    format!("s2._domainkey.{domain}"),
                    format!("s2.domainkey.{target}"),
                ),
            ),
        ]
    } else {
        vec![
            (
                "mail_server",
                entry(
                    "mx",
                    format!("{subdomain}.{domain}"),
                    "mx.sendgrid.net".into(),
                ),
            ),
            (
                "subdomain_spf",
                entry(
                    "txt",
                    format!("{subdomain}.{domain}"),
                    "v=spf1 include:sendgrid.net ~all".into(),
                ),
            ),
            (
                "dkim",
                entry("txt", format!("s1._domainkey.{domain}"), MANUAL_DKIM.into()),
            ),
        ]
    }
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let Some(Value::Object(obj)) = serde_json::from_slice::<Value>(&body).ok() else {
        return SendGridError::malformed().into_response();
    };
    let mut errors = Vec::new();
    let domain = match obj.get("domain") {
        Some(Value::String(d)) if valid_domain(&canonical(d)) => Some(canonical(d)),
        Some(Value::String(d)) if d.trim().is_empty() => {
            errors.push(FieldError::new(Some("domain".into()), "domain is required"));
            None
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::new(Some("domain".into()), "domain is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(Some("domain".into()), "invalid domain"));
            None
        }
    };
    let subdomain = match obj.get("subdomain") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if valid_domain(&format!("{s}.x")) => Some(s.to_ascii_lowercase()),
        Some(_) => {
            errors.push(FieldError::new(
                Some("subdomain".into()),
                "invalid subdomain",
            ));
            None
        }
    };
    let automatic_security = opt_bool(&obj, "automatic_security", true, &mut errors);
    let custom_spf = opt_bool(&obj, "custom_spf", false, &mut errors);
    let default = opt_bool(&obj, "default", false, &mut errors);
    let (Some(domain), true) = (domain, errors.is_empty()) else {
        return SendGridError::validation(errors).into_response();
    };
    let subdomain =
        subdomain.unwrap_or_else(|| format!("em{}", rand::random_range(1000..10_000u32)));
    let mut inner = shared.email.domains.lock();
    inner.next_id += 1;
    let d = Authenticated {
        id: 30_218_000 + inner.next_id,
        records: records(&domain, &subdomain, automatic_security),
        domain,
        subdomain,
        custom_spf,
        default,
        automatic_security,
        valid: false,
    };
    let view = d.view();
    inner.domains.push(d);
    (StatusCode::CREATED, Json(view)).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    domain: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if !authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let wanted = q.domain.as_deref().map(canonical);
    let views: Vec<Value> = shared
        .email
        .domains
        .lock()
        .domains
        .iter()
        .filter(|d| wanted.as_ref().is_none_or(|w| d.domain == *w))
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(usize::MAX))
        .map(Authenticated::view)
        .collect();
    Json(views).into_response()
}

/// The index of the domain with this id; SendGrid answers 404 for an id it does not know,
/// numeric or not.
fn find(inner: &Inner, id: &str) -> Option<usize> {
    let id: u64 = id.parse().ok()?;
    inner.domains.iter().position(|d| d.id == id)
}

async fn read(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let inner = shared.email.domains.lock();
    match find(&inner, &id) {
        Some(i) => Json(inner.domains[i].view()).into_response(),
        None => SendGridError::not_found().into_response(),
    }
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let mut inner = shared.email.domains.lock();
    match find(&inner, &id) {
        Some(i) => {
            inner.domains.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        None => SendGridError::not_found().into_response(),
    }
}

/// One record's check against the simulated DNS: `None` when it is as it must be, else
/// SendGrid's reason.
fn check(dns: &Dns, record: &DnsEntry) -> Option<String> {
    let (kind, label) = match record.kind {
        "cname" => (RecordType::Cname, "CNAME"),
        "mx" => (RecordType::Mx, "MX"),
        _ => (RecordType::Txt, "TXT"),
    };
    let found = dns.lookup(&record.host, kind);
    let matches = match (&found, kind) {
        (Some(v), RecordType::Txt) => v == &record.data,
        (Some(v), _) => canonical(v) == canonical(&record.data),
        (None, _) => false,
    };
    if matches {
        return None;
    }
    Some(match (kind, found) {
        (RecordType::Mx, Some(v)) => format!(
            "Expected your MX record to be \"{}\" but found \"{}\".",
            record.data,
            canonical(&v)
        ),
        _ => format!(
            "Expected {label} for \"{}\" to match \"{}\".",
            record.host, record.data
        ),
    })
}

async fn validate(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return SendGridError::unauthorized().into_response();
    }
    let mut inner = shared.email.domains.lock();
    let Some(i) = find(&inner, &id) else {
        return SendGridError::not_found().into_response();
    };
    let d = &mut inner.domains[i];
    let mut results = Map::new();
    for (key, record) in &mut d.records {
        let reason = check(&shared.dns, record);
        record.valid = reason.is_none();
        results.insert(
            key.to_string(),
            json!({ "valid": record.valid, "reason": reason }),
        );
    }
    d.valid = d.records.iter().all(|(_, r)| r.valid);
    Json(json!({ "id": d.id, "valid": d.valid, "validation_results": results })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_held_to_sendgrid_s_shape() {
        assert!(valid_domain("example.com"));
        assert!(valid_domain("mail.example.co.uk"));
        for bad in ["example", "-a.com", "a..com", "a_b.com", "a b.com", "é.com"] {
            assert!(!valid_domain(bad), "{bad}");
        }
    }

    #[test]
    fn a_record_is_checked_against_the_published_one() {
        let dns = Dns::default();
        let cname = DnsEntry {
            valid: false,
            kind: "cname",
            host: "em1234.example.com".into(),
            data: "u1.wl2.sendgrid.net".into(),
        };
        assert_eq!(
            check(&dns, &cname).as_deref(),
            Some("Expected CNAME for \"em1234.example.com\" to match \"u1.wl2.sendgrid.net\".")
        );
        dns.publish(
            "em1234.example.com",
            RecordType::Cname,
            "u9.wl2.sendgrid.net",
        );
        assert!(check(&dns, &cname).is_some(), "another target");
        dns.publish(
            "EM1234.example.com.",
            RecordType::Cname,
            "U1.wl2.sendgrid.net.",
        );
        assert_eq!(check(&dns, &cname), None);
        let mx = DnsEntry {
            valid: false,
            kind: "mx",
            host: "em1.example.com".into(),
            data: "mx.sendgrid.net".into(),
        };
        dns.publish("em1.example.com", RecordType::Mx, "example.com");
        assert_eq!(
            check(&dns, &mx).as_deref(),
            Some("Expected your MX record to be \"mx.sendgrid.net\" but found \"example.com\".")
        );
    }
}
