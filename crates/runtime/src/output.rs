//! What the host accepts back from a plugin.
//!
//! Two layers. Lifting a result copies it out of guest memory into host memory, and a guest
//! can make that copy far larger than its own memory (many list entries pointing at one
//! string), so wasmtime's hostcall fuel is set per store to
//! [`super::RuntimeLimits::max_output_bytes`]: a result above it fails the call before it is
//! copied ([`is_output_exhausted`]). Below it, the fields the gateway stores and shows are
//! held to the caps here: free text is truncated (it is only read by people), identifiers
//! are refused (a cut identifier would match the wrong message), lists are cut.

use super::CallError;
use super::bindings::wit;

/// Provider message ids are stored, indexed and matched against callbacks.
pub const MAX_PROVIDER_ID_BYTES: usize = 256;
pub const MAX_PROVIDER_CODE_BYTES: usize = 64;
/// Details, violation messages and webhook error texts.
pub const MAX_DETAIL_BYTES: usize = 1024;
pub const MAX_VIOLATIONS: usize = 64;
/// Events one callback may carry, and contacts one sync page may carry.
pub const MAX_EVENTS: usize = 1000;
pub const MAX_CONTACTS: usize = 1000;
/// DNS records of one sender domain (SendGrid asks for three or four).
pub const MAX_DOMAIN_RECORDS: usize = 16;
/// A record's key names it across answers (create, validate): an identifier.
pub const MAX_RECORD_KEY_BYTES: usize = 64;
/// An email address is at most 254 bytes (RFC 5321); a display name is read by people.
pub const MAX_SENDER_BYTES: usize = 320;

/// Whether a call failed because its result (or an argument of a host call) exceeded the
/// hostcall fuel. wasmtime's error type for it is private; its message is the stable part.
pub fn is_output_exhausted(err: &wasmtime::Error) -> bool {
    err.chain().any(|e| {
        e.to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
    })
}

/// Cut to at most `max` bytes on a character boundary, saying how much was dropped.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let total = text.len();
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… [truncated from {total} bytes]"));
}

fn too_large(plugin: &str, export: &'static str, detail: String) -> CallError {
    CallError::Output {
        plugin: plugin.into(),
        export,
        detail,
    }
}

pub fn violations(list: &mut Vec<wit::Violation>) {
    list.truncate(MAX_VIOLATIONS);
    for v in list {
        truncate(&mut v.code, MAX_PROVIDER_CODE_BYTES);
        truncate(&mut v.field, MAX_DETAIL_BYTES);
        truncate(&mut v.message, MAX_DETAIL_BYTES);
    }
}

pub fn send(plugin: &str, r: &mut Result<wit::Sent, wit::SendError>) -> Result<(), CallError> {
    match r {
        Ok(sent) => provider_id(plugin, "send", &sent.provider_message_id),
        Err(e) => {
            truncate(&mut e.detail, MAX_DETAIL_BYTES);
            if let Some(code) = &mut e.provider_code {
                truncate(code, MAX_PROVIDER_CODE_BYTES);
            }
            Ok(())
        }
    }
}

/// `find-sent`'s answer, held to the limits of `send`'s (it is one, found later).
pub fn find_sent(
    plugin: &str,
    r: &mut Option<Result<super::bindings::FindOutcome, wit::SendError>>,
) -> Result<(), CallError> {
    match r {
        Some(Ok(super::bindings::FindOutcome::Found(sent))) => {
            provider_id(plugin, "find-sent", &sent.provider_message_id)
        }
        Some(Err(e)) => {
            truncate(&mut e.detail, MAX_DETAIL_BYTES);
            if let Some(code) = &mut e.provider_code {
                truncate(code, MAX_PROVIDER_CODE_BYTES);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn provider_id(plugin: &str, export: &'static str, id: &str) -> Result<(), CallError> {
    if id.len() > MAX_PROVIDER_ID_BYTES {
        return Err(too_large(
            plugin,
            export,
            format!(
                "a provider message id of {} bytes (at most {MAX_PROVIDER_ID_BYTES})",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// A looked-up status is applied to the delivery it was asked for, whatever id the plugin
/// puts in it; only its texts need holding to the caps.
pub fn status_lookup(r: &mut Result<Option<wit::StatusUpdate>, wit::SendError>) {
    match r {
        Ok(Some(s)) => {
            truncate(&mut s.provider_status, MAX_PROVIDER_CODE_BYTES);
            if let Some(f) = &mut s.failure {
                truncate(&mut f.detail, MAX_DETAIL_BYTES);
                if let Some(code) = &mut f.provider_code {
                    truncate(code, MAX_PROVIDER_CODE_BYTES);
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            truncate(&mut e.detail, MAX_DETAIL_BYTES);
            if let Some(code) = &mut e.provider_code {
                truncate(code, MAX_PROVIDER_CODE_BYTES);
            }
        }
    }
}

pub fn webhook(
    plugin: &str,
    r: &mut Result<wit::WebhookOutcome, wit::WebhookError>,
) -> Result<(), CallError> {
    match r {
        Ok(outcome) => {
            if outcome.events.len() > MAX_EVENTS {
                return Err(too_large(
                    plugin,
                    "handle-webhook",
                    format!("{} events (at most {MAX_EVENTS})", outcome.events.len()),
                ));
            }
            for event in &outcome.events {
                match event {
                    wit::WebhookEvent::Status(s) => {
                        provider_id(plugin, "handle-webhook", &s.provider_message_id)?
                    }
                    wit::WebhookEvent::Echo(e) => {
                        provider_id(plugin, "handle-webhook", &e.provider_message_id)?;
                        // A marker names a delivery id: no longer than a provider id.
                        if let Some(marker) = &e.host_marker {
                            provider_id(plugin, "handle-webhook", marker)?;
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        Err(wit::WebhookError::Unauthorized(why) | wit::WebhookError::BadRequest(why)) => {
            truncate(why, MAX_DETAIL_BYTES);
            Ok(())
        }
    }
}

pub fn contact_page(
    plugin: &str,
    r: &mut Result<wit::ContactPage, wit::SendError>,
) -> Result<(), CallError> {
    match r {
        Ok(page) if page.contacts.len() > MAX_CONTACTS => Err(too_large(
            plugin,
            "sync-contacts",
            format!(
                "{} contacts in one page (at most {MAX_CONTACTS})",
                page.contacts.len()
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) => {
            truncate(&mut e.detail, MAX_DETAIL_BYTES);
            Ok(())
        }
    }
}

/// The default sender is compared with what messages name; past any real address's length
/// it matches nothing anyway.
pub fn sender(s: &mut wit::Sender) {
    truncate(&mut s.email, MAX_SENDER_BYTES);
    if let Some(name) = &mut s.name {
        truncate(name, MAX_SENDER_BYTES);
    }
}

/// A sender domain's provider id and record keys are matched later, so an oversized one is
/// refused; the records' texts are shown to people and cut.
pub fn sender_domain(
    plugin: &str,
    export: &'static str,
    r: &mut Result<wit::SenderDomain, wit::DomainError>,
) -> Result<(), CallError> {
    let d = match r {
        Ok(d) => d,
        Err(e) => {
            domain_error(e);
            return Ok(());
        }
    };
    provider_id(plugin, export, &d.provider_id)?;
    truncate(&mut d.domain, MAX_DETAIL_BYTES);
    d.records.truncate(MAX_DOMAIN_RECORDS);
    for record in &mut d.records {
        record_key(plugin, export, &record.key)?;
        truncate(&mut record.kind, MAX_PROVIDER_CODE_BYTES);
        truncate(&mut record.host, MAX_DETAIL_BYTES);
        truncate(&mut record.value, MAX_DETAIL_BYTES);
    }
    Ok(())
}

/// A check's results are matched to the stored records by key: a key past the cap matches
/// none, so it is dropped with the rest of an oversized list.
pub fn domain_check(r: &mut Result<wit::DomainCheck, wit::DomainError>) {
    match r {
        Ok(check) => {
            check
                .records
                .retain(|c| c.key.len() <= MAX_RECORD_KEY_BYTES);
            check.records.truncate(MAX_DOMAIN_RECORDS);
            for c in &mut check.records {
                if let Some(reason) = &mut c.reason {
                    truncate(reason, MAX_DETAIL_BYTES);
                }
            }
        }
        Err(e) => domain_error(e),
    }
}

pub fn domain_error(e: &mut wit::DomainError) {
    match e {
        wit::DomainError::Unsupported => {}
        wit::DomainError::Refused(why) | wit::DomainError::NotFound(why) => {
            truncate(why, MAX_DETAIL_BYTES)
        }
        wit::DomainError::Failed(f) => {
            truncate(&mut f.detail, MAX_DETAIL_BYTES);
            if let Some(code) = &mut f.provider_code {
                truncate(code, MAX_PROVIDER_CODE_BYTES);
            }
        }
    }
}

fn record_key(plugin: &str, export: &'static str, key: &str) -> Result<(), CallError> {
    if key.is_empty() || key.len() > MAX_RECORD_KEY_BYTES {
        return Err(too_large(
            plugin,
            export,
            format!(
                "a DNS record key of {} bytes (1 to {MAX_RECORD_KEY_BYTES})",
                key.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_characters_whole_and_says_so() {
        let mut s = "é".repeat(10);
        truncate(&mut s, 5);
        assert_eq!(s, "éé… [truncated from 20 bytes]");
        let mut short = "fine".to_string();
        truncate(&mut short, 5);
        assert_eq!(short, "fine");
    }
}
