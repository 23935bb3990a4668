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
