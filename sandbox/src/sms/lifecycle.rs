//! What happens to an accepted message afterwards: it becomes `sent`, then `delivered` (or the
//! final status a fault asks for), and each transition is reported to `StatusCallback` as a
//! signed form POST, exactly like Twilio's status callbacks.

use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::message::{API_VERSION, Message};
use super::signature::twilio_signature;
use crate::Shared;
use crate::callbacks::{Callback, CallbackBody, Step};
use crate::faults::FaultAction;

/// Twilio reports an error code with these final statuses even when a fault names none.
const DEFAULT_FAILURE_CODE: u32 = 30008;

/// Schedules the message's status transitions and callbacks, shaped by `action`.
pub(super) fn schedule(
    shared: &Arc<Shared>,
    msg: &Message,
    accepted_at: Instant,
    action: &FaultAction,
) {
    let cfg = shared.sms_config();
    let sent_at = accepted_at + cfg.sent_delay;
    // A misconfigured delivered delay shorter than the sent delay still reports in order.
    let final_at = (accepted_at + cfg.delivered_delay).max(sent_at);
    let final_status = action.callback_status.as_deref().unwrap_or("delivered");
    let final_code = match final_status {
        "undelivered" | "failed" => {
            Some(action.callback_error_code.unwrap_or(DEFAULT_FAILURE_CODE))
        }
        _ => action.callback_error_code,
    };

    let mut transitions = vec![("sent".to_owned(), None)];
    if final_status != "sent" {
        transitions.push((final_status.to_owned(), final_code));
    }
    let mut callbacks: Vec<Vec<Callback>> = transitions
        .iter()
        .map(
            |(status, code)| match (&msg.draft.status_callback, action.drop_callbacks) {
                (Some(url), false) => {
                    let cb = status_callback(msg, url, status, *code);
                    if action.duplicate_callbacks {
                        vec![cb.clone(), cb]
                    } else {
                        vec![cb]
                    }
                }
                _ => Vec::new(),
            },
        )
        .collect();
    if action.reorder_callbacks {
        callbacks.reverse();
    }

    let times = [sent_at, final_at];
    let steps = transitions
        .into_iter()
        .zip(callbacks)
        .zip(times)
        .map(|(((status, code), callbacks), at)| Step {
            at,
            before: Some(advance_hook(
                Arc::downgrade(shared),
                msg.sid.clone(),
                status,
                code,
            )),
            callbacks,
        })
        .collect();
    shared.callbacks.schedule(steps);
}

/// Advances the stored message's status when its step comes due. Weak, so a pending timeline
/// does not keep a stopped sandbox alive.
fn advance_hook(
    shared: Weak<Shared>,
    sid: String,
    status: String,
    code: Option<u32>,
) -> crate::callbacks::StepHook {
    Box::new(move || {
        if let Some(shared) = shared.upgrade() {
            shared.sms.advance(&sid, &status, code, shared.clock.now());
        }
    })
}

fn status_callback(msg: &Message, url: &str, status: &str, code: Option<u32>) -> Callback {
    // Field order as Twilio sends it; the signature sorts anyway.
    let mut params: Vec<(String, String)> = vec![
        ("SmsSid".into(), msg.sid.clone()),
        ("SmsStatus".into(), status.to_owned()),
        ("MessageStatus".into(), status.to_owned()),
        ("To".into(), msg.draft.to.clone()),
    ];
    if let Some(service) = &msg.draft.messaging_service_sid {
        params.push(("MessagingServiceSid".into(), service.clone()));
    }
    params.extend([
        ("MessageSid".into(), msg.sid.clone()),
        ("AccountSid".into(), msg.account_sid.clone()),
        ("From".into(), msg.effective_from().to_owned()),
        ("ApiVersion".into(), API_VERSION.to_owned()),
    ]);
    if let Some(code) = code {
        params.push(("ErrorCode".into(), code.to_string()));
    }
    let signature = twilio_signature(crate::SANDBOX_AUTH_TOKEN, url, &params);
    Callback {
        channel: super::CHANNEL.name,
        message_id: msg.sid.clone(),
        event: status.to_owned(),
        url: url.to_owned(),
        headers: vec![
            ("X-Twilio-Signature".into(), signature),
            ("User-Agent".into(), "TwilioProxy/1.1".into()),
        ],
        retry_for: None,
        body: CallbackBody::Form(params),
    }
}
