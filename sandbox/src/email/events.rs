//! What happens to an accepted email afterwards, reported through SendGrid's Event Webhook.
//!
//! Every recipient gets its own timeline, chosen by its address (see the magic addresses in
//! the [module docs](super)) or by a fault's `callback_status`, with times measured from
//! acceptance. Events carry the fields SendGrid documents for them and every custom arg of the
//! recipient's personalization at top level, which is how a gateway maps an event back to its
//! own message without a lookup table.
//!
//! SendGrid batches several events into one POST; the simulator sends a one-element array per
//! POST. Receivers must accept both anyway, and one event per request lets the shared
//! callback sender keep the order, drop, duplicate and reorder individual events, and record
//! each outcome.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::mail::Personalization;
use super::state::{EventDue, Message, random_id};
use crate::Shared;
use crate::callbacks::{Callback, CallbackBody, Step};
use crate::faults::FaultAction;

/// Outcomes a fault's `callback_status` can force, named like the magic addresses.
pub(super) const SCENARIOS: &[&str] = &[
    "delivered",
    "bounce",
    "blocked",
    "dropped",
    "spamreport",
    "deferred",
];

/// SendGrid keeps retrying an event POST the receiver did not take for 24 hours, so events
/// survive a gateway restart.
const SENDGRID_RETRIES_FOR: Duration = Duration::from_secs(24 * 3600);

/// The domain of the magic recipient addresses.
const MAGIC_DOMAIN: &str = "@sandbox.switchboard.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Delivered,
    Bounce,
    Blocked,
    Dropped,
    SpamReport,
    Deferred,
}

impl Scenario {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "delivered" => Self::Delivered,
            "bounce" => Self::Bounce,
            "blocked" => Self::Blocked,
            "dropped" => Self::Dropped,
            "spamreport" | "spam" => Self::SpamReport,
            "deferred" => Self::Deferred,
            _ => return None,
        })
    }

    /// Mail domains compare case-insensitively, and so do the magic local parts here.
    fn for_address(email: &str) -> Self {
        let email = email.to_ascii_lowercase();
        email
            .strip_suffix(MAGIC_DOMAIN)
            .and_then(Self::named)
            .unwrap_or(Self::Delivered)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Processed,
    Delivered,
    Open,
    Bounce,
    Blocked,
    Dropped,
    SpamReport,
    Deferred,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Delivered => "delivered",
            Self::Open => "open",
            Self::Bounce | Self::Blocked => "bounce",
            Self::Dropped => "dropped",
            Self::SpamReport => "spamreport",
            Self::Deferred => "deferred",
        }
    }

    /// The fields SendGrid adds for this kind of event.
    fn fields(self) -> Value {
        match self {
            Self::Processed | Self::SpamReport => json!({}),
            Self::Delivered => json!({"response": "250 OK"}),
            Self::Open => json!({
                "useragent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                "ip": "203.0.113.7",
            }),
            Self::Bounce => json!({
                "type": "bounce",
                "status": "5.1.1",
                "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            }),
            Self::Blocked => json!({
                "type": "blocked",
                "status": "5.7.1",
                "reason": "554 5.7.1 Service unavailable; Client host blocked using a DNS block list",
            }),
            Self::Dropped => json!({"reason": "Unsubscribed Address"}),
            Self::Deferred => json!({
                "response": "451 4.2.0 Temporary failure, please try again later",
                "attempt": "1",
            }),
        }
    }
}

/// Which delay each event of a scenario comes after. A deferred recipient is retried
/// successfully at the open delay (no open follows); a dropped one is dropped while processing.
fn timeline(scenario: Scenario, cfg: &crate::EmailSimConfig) -> Vec<(Duration, Kind)> {
    let (p, d, o) = (cfg.processed_delay, cfg.delivered_delay, cfg.open_delay);
    let events = match scenario {
        Scenario::Delivered => vec![(p, Kind::Processed), (d, Kind::Delivered), (o, Kind::Open)],
        Scenario::Bounce => vec![(p, Kind::Processed), (d, Kind::Bounce)],
        Scenario::Blocked => vec![(p, Kind::Processed), (d, Kind::Blocked)],
        Scenario::Dropped => vec![(p, Kind::Dropped)],
        Scenario::SpamReport => vec![
            (p, Kind::Processed),
            (d, Kind::Delivered),
            (o, Kind::SpamReport),
        ],
        Scenario::Deferred => vec![
            (p, Kind::Processed),
            (d, Kind::Deferred),
            (o, Kind::Delivered),
        ],
    };
    // Misconfigured delays (delivered before processed …) still report in order.
    let mut latest = Duration::ZERO;
    events
        .into_iter()
        .map(|(at, kind)| {
            latest = latest.max(at);
            (latest, kind)
        })
        .collect()
}

fn unix_secs_at(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One event as SendGrid serialises it, custom args first so that none can shadow a standard
/// field.
fn event_json(
    recipient: &str,
    p: &Personalization,
    kind: Kind,
    timestamp: u64,
    sg_event_id: &str,
    sg_message_id: &str,
) -> Value {
    let mut ev: Map<String, Value> = p
        .custom_args
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    ev.insert("email".into(), recipient.into());
    ev.insert("timestamp".into(), timestamp.into());
    ev.insert("event".into(), kind.name().into());
    ev.insert("sg_event_id".into(), sg_event_id.into());
    ev.insert("sg_message_id".into(), sg_message_id.into());
    if let Value::Object(extra) = kind.fields() {
        ev.extend(extra);
    }
    Value::Object(ev)
}

fn webhook_post(msg: &Message, url: &str, kind: Kind, event: &Value) -> Callback {
    Callback {
        channel: super::CHANNEL.name,
        message_id: msg.x_message_id.clone(),
        event: kind.name().to_owned(),
        url: url.to_owned(),
        headers: vec![("User-Agent".into(), "SendGrid Event API".into())],
        retry_for: Some(SENDGRID_RETRIES_FOR),
        body: CallbackBody::Raw {
            content_type: "application/json",
            bytes: Value::Array(vec![event.clone()]).to_string().into_bytes(),
            sign: Some(super::signature::sign_event_post),
        },
    }
}

/// Records the event on the stored message when it comes due. Weak, so a pending timeline
/// does not keep a stopped sandbox alive.
fn record_hook(
    shared: Weak<Shared>,
    x_message_id: String,
    due: EventDue,
) -> crate::callbacks::StepHook {
    Box::new(move || {
        if let Some(shared) = shared.upgrade() {
            shared.email.record_event(&x_message_id, due);
        }
    })
}

/// Schedules every recipient's events, shaped by `action`.
pub(super) fn schedule(
    shared: &Arc<Shared>,
    msg: &Message,
    accepted_at: Instant,
    action: &FaultAction,
) {
    let cfg = shared.email_config();
    let accepted_wall = SystemTime::now();
    let forced = action.callback_status.as_deref().and_then(Scenario::named);
    let mut steps: Vec<Step> = Vec::new();
    for (p, email, sg_message_id) in msg.recipients() {
        let scenario = forced.unwrap_or_else(|| Scenario::for_address(email));
        let mut planned: Vec<(Instant, EventDue, Vec<Callback>)> = timeline(scenario, &cfg)
            .into_iter()
            .map(|(delay, kind)| {
                let sg_event_id = random_id();
                let ts = unix_secs_at(accepted_wall + delay);
                let event = event_json(email, p, kind, ts, &sg_event_id, sg_message_id);
                let callbacks = match (&cfg.event_webhook_url, action.drop_callbacks) {
                    (Some(url), false) => {
                        let post = webhook_post(msg, url, kind, &event);
                        if action.duplicate_callbacks {
                            vec![post.clone(), post]
                        } else {
                            vec![post]
                        }
                    }
                    _ => Vec::new(),
                };
                let due = EventDue {
                    email: email.to_owned(),
                    event: kind.name().to_owned(),
                    sg_event_id,
                    sg_message_id: sg_message_id.to_owned(),
                    timestamp: ts,
                    bounce_type: match kind {
                        Kind::Bounce => Some("bounce"),
                        Kind::Blocked => Some("blocked"),
                        _ => None,
                    },
                };
                (accepted_at + delay, due, callbacks)
            })
            .collect();
        if action.reorder_callbacks {
            // The events keep their times; only what is posted at each time is reversed.
            let mut posts: Vec<Vec<Callback>> = planned
                .iter_mut()
                .map(|(_, _, c)| std::mem::take(c))
                .collect();
            posts.reverse();
            for ((_, _, c), p) in planned.iter_mut().zip(posts) {
                *c = p;
            }
        }
        steps.extend(planned.into_iter().map(|(at, due, callbacks)| Step {
            at,
            before: Some(record_hook(
                Arc::downgrade(shared),
                msg.x_message_id.clone(),
                due,
            )),
            callbacks,
        }));
    }
    // One timeline task for the whole message; stable, so a recipient's events stay in order.
    steps.sort_by_key(|s| s.at);
    shared.callbacks.schedule(steps);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_addresses_pick_scenarios() {
        assert_eq!(
            Scenario::for_address("bounce@sandbox.switchboard.test"),
            Scenario::Bounce
        );
        assert_eq!(
            Scenario::for_address("Blocked@Sandbox.Switchboard.Test"),
            Scenario::Blocked
        );
        assert_eq!(
            Scenario::for_address("spam@sandbox.switchboard.test"),
            Scenario::SpamReport
        );
        assert_eq!(
            Scenario::for_address("bounce@example.com"),
            Scenario::Delivered
        );
        assert_eq!(
            Scenario::for_address("ada@sandbox.switchboard.test"),
            Scenario::Delivered
        );
        for name in SCENARIOS {
            assert!(Scenario::named(name).is_some(), "{name}");
        }
    }

    #[test]
    fn timelines_stay_ordered() {
        let cfg = crate::EmailSimConfig {
            processed_delay: Duration::from_millis(50),
            delivered_delay: Duration::from_millis(10),
            open_delay: Duration::from_millis(30),
            event_webhook_url: None,
        };
        let t = timeline(Scenario::Deferred, &cfg);
        let kinds: Vec<_> = t.iter().map(|(_, k)| k.name()).collect();
        assert_eq!(kinds, ["processed", "deferred", "delivered"]);
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn custom_args_cannot_shadow_standard_fields() {
        let p = Personalization {
            to: Vec::new(),
            subject: None,
            custom_args: [
                ("event".to_owned(), "x".to_owned()),
                ("k".to_owned(), "v".to_owned()),
            ]
            .into(),
        };
        let ev = event_json("a@b.co", &p, Kind::Bounce, 7, "E", "M.filter0001.1.0");
        assert_eq!(ev["event"], "bounce");
        assert_eq!(ev["k"], "v");
        assert_eq!(
            (ev["type"].as_str(), ev["timestamp"].as_u64()),
            (Some("bounce"), Some(7))
        );
    }
}
