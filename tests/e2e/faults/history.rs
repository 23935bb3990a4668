//! What every fault case checks, whatever the channel: statuses only move forward, each
//! applied status is announced to the business once, and the attempts say what happened.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::support::Gateway;

/// Order of progress. `failed` is final: nothing may be applied after it in these cases.
fn rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        "delivered" => 3,
        "seen" => 4,
        "failed" => 5,
        other => panic!("unknown status {other:?}"),
    }
}

/// The first delivery: every fault case sends a single-channel message.
pub fn delivery(msg: &Value) -> &Value {
    &msg["deliveries"][0]
}

/// Statuses the timeline applied, in order (entries recorded but not applied are the late,
/// repeated or out-of-order reports the gateway ignored).
pub fn applied(msg: &Value) -> Vec<String> {
    timeline(msg)
        .iter()
        .filter(|e| e["applied"] == true)
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

pub fn timeline(msg: &Value) -> &Vec<Value> {
    delivery(msg)["timeline"].as_array().unwrap()
}

/// Provider reports recorded on the timeline, applied or not.
pub fn provider_entries(msg: &Value) -> usize {
    timeline(msg)
        .iter()
        .filter(|e| e["source"] == "provider")
        .count()
}

/// Statuses never go backwards: the applied timeline strictly rises (so no status is
/// applied twice), nothing follows `failed`, and the delivery and the message stand at the
/// last applied status.
pub fn assert_forward_only(msg: &Value) {
    let steps = applied(msg);
    for pair in steps.windows(2) {
        assert!(
            rank(&pair[0]) < rank(&pair[1]) && pair[0] != "failed",
            "status went from {} to {}: {msg:#}",
            pair[0],
            pair[1]
        );
    }
    let last = steps.last().expect("an applied status");
    assert_eq!(delivery(msg)["status"], last.as_str(), "{msg:#}");
    assert_eq!(msg["status"], last.as_str(), "{msg:#}");
}

/// Polls the message until `done` holds, asserting that every status observed on the way
/// is at least the one before (a regression between two polls shows here even if the
/// timeline were rewritten), and the forward-only rule on the final view.
pub async fn settle(
    gw: &Gateway,
    id: &str,
    within: Duration,
    mut done: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let (code, msg) = gw.get(&format!("/v1/messages/{id}")).await;
        assert!(code.is_success(), "{msg}");
        let status = msg["status"].as_str().unwrap().to_string();
        if let Some(prev) = seen.last()
            && *prev != status
        {
            assert!(
                rank(prev) < rank(&status),
                "message {id} went from {prev} to {status}: {msg:#}"
            );
        }
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        if done(&msg) {
            assert_forward_only(&msg);
            return msg;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} did not settle within {within:?} (statuses seen: {seen:?}): {msg:#}\n--- gateway log ---\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits for `status` with the forward-only checks of [`settle`].
pub async fn reach(gw: &Gateway, id: &str, status: &str) -> Value {
    settle(gw, id, Duration::from_secs(30), |m| m["status"] == status).await
}

/// `message.*` events recorded for one message, by type.
pub async fn events_for(gw: &Gateway, id: &str) -> BTreeMap<String, usize> {
    let (code, page) = gw.get("/v1/events?limit=500").await;
    assert!(code.is_success(), "{page}");
    let mut counts = BTreeMap::new();
    for e in page["data"].as_array().unwrap() {
        if e["data"]["message_id"] == id {
            *counts
                .entry(e["type"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

/// The business hears of each applied status exactly once and of nothing else: repeated and
/// out-of-order reports announce nothing.
pub async fn assert_events_once(gw: &Gateway, msg: &Value) {
    let id = msg["id"].as_str().unwrap();
    let expected: BTreeMap<String, usize> = applied(msg)
        .into_iter()
        .filter(|s| s != "sending")
        .map(|s| (format!("message.{s}"), 1))
        .collect();
    assert_eq!(events_for(gw, id).await, expected, "{msg:#}");
}

pub fn attempts(msg: &Value) -> &Vec<Value> {
    delivery(msg)["attempts"].as_array().unwrap()
}

/// `(outcome, reason)` of each attempt; the reason is empty for an accepted one.
pub fn outcomes(msg: &Value) -> Vec<(String, String)> {
    attempts(msg)
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_string(),
                a["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub fn at(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

/// How long the gateway waited between the end of attempt `i` and the start of the next.
pub fn gap_after(msg: &Value, i: usize) -> Duration {
    let a = attempts(msg);
    at(&a[i + 1]["started_at"])
        .duration_since(at(&a[i]["finished_at"]))
        .unwrap_or_else(|_| panic!("attempt {} started before {} ended: {msg:#}", i + 2, i + 1))
}
