//! The fault cases, each written once for every channel: the per-channel files only say
//! which cases their simulator supports. Every case starts its own gateway so simulator
//! counters belong to it alone.

use std::time::Duration;

use serde_json::json;

use super::history::{
    applied, assert_events_once, attempts, delivery, gap_after, outcomes, provider_entries, reach,
    settle, timeline,
};
use super::target::{Accepted, Channel, Target};
use crate::support::Gateway;

/// A send deadline well above a clean round trip on a loaded 2-core machine, and far below
/// the simulator's 60 s hold, so the timeout case runs in seconds.
const SEND_DEADLINE_MS: &str = "2000";

fn start(case: &str, t: &Target, extra: &[&str]) -> Gateway {
    Gateway::start(&format!("fault-{case}-{:?}", t.channel), extra)
}

/// Waits for `status` with nothing more due and no failure pending: a processed send's
/// callbacks (push receipts especially) can bring the status there while the lost answer is
/// still being settled.
async fn reach_settled(gw: &Gateway, id: &str, status: &str) -> serde_json::Value {
    settle(gw, id, Duration::from_secs(30), |m| {
        m["status"] == status
            && delivery(m)["next_attempt_at"].is_null()
            && delivery(m)["failure"].is_null()
            && !attempts(m).is_empty()
    })
    .await
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The timeline line of the reconciliation (not an applied status), by its words.
fn reconciliation_note(msg: &serde_json::Value) -> String {
    timeline(msg)
        .iter()
        .filter(|e| {
            e["source"] == "reconciliation"
                || (e["applied"] == false && e["source"] == "dispatcher")
        })
        .filter_map(|e| e["detail"].as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A send whose answer was lost (`reason`), as the delivery's attempts and timeline show it,
/// and what the provider must have created for it. The attempt is `unknown`; then the provider
/// had it (found: no second attempt), or did not (not found: one more attempt), or a report
/// (a push receipt) had already shown it arrived (nothing sent again), or it could not be
/// asked (sent again, and the timeline says it may arrive twice).
fn assert_lost_answer_settled(
    t: &Target,
    msg: &serde_json::Value,
    reason: &str,
    processed: bool,
) -> Accepted {
    let note = reconciliation_note(msg);
    assert!(note.contains("the answer was lost"), "{note}: {msg:#}");
    let once = Accepted {
        unique: 1,
        duplicates: 0,
    };
    match (t.reconciles, processed) {
        (true, true) => {
            assert_eq!(outcomes(msg), pairs(&[("unknown", reason)]), "{msg:#}");
            assert!(note.contains("the provider has the message as"), "{note}");
            once
        }
        (true, false) => {
            assert_eq!(
                outcomes(msg),
                pairs(&[("unknown", reason), ("accepted", "")]),
                "{msg:#}"
            );
            assert!(
                note.contains("the provider does not have the message"),
                "{note}"
            );
            once
        }
        (false, _) if note.contains("a report already showed the message arrived") => {
            assert!(processed, "only a processed send has receipts: {msg:#}");
            assert_eq!(outcomes(msg), pairs(&[("unknown", reason)]), "{msg:#}");
            once
        }
        (false, _) => {
            assert_eq!(
                outcomes(msg),
                pairs(&[("unknown", reason), ("accepted", "")]),
                "{msg:#}"
            );
            assert!(
                note.contains("cannot be asked") && note.contains("it may arrive twice"),
                "{note}"
            );
            Accepted {
                unique: if processed { 2 } else { 1 },
                duplicates: 0,
            }
        }
    }
}

/// Two 503s: retried with backoff, then delivered by the third attempt; the provider created
/// one message.
pub async fn server_errors(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start("5xx", &t, &[]);
    t.prepare(&gw).await;
    t.fault(&gw, Some(2), json!({"status": 503})).await;
    let id = t.send(&gw).await;
    let msg = reach(&gw, &id, t.ends).await;
    assert_eq!(
        outcomes(&msg),
        pairs(&[
            ("retry_scheduled", "provider_transient"),
            ("retry_scheduled", "provider_transient"),
            ("accepted", ""),
        ]),
        "{msg:#}"
    );
    // Backoff: each retry waited for the failed attempt to end (the policy's jittered delay
    // itself is covered by the retry unit tests).
    gap_after(&msg, 0);
    gap_after(&msg, 1);
    assert_eq!(
        t.accepted(&gw).await,
        Accepted {
            unique: 1,
            duplicates: 0
        }
    );
    assert_events_once(&gw, &msg).await;
}

/// The connection drops after the request went out, before any answer. Without `accept` the
/// provider never saw it; with it the provider processed the send and only the answer was
/// lost. Either way the gateway cannot tell: it asks the provider where it can, and sends
/// again only when the provider does not have it (or, unasked, by the workspace's setting).
pub async fn connection_reset(channel: Channel, processed: bool) {
    let t = Target::new(channel, 1);
    let gw = start(if processed { "reset-accept" } else { "reset" }, &t, &[]);
    t.prepare(&gw).await;
    let base = t.callbacks(&gw).await;
    t.fault(&gw, Some(1), json!({"reset": true, "accept": processed}))
        .await;
    let id = t.send(&gw).await;
    let msg = reach_settled(&gw, &id, t.ends).await;
    let expected = assert_lost_answer_settled(&t, &msg, "provider_transient", processed);
    assert_eq!(t.accepted(&gw).await, expected);
    // A provider without deduplication reports on both copies; the second set of reports
    // must change nothing.
    let sends = expected.unique;
    t.wait_callbacks(&gw, base, t.callbacks * sends).await;
    let msg = settle(&gw, &id, Duration::from_secs(5), |_| true).await;
    assert_eq!(msg["status"], t.ends, "{msg:#}");
    assert_events_once(&gw, &msg).await;
}

/// The provider holds the request past the gateway's send deadline (it processed it: the
/// worst case). The attempt is `unknown` (`timeout`); the provider is asked, and has it, so
/// nothing is sent again; a provider that cannot be asked gets it again, and the timeline
/// says it may arrive twice.
pub async fn timeout(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start("timeout", &t, &["--send-deadline-ms", SEND_DEADLINE_MS]);
    t.prepare(&gw).await;
    t.fault(&gw, Some(1), json!({"timeout": true, "accept": true}))
        .await;
    let id = t.send(&gw).await;
    let msg = reach_settled(&gw, &id, t.ends).await;
    let expected = assert_lost_answer_settled(&t, &msg, "timeout", true);
    assert_eq!(
        attempts(&msg)[0]["detail"],
        "provider did not answer in time"
    );
    assert_eq!(t.accepted(&gw).await, expected);
    if t.channel == Channel::Messenger {
        // Nothing reports a Messenger send to the gateway before its id is known, and Graph
        // cannot be asked: at least once means twice here.
        assert_eq!(expected.unique, 2);
    }
    assert_events_once(&gw, &msg).await;
}

/// At most once, where the provider cannot be asked: with `ambiguous_sends: fail` a send whose
/// answer was lost is not sent again. The delivery fails `outcome_unknown`, a person may
/// resend it, and the provider got it once (it processed the request) or not at all.
pub async fn at_most_once(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start(
        "at-most-once",
        &t,
        &["--send-deadline-ms", SEND_DEADLINE_MS],
    );
    let (code, ws) = gw
        .patch_json("/v1/workspace", &json!({"ambiguous_sends": "fail"}))
        .await;
    assert!(code.is_success(), "{ws}");
    assert_eq!(ws["ambiguous_sends"], "fail");
    t.prepare(&gw).await;
    t.fault(&gw, Some(1), json!({"timeout": true, "accept": true}))
        .await;
    let id = t.send(&gw).await;
    let msg = settle(&gw, &id, Duration::from_secs(30), |m| {
        delivery(m)["next_attempt_at"].is_null() && !attempts(m).is_empty()
    })
    .await;
    assert_eq!(outcomes(&msg), pairs(&[("unknown", "timeout")]), "{msg:#}");
    assert!(t.accepted(&gw).await.unique <= 1);
    if matches!(channel, Channel::Fcm | Channel::Apns) {
        // The device's receipts came while the send's answer was held: they settle it.
        assert_eq!(msg["status"], t.ends, "{msg:#}");
        assert!(
            reconciliation_note(&msg).contains("a report already showed the message arrived"),
            "{msg:#}"
        );
        return;
    }
    let failure = &delivery(&msg)["failure"];
    assert_eq!(failure["reason"], "outcome_unknown", "{msg:#}");
    assert_eq!(failure["exhausted"], false);
    assert_eq!(failure["resend"]["allowed"], true, "a person may resend it");
    assert!(
        reconciliation_note(&msg).contains("ambiguous_sends: fail"),
        "{msg:#}"
    );
}

/// 429 with Retry-After (SendGrid: X-RateLimit-Reset): the next attempt does not start before
/// the provider allowed. `wait_ms` is what the plugin derives from a 2 s hint.
pub async fn rate_limited(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start("429", &t, &[]);
    t.prepare(&gw).await;
    t.fault(&gw, Some(1), json!({"status": 429, "retry_after_s": 2}))
        .await;
    let id = t.send(&gw).await;
    if channel == Channel::Fcm {
        // FCM asks for at least 60 s after QUOTA_EXCEEDED whatever Retry-After says; move
        // the gateway's (and simulators') clock past it instead of waiting.
        let first = settle(&gw, &id, Duration::from_secs(20), |m| {
            !attempts(m).is_empty()
        })
        .await;
        assert_eq!(attempts(&first)[0]["retry_after_ms"], 60_000, "{first:#}");
        gw.set_clock(61_000).await;
    }
    let msg = reach(&gw, &id, t.ends).await;
    assert_eq!(
        outcomes(&msg),
        pairs(&[("retry_scheduled", "rate_limited"), ("accepted", "")]),
        "{msg:#}"
    );
    let wait = attempts(&msg)[0]["retry_after_ms"].as_u64().unwrap();
    match channel {
        Channel::Fcm => assert_eq!(wait, 60_000),
        // An epoch second two seconds ahead: between one and two seconds from now.
        Channel::Email => assert!((1000..=2000).contains(&wait), "{wait}"),
        _ => assert_eq!(wait, 2000),
    }
    let gap = gap_after(&msg, 0);
    assert!(
        gap >= Duration::from_millis(wait),
        "retried after {gap:?}, asked to wait {wait} ms: {msg:#}"
    );
    assert_eq!(
        t.accepted(&gw).await,
        Accepted {
            unique: 1,
            duplicates: 0
        }
    );
    assert_events_once(&gw, &msg).await;
}

/// A slow answer inside the deadline is just an answer: one attempt.
pub async fn slow(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start("slow", &t, &[]);
    t.prepare(&gw).await;
    t.fault(&gw, Some(1), json!({"latency_ms": 300})).await;
    let id = t.send(&gw).await;
    let msg = reach(&gw, &id, t.ends).await;
    assert_eq!(outcomes(&msg), pairs(&[("accepted", "")]), "{msg:#}");
    // The answer cannot have come before the injected latency: proof the fault applied.
    assert!(attempts(&msg)[0]["duration_ms"].as_i64().unwrap() >= 300);
    assert_eq!(
        t.accepted(&gw).await,
        Accepted {
            unique: 1,
            duplicates: 0
        }
    );
    assert_events_once(&gw, &msg).await;
}

/// Callbacks lost: the gateway has no status polling, so the message stays `sent` (never
/// falsely delivered) while the provider moved on. A second message, sent later to another
/// recipient, reaching its end proves the lost callbacks' time has passed.
pub async fn dropped_callbacks(channel: Channel) {
    let t = Target::new(channel, 1);
    let control = Target::new(channel, 2);
    let gw = start("dropped", &t, &[]);
    t.prepare(&gw).await;
    control.prepare(&gw).await;
    let base = t.callbacks(&gw).await;
    t.fault(&gw, None, json!({"drop_callbacks": true})).await;
    let id = t.send(&gw).await;
    reach(&gw, &id, "sent").await;
    let other = control.send(&gw).await;
    reach(&gw, &other, control.ends).await;
    control.wait_callbacks(&gw, base, control.callbacks).await;
    let msg = settle(&gw, &id, Duration::from_secs(5), |_| true).await;
    assert_eq!(msg["status"], "sent", "{msg:#}");
    assert_eq!(outcomes(&msg), pairs(&[("accepted", "")]), "{msg:#}");
    assert_eq!(provider_entries(&msg), 0, "{msg:#}");
    assert_events_once(&gw, &msg).await;
}

/// Every callback posted twice: each status applied once, the repeats recorded as ignored,
/// and the business told once per status.
pub async fn duplicated_callbacks(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start("dup", &t, &[]);
    t.prepare(&gw).await;
    let base = t.callbacks(&gw).await;
    t.fault(&gw, None, json!({"duplicate_callbacks": true}))
        .await;
    let id = t.send(&gw).await;
    reach(&gw, &id, t.ends).await;
    t.wait_callbacks(&gw, base, 2 * t.callbacks).await;
    let msg = settle(&gw, &id, Duration::from_secs(5), |_| true).await;
    assert_eq!(msg["status"], t.ends, "{msg:#}");
    assert_eq!(outcomes(&msg), pairs(&[("accepted", "")]), "{msg:#}");
    let ignored = timeline(&msg)
        .iter()
        .filter(|e| e["source"] == "provider" && e["applied"] == false)
        .count();
    // A repeated Messenger watermark covers no pending message and leaves no entry.
    if channel != Channel::Messenger {
        assert!(ignored > 0, "no repeat was recorded as ignored: {msg:#}");
    }
    assert_events_once(&gw, &msg).await;
}

/// Callbacks posted in reverse: the last status arrives first (delivered before sent; for
/// channels that report reading, seen before delivered). The message ends at the last status
/// and the earlier ones, arriving late, do not move it back.
pub async fn reordered_callbacks(channel: Channel) {
    let t = Target::new(channel, 1);
    let gw = start("reorder", &t, &[]);
    t.prepare(&gw).await;
    let base = t.callbacks(&gw).await;
    t.fault(&gw, None, json!({"reorder_callbacks": true})).await;
    let id = t.send(&gw).await;
    reach(&gw, &id, t.ends).await;
    t.wait_callbacks(&gw, base, t.callbacks).await;
    let msg = settle(&gw, &id, Duration::from_secs(5), |_| true).await;
    assert_eq!(msg["status"], t.ends, "{msg:#}");
    let steps = applied(&msg);
    assert_eq!(steps.last().map(String::as_str), Some(t.ends), "{msg:#}");
    if t.ends == "seen" {
        // Seen came before delivered, so delivered was never applied.
        assert!(!steps.iter().any(|s| s == "delivered"), "{msg:#}");
    }
    if channel != Channel::Messenger {
        // The late, lower report is on record, not applied. (A Messenger delivery watermark
        // arriving after the read one covers no pending message and leaves no entry.)
        let late = timeline(&msg)
            .iter()
            .rev()
            .find(|e| e["source"] == "provider")
            .unwrap();
        assert_eq!(late["applied"], false, "{msg:#}");
    }
    assert_eq!(delivery(&msg)["status"], t.ends);
    assert_events_once(&gw, &msg).await;
}
