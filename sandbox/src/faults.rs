//! Fault injection rules shared by every simulator.
//!
//! A rule names a channel, an optional `match` on request facts the simulator exposes (for SMS:
//! `to`, `from`), an optional `times` budget and an action. Rules are evaluated in insertion
//! order and the first live match wins, so a test can stack "the first two requests fail" on
//! top of "everything is slow" deterministically. The book knows nothing about wire formats:
//! each simulator turns the returned [`FaultAction`] into its own provider's error shape, which
//! is what lets email, push or messenger simulators reuse this module unchanged.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What a simulator declares about itself so rules can be validated when they are added,
/// instead of silently never matching because of a typo.
#[derive(Debug, Clone, Copy)]
pub struct ChannelSpec {
    pub name: &'static str,
    pub match_keys: &'static [&'static str],
    /// Final statuses a `callback_status` action may ask for; empty for a simulator that posts
    /// no callbacks, which refuses every callback action.
    pub callback_statuses: &'static [&'static str],
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("unknown channel {0:?}")]
    UnknownChannel(String),
    #[error("channel {channel} cannot match on {key:?}; allowed keys: {allowed:?}")]
    UnknownMatchKey {
        channel: String,
        key: String,
        allowed: &'static [&'static str],
    },
    #[error("callback_status {status:?} is not one of {allowed:?}")]
    UnknownCallbackStatus {
        status: String,
        allowed: &'static [&'static str],
    },
    #[error("`times` must be at least 1 (omit it for a permanent rule)")]
    ZeroTimes,
    #[error("invalid action: {0}")]
    InvalidAction(&'static str),
}

/// A rule as posted to the control API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub channel: String,
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matcher: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    pub action: FaultAction,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What happens to a matched request. Keys combine where that has a meaning; `validate`
/// rejects the combinations that do not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultAction {
    /// Answer with this HTTP status (400–599) and the provider's error body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Provider error code for `status`; defaults per simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// Delay before answering (applies to faulted and normal answers alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Hold the request for 60 s, then drop the connection without answering.
    #[serde(default, skip_serializing_if = "is_false")]
    pub timeout: bool,
    /// Drop the connection (TCP RST) without answering.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
    /// With `status`, `timeout` or `reset`: process and accept the request anyway, so only the
    /// answer is lost or wrong. This is the "maybe delivered" case clients must survive.
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub drop_callbacks: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub duplicate_callbacks: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reorder_callbacks: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_error_code: Option<u32>,
}

/// How the transport-level answer is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answer normally (the simulator's own logic decides the response).
    Normal,
    /// Answer with an error status.
    Error {
        status: u16,
        code: Option<u32>,
        retry_after_s: Option<u64>,
    },
    /// Hold the request, then drop the connection.
    Timeout,
    /// Drop the connection at once.
    Reset,
}

impl FaultAction {
    pub fn answer(&self) -> Answer {
        if self.timeout {
            Answer::Timeout
        } else if self.reset {
            Answer::Reset
        } else if let Some(status) = self.status {
            Answer::Error {
                status,
                code: self.code,
                retry_after_s: self.retry_after_s,
            }
        } else {
            Answer::Normal
        }
    }

    /// Whether the simulator should still process and accept the request.
    pub fn processes_request(&self) -> bool {
        self.answer() == Answer::Normal || self.accept
    }

    fn validate(&self, spec: &ChannelSpec) -> Result<(), FaultError> {
        use FaultError::InvalidAction as Bad;
        let answers = [self.status.is_some(), self.timeout, self.reset];
        if answers.iter().filter(|b| **b).count() > 1 {
            return Err(Bad("status, timeout and reset are mutually exclusive"));
        }
        if let Some(s) = self.status
            && !(400..=599).contains(&s)
        {
            return Err(Bad("status must be an error status (400-599)"));
        }
        if self.status.is_none() && (self.code.is_some() || self.retry_after_s.is_some()) {
            return Err(Bad("code and retry_after_s need a status"));
        }
        if self.accept && self.answer() == Answer::Normal {
            return Err(Bad("accept only makes sense with status, timeout or reset"));
        }
        let shapes_callbacks = self.drop_callbacks
            || self.duplicate_callbacks
            || self.reorder_callbacks
            || self.callback_status.is_some()
            || self.callback_error_code.is_some();
        if shapes_callbacks && spec.callback_statuses.is_empty() {
            return Err(Bad("this channel posts no callbacks"));
        }
        if shapes_callbacks && !self.processes_request() {
            return Err(Bad(
                "callback actions need an accepted request (no status/timeout/reset, or accept)",
            ));
        }
        // Dropped callbacks may still carry a `callback_status`: the message ends that way at
        // the provider (a lookup finds it) while the receiver hears nothing.
        if self.drop_callbacks && (self.duplicate_callbacks || self.reorder_callbacks) {
            return Err(Bad(
                "drop_callbacks cannot be combined with duplicate_callbacks or reorder_callbacks",
            ));
        }
        if self.callback_error_code.is_some() && self.callback_status.is_none() {
            return Err(Bad("callback_error_code needs callback_status"));
        }
        if let Some(status) = &self.callback_status
            && !spec.callback_statuses.contains(&status.as_str())
        {
            return Err(FaultError::UnknownCallbackStatus {
                status: status.clone(),
                allowed: spec.callback_statuses,
            });
        }
        Ok(())
    }
}

/// A rule with its live state, as listed by the control API.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRule {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Applications left; `null` for a permanent rule.
    pub remaining: Option<u32>,
    pub hits: u64,
}

/// The action a request got, and from which rule.
#[derive(Debug, Clone)]
pub struct Applied {
    pub rule_id: String,
    pub action: FaultAction,
}

#[derive(Debug, Default)]
struct Book {
    next_id: u64,
    rules: Vec<FaultRule>,
}

/// Ordered rule list for all channels.
#[derive(Debug)]
pub struct FaultBook {
    channels: Vec<ChannelSpec>,
    book: Mutex<Book>,
}

impl FaultBook {
    pub fn new(channels: Vec<ChannelSpec>) -> Self {
        Self {
            channels,
            book: Mutex::new(Book::default()),
        }
    }

    pub fn add(&self, spec: FaultSpec) -> Result<String, FaultError> {
        let channel = self
            .channels
            .iter()
            .find(|c| c.name == spec.channel)
            .ok_or_else(|| FaultError::UnknownChannel(spec.channel.clone()))?;
        if let Some(key) = spec
            .matcher
            .keys()
            .find(|k| !channel.match_keys.contains(&k.as_str()))
        {
            return Err(FaultError::UnknownMatchKey {
                channel: spec.channel.clone(),
                key: key.clone(),
                allowed: channel.match_keys,
            });
        }
        if spec.times == Some(0) {
            return Err(FaultError::ZeroTimes);
        }
        spec.action.validate(channel)?;
        let mut book = self.book.lock().expect("fault book poisoned");
        book.next_id += 1;
        let id = format!("fault-{}", book.next_id);
        book.rules.push(FaultRule {
            id: id.clone(),
            remaining: spec.times,
            spec,
            hits: 0,
        });
        Ok(id)
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.book.lock().expect("fault book poisoned").rules.clone()
    }

    pub fn clear(&self) {
        self.book.lock().expect("fault book poisoned").rules.clear();
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut book = self.book.lock().expect("fault book poisoned");
        let before = book.rules.len();
        book.rules.retain(|r| r.id != id);
        book.rules.len() != before
    }

    /// Finds the first live rule matching a request and consumes one application of it.
    /// `facts` are the request's matchable fields; a rule key absent from them never matches.
    pub fn take(&self, channel: &str, facts: &[(&str, &str)]) -> Option<Applied> {
        let mut book = self.book.lock().expect("fault book poisoned");
        let rule = book.rules.iter_mut().find(|r| {
            r.spec.channel == channel
                && r.remaining != Some(0)
                && r.spec
                    .matcher
                    .iter()
                    .all(|(k, v)| facts.iter().any(|(fk, fv)| fk == k && fv == v))
        })?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        rule.hits += 1;
        Some(Applied {
            rule_id: rule.id.clone(),
            action: rule.spec.action.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMS: ChannelSpec = ChannelSpec {
        name: "sms",
        match_keys: &["to", "from"],
        callback_statuses: &["delivered", "undelivered", "failed"],
    };

    fn spec(json: &str) -> FaultSpec {
        serde_json::from_str(json).expect("test JSON")
    }

    #[test]
    fn first_live_match_wins_and_times_run_out() {
        let book = FaultBook::new(vec![SMS]);
        let a = book
            .add(spec(
                r#"{"channel":"sms","match":{"to":"+1"},"times":1,"action":{"status":503}}"#,
            ))
            .expect("valid");
        let b = book
            .add(spec(r#"{"channel":"sms","action":{"latency_ms":5}}"#))
            .expect("valid");
        let hit = |to| book.take("sms", &[("to", to)]).map(|a| a.rule_id);
        assert_eq!(hit("+2").as_deref(), Some(b.as_str()));
        assert_eq!(hit("+1").as_deref(), Some(a.as_str()));
        assert_eq!(hit("+1").as_deref(), Some(b.as_str()));
        assert!(book.take("email", &[]).is_none());
        let listed = book.list();
        assert_eq!((listed[0].remaining, listed[0].hits), (Some(0), 1));
        assert_eq!((listed[1].remaining, listed[1].hits), (None, 2));
    }

    #[test]
    fn rejects_nonsense() {
        let book = FaultBook::new(vec![SMS]);
        for bad in [
            r#"{"channel":"fax","action":{"status":503}}"#,
            r#"{"channel":"sms","match":{"body":"x"},"action":{"status":503}}"#,
            r#"{"channel":"sms","times":0,"action":{"status":503}}"#,
            r#"{"channel":"sms","action":{"status":200}}"#,
            r#"{"channel":"sms","action":{"status":503,"reset":true}}"#,
            r#"{"channel":"sms","action":{"code":30007}}"#,
            r#"{"channel":"sms","action":{"status":503,"drop_callbacks":true}}"#,
            r#"{"channel":"sms","action":{"drop_callbacks":true,"duplicate_callbacks":true}}"#,
            r#"{"channel":"sms","action":{"callback_status":"exploded"}}"#,
            r#"{"channel":"sms","action":{"accept":true}}"#,
        ] {
            assert!(book.add(spec(bad)).is_err(), "accepted {bad}");
        }
        assert!(
            serde_json::from_str::<FaultSpec>(r#"{"channel":"sms","action":{"stauts":1}}"#)
                .is_err()
        );
        assert!(
            book.add(spec(r#"{"channel":"sms","action":{"reset":true,"accept":true,"duplicate_callbacks":true}}"#))
                .is_ok()
        );
    }
}
