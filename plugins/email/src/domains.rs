//! Sender domains through SendGrid's Domain Authentication API (`/v3/whitelabel/domains`):
//! create one with Automated Security (SendGrid answers three CNAME records: `mail_cname`,
//! `dkim1`, `dkim2`), read it, ask SendGrid to check its DNS now, delete it. The same
//! Bearer API key as mail send; it needs the key's whitelabel permissions.
//!
//! SendGrid's answers map onto the contract's `domain-error`: 404 is `not-found`, 400
//! `refused` (its error list quoted), anything else `failed`, classified as a send's error
//! is ([`crate::sendgrid::map_error`]).

use serde::Deserialize;
use serde_json::json;
use switchboard_plugin_sdk::prelude::*;

use crate::sendgrid;

/// One authenticated domain as SendGrid answers it. Only what the contract carries is read;
/// the rest (`user_id`, `ips`, `custom_spf`, `default`, `legacy`, ...) stays SendGrid's.
#[derive(Deserialize)]
struct Authenticated {
    id: u64,
    domain: String,
    #[serde(default)]
    valid: bool,
    /// Keyed by SendGrid's record name: `mail_cname`, `dkim1`, `dkim2` under Automated
    /// Security; `mail_server`, `subdomain_spf`, `dkim` without it.
    #[serde(default)]
    dns: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    valid: bool,
    #[serde(rename = "type")]
    kind: String,
    host: String,
    data: String,
}

/// `POST /v3/whitelabel/domains/{id}/validate`'s answer.
#[derive(Deserialize)]
struct Validation {
    #[serde(default)]
    valid: bool,
    #[serde(default)]
    validation_results: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RecordResult {
    #[serde(default)]
    valid: bool,
    reason: Option<String>,
}

fn base() -> String {
    config::get("base_url")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| sendgrid::DEFAULT_BASE_URL.into())
        .trim_end_matches('/')
        .to_string()
}

fn domain_url(provider_id: &str) -> String {
    format!(
        "{}/v3/whitelabel/domains/{}",
        base(),
        http::percent_encode(provider_id)
    )
}

pub fn create(domain: &str) -> Result<SenderDomain, DomainError> {
    // Automated Security: SendGrid keeps SPF and DKIM itself behind three CNAMEs, so the
    // business publishes records once and key rotation needs nothing more from it.
    let body = json!({ "domain": domain, "automatic_security": true });
    let req = Request::post(format!("{}/v3/whitelabel/domains", base()))
        .bearer("api_key")
        .json_body(body.to_string());
    let resp = call(req)?;
    parse_domain(&resp.body)
}

pub fn get(provider_id: &str) -> Result<SenderDomain, DomainError> {
    let resp = call(Request::get(domain_url(provider_id)).bearer("api_key"))?;
    parse_domain(&resp.body)
}

pub fn validate(provider_id: &str) -> Result<DomainCheck, DomainError> {
    let url = format!("{}/validate", domain_url(provider_id));
    let resp = call(Request::post(url).bearer("api_key"))?;
    let v: Validation = serde_json::from_slice(&resp.body).map_err(unreadable)?;
    let mut records = Vec::new();
    for (key, value) in v.validation_results {
        let r: RecordResult = serde_json::from_value(value).map_err(unreadable)?;
        records.push(RecordCheck {
            key,
            valid: r.valid,
            reason: r.reason.filter(|r| !r.is_empty()),
        });
    }
    Ok(DomainCheck {
        valid: v.valid,
        records,
    })
}

pub fn delete(provider_id: &str) -> Result<(), DomainError> {
    call(Request::new("DELETE", domain_url(provider_id)).bearer("api_key")).map(|_| ())
}

/// The request's answer when it is a success; SendGrid's refusal otherwise.
fn call(req: Request) -> Result<Response, DomainError> {
    let resp = http::send(req).map_err(|e| DomainError::Failed(SendError::from_http(e)))?;
    if resp.is_success() {
        return Ok(resp);
    }
    let err = sendgrid::map_error(&resp, clock::now_ms());
    Err(match resp.status {
        400 => DomainError::Refused(err.detail),
        404 => DomainError::NotFound(err.detail),
        _ => DomainError::Failed(err),
    })
}

fn parse_domain(body: &[u8]) -> Result<SenderDomain, DomainError> {
    let d: Authenticated = serde_json::from_slice(body).map_err(unreadable)?;
    let mut records = Vec::new();
    for (key, value) in d.dns {
        let r: Record = serde_json::from_value(value).map_err(unreadable)?;
        records.push(DnsRecord {
            key,
            kind: r.kind.to_ascii_lowercase(),
            host: r.host,
            value: r.data,
            valid: r.valid,
        });
    }
    Ok(SenderDomain {
        provider_id: d.id.to_string(),
        domain: d.domain,
        valid: d.valid,
        records,
    })
}

/// A 2xx whose body is not SendGrid's shape: the provider misbehaved, asking again may help.
fn unreadable(e: serde_json::Error) -> DomainError {
    DomainError::Failed(SendError::retryable(
        FailureReason::ProviderError,
        None,
        None,
        format!("SendGrid's answer could not be read: {e}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_plugin_sdk::testing::MockHost;

    fn resp(status: u16, body: &str) -> Response {
        Response::new(status, &[("content-type", "application/json")], body)
    }

    const CREATED: &str = r#"{"id":302183,"user_id":1446226,"subdomain":"em4821","domain":"example.com",
        "username":"sandbox","ips":[],"custom_spf":false,"default":false,"legacy":false,
        "automatic_security":true,"valid":false,"dns":{
        "mail_cname":{"valid":false,"type":"cname","host":"em4821.example.com","data":"u1446226.wl227.sendgrid.net"},
        "dkim1":{"valid":false,"type":"cname","host":"s1._domainkey.example.com","data":"s1.domainkey.u1446226.wl227.sendgrid.net"},
        "dkim2":{"valid":false,"type":"cname","host":"s2._domainkey.example.com","data":"s2.domainkey.u1446226.wl227.sendgrid.net"}}}"#;

    #[test]
    fn create_asks_for_automated_security_and_lists_the_records() {
        let host = MockHost::new()
            .secret("api_key", "SG.x")
            .on_http(|_| Ok(resp(201, CREATED)))
            .install();
        let d = create("example.com").unwrap();
        assert_eq!(
            (d.provider_id.as_str(), d.domain.as_str(), d.valid),
            ("302183", "example.com", false)
        );
        let mut keys: Vec<_> = d.records.iter().map(|r| r.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["dkim1", "dkim2", "mail_cname"]);
        let cname = d.records.iter().find(|r| r.key == "mail_cname").unwrap();
        assert_eq!(
            (
                cname.kind.as_str(),
                cname.host.as_str(),
                cname.value.as_str()
            ),
            ("cname", "em4821.example.com", "u1446226.wl227.sendgrid.net")
        );
        host.inspect(|h| {
            let r = &h.requests[0];
            assert_eq!(
                (r.method.as_str(), r.url.as_str()),
                ("POST", "https://api.sendgrid.com/v3/whitelabel/domains")
            );
            assert!(matches!(&r.auth, Some(http::Auth::Bearer(s)) if s == "api_key"));
            let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                b,
                json!({"domain": "example.com", "automatic_security": true})
            );
        });
    }

    #[test]
    fn validate_reports_each_record_with_sendgrid_s_reason() {
        let host = MockHost::new()
            .config("base_url", "https://sg.test/")
            .secret("api_key", "SG.x")
            .on_http(|_| {
                Ok(resp(
                    200,
                    r#"{"id":302183,"valid":false,"validation_results":{
                    "mail_cname":{"valid":false,"reason":"Expected CNAME for \"em4821.example.com\" to match \"u1446226.wl227.sendgrid.net\"."},
                    "dkim1":{"valid":true,"reason":null},"dkim2":{"valid":true,"reason":null}}}"#,
                ))
            })
            .install();
        let check = validate("302183").unwrap();
        assert!(!check.valid);
        let cname = check
            .records
            .iter()
            .find(|r| r.key == "mail_cname")
            .unwrap();
        assert!(!cname.valid);
        assert!(
            cname
                .reason
                .as_deref()
                .unwrap()
                .starts_with("Expected CNAME for")
        );
        let dkim = check.records.iter().find(|r| r.key == "dkim1").unwrap();
        assert!(dkim.valid && dkim.reason.is_none());
        host.inspect(|h| {
            assert_eq!(
                h.requests[0].url,
                "https://sg.test/v3/whitelabel/domains/302183/validate"
            );
            assert_eq!(h.requests[0].method, "POST");
        });
    }

    #[test]
    fn answers_map_onto_the_contract_s_errors() {
        let _host = MockHost::new()
            .secret("api_key", "SG.x")
            .on_http(|req| {
                Ok(match req.method.as_str() {
                    "DELETE" => resp(
                        404,
                        r#"{"errors":[{"field":null,"message":"resource not found"}]}"#,
                    ),
                    "GET" => resp(
                        401,
                        r#"{"errors":[{"field":null,"message":"authorization required"}]}"#,
                    ),
                    _ => resp(
                        400,
                        r#"{"errors":[{"field":"domain","message":"invalid domain"}]}"#,
                    ),
                })
            })
            .install();
        assert!(matches!(delete("7"), Err(DomainError::NotFound(m)) if m == "resource not found"));
        assert!(
            matches!(create("nope"), Err(DomainError::Refused(m)) if m == "domain: invalid domain")
        );
        assert!(matches!(
            get("7"),
            Err(DomainError::Failed(e)) if e.reason == FailureReason::TokenExpired && !e.retryable
        ));
    }

    #[test]
    fn an_unreadable_success_is_a_provider_failure() {
        let _host = MockHost::new()
            .secret("api_key", "SG.x")
            .on_http(|_| Ok(resp(200, "<html>")))
            .install();
        assert!(matches!(
            get("7"),
            Err(DomainError::Failed(e)) if e.reason == FailureReason::ProviderError && e.retryable
        ));
    }
}
