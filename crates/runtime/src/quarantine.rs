//! Quarantine with backoff for a plugin that keeps failing as a call (trap, deadline, memory,
//! oversized output).
//!
//! Why per connection and not per plugin: the same plugin serves many workspaces, and what
//! makes it trap is often one workspace's input or configuration. Keying by plugin would let
//! one tenant's messages stop every other tenant's connection on that plugin. Calls without
//! a connection (loading a plugin) are never quarantined.
//!
//! Why per export too (`validate` for intake's pure calls, `send`, `handle-webhook`,
//! `sync-contacts`): a plugin whose `send` traps usually validates fine, and those successes
//! must neither reset the count of failed sends nor be refused along with them.
//!
//! The shape is a circuit breaker: after `after` consecutive faulting calls the connection's
//! plugin calls are refused for `base`; when that runs out one call goes through as a probe
//! (the others stay refused while it runs). A faulting probe doubles the period, up to `cap`;
//! any call that returns ends the quarantine. Time is the gateway's clock
//! ([`switchboard_model::clock`]), so tests move it instead of sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::CallError;

/// When to quarantine and for how long.
#[derive(Debug, Clone)]
pub struct QuarantinePolicy {
    /// Consecutive faulting calls that start a quarantine; 0 turns quarantine off.
    pub after: u32,
    /// The first period; each faulting probe doubles it.
    pub base: Duration,
    pub cap: Duration,
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        QuarantinePolicy {
            after: 5,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
        }
    }
}

impl QuarantinePolicy {
    /// The period after the `strikes`-th quarantine in a row (1-based).
    fn period(&self, strikes: u32) -> Duration {
        let factor = 1u32
            .checked_shl(strikes.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// A connection's quarantine, for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineState {
    /// Which export: `validate` (intake), `send`, `handle-webhook` or `sync-contacts`.
    pub calls: &'static str,
    /// Until when (ms since the epoch, by the gateway's clock) plugin calls are refused; the
    /// first call after it is a probe.
    pub until_ms: i64,
    /// The current period: doubles with each faulting probe, up to the cap.
    pub backoff_ms: u64,
    /// Faulting calls made in a row (calls refused while quarantined are not counted).
    pub consecutive_faults: u32,
    /// The last fault, as the call reported it.
    pub last_fault: String,
}

type Key = (String, String, &'static str);

#[derive(Default)]
struct Entry {
    consecutive: u32,
    /// Quarantines in a row; 0 while not quarantined.
    strikes: u32,
    until_ms: i64,
    last_fault: String,
}

#[derive(Default)]
pub struct Quarantine {
    policy: QuarantinePolicy,
    entries: Mutex<HashMap<Key, Entry>>,
}

/// How a call that was let through ended, for the breaker.
pub enum Verdict {
    /// The plugin returned (an error it returned is the provider's business, not a fault).
    Returned,
    Fault(String),
    /// Not the plugin's doing (no free instance, the gateway's own limits).
    Neutral,
}

impl Verdict {
    pub fn of<T>(r: &Result<T, CallError>) -> Verdict {
        match r {
            Ok(_) => Verdict::Returned,
            Err(
                e @ (CallError::Deadline { .. }
                | CallError::Memory { .. }
                | CallError::Trap { .. }
                | CallError::Output { .. }),
            ) => Verdict::Fault(e.to_string()),
            Err(CallError::Instantiate { .. } | CallError::Quarantined { .. }) => Verdict::Neutral,
        }
    }
}

impl Quarantine {
    pub fn new(policy: QuarantinePolicy) -> Self {
        Quarantine {
            policy,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a call be made now? While quarantined, no. When the period has run out, this
    /// call is the probe: the period is re-armed first so that concurrent calls stay
    /// refused, and a probe that never reports back (cancelled) cannot wedge the breaker.
    pub fn admit(
        &self,
        plugin: &str,
        connection: &str,
        calls: &'static str,
        now_ms: i64,
    ) -> Result<(), CallError> {
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(&(plugin.to_string(), connection.to_string(), calls)) else {
            return Ok(());
        };
        if e.strikes == 0 {
            return Ok(());
        }
        if now_ms < e.until_ms {
            return Err(CallError::Quarantined {
                plugin: plugin.into(),
                connection: connection.into(),
                calls,
                retry_in_ms: (e.until_ms - now_ms) as u64,
                last_fault: e.last_fault.clone(),
            });
        }
        e.until_ms = now_ms + self.policy.period(e.strikes).as_millis() as i64;
        tracing::info!(
            plugin,
            connection,
            "quarantine period over; probing with one call"
        );
        Ok(())
    }

    pub fn record(
        &self,
        plugin: &str,
        connection: &str,
        calls: &'static str,
        verdict: Verdict,
        now_ms: i64,
    ) {
        if self.policy.after == 0 {
            return;
        }
        let key = (plugin.to_string(), connection.to_string(), calls);
        let mut entries = self.lock();
        match verdict {
            Verdict::Neutral => {}
            Verdict::Returned => {
                if let Some(e) = entries.remove(&key)
                    && e.strikes > 0
                {
                    tracing::warn!(
                        plugin,
                        connection,
                        calls,
                        "plugin answered again; quarantine lifted"
                    );
                }
            }
            Verdict::Fault(detail) => {
                let e = entries.entry(key).or_default();
                e.consecutive = e.consecutive.saturating_add(1);
                e.last_fault = detail;
                // A fault while quarantined is the probe's (or a call admitted just before
                // the quarantine began): either way the next period is longer.
                if e.strikes > 0 || e.consecutive >= self.policy.after {
                    e.strikes = e.strikes.saturating_add(1);
                    let period = self.policy.period(e.strikes);
                    e.until_ms = now_ms + period.as_millis() as i64;
                    tracing::warn!(
                        plugin,
                        connection,
                        calls,
                        consecutive_faults = e.consecutive,
                        backoff_ms = period.as_millis() as u64,
                        last_fault = %e.last_fault,
                        "plugin quarantined"
                    );
                }
            }
        }
    }

    /// The connection's quarantined calls (including while a probe runs), by export.
    pub fn state(&self, plugin: &str, connection: &str) -> Vec<QuarantineState> {
        let mut found: Vec<_> = self
            .lock()
            .iter()
            .filter(|((p, c, _), e)| p == plugin && c == connection && e.strikes > 0)
            .map(|((_, _, calls), e)| QuarantineState {
                calls,
                until_ms: e.until_ms,
                backoff_ms: self.policy.period(e.strikes).as_millis() as u64,
                consecutive_faults: e.consecutive,
                last_fault: e.last_fault.clone(),
            })
            .collect();
        found.sort_by_key(|q| q.calls);
        found
    }

    /// Connections in quarantine now, for the metrics.
    pub fn count(&self) -> usize {
        let entries = self.lock();
        let mut connections: Vec<_> = entries
            .iter()
            .filter(|(_, e)| e.strikes > 0)
            .map(|((p, c, _), _)| (p, c))
            .collect();
        connections.sort();
        connections.dedup();
        connections.len()
    }

    /// A new build of the plugin deserves a fresh start.
    pub fn forget_plugin(&self, plugin: &str) {
        self.lock().retain(|(p, _, _), _| p != plugin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trap() -> Verdict {
        Verdict::Fault("trapped".into())
    }

    #[test]
    fn quarantine_starts_after_n_faults_grows_and_ends_on_success() {
        let q = Quarantine::new(QuarantinePolicy {
            after: 3,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(100),
        });
        let (p, c) = ("p", "con_1");
        for _ in 0..2 {
            q.record(p, c, "send", trap(), 0);
        }
        assert!(
            q.admit(p, c, "send", 0).is_ok(),
            "two faults are not enough"
        );
        q.record(p, c, "send", trap(), 0);
        assert!(matches!(
            q.admit(p, c, "send", 29_999),
            Err(CallError::Quarantined { retry_in_ms: 1, .. })
        ));
        assert!(
            q.admit("p", "con_2", "send", 0).is_ok(),
            "other connections carry on"
        );
        // The probe goes through, and only the probe.
        assert!(q.admit(p, c, "send", 30_000).is_ok());
        assert!(q.admit(p, c, "send", 30_001).is_err());
        q.record(p, c, "send", trap(), 30_500);
        assert_eq!(q.state(p, c)[0].backoff_ms, 60_000);
        assert!(q.admit(p, c, "send", 90_499).is_err());
        assert!(q.admit(p, c, "send", 90_500).is_ok());
        q.record(p, c, "send", trap(), 90_500);
        assert_eq!(q.state(p, c)[0].backoff_ms, 100_000, "capped");
        assert!(q.admit(p, c, "send", 190_500).is_ok());
        q.record(p, c, "send", Verdict::Returned, 190_600);
        assert_eq!(q.state(p, c), vec![]);
        assert!(q.admit(p, c, "send", 190_600).is_ok());
        assert_eq!(q.count(), 0);
    }

    #[test]
    fn a_success_resets_the_count_and_neutral_outcomes_do_not_count() {
        let q = Quarantine::new(QuarantinePolicy {
            after: 2,
            ..Default::default()
        });
        q.record("p", "c", "send", trap(), 0);
        q.record("p", "c", "send", Verdict::Returned, 0);
        q.record("p", "c", "send", trap(), 0);
        q.record("p", "c", "send", Verdict::Neutral, 0);
        assert!(q.admit("p", "c", "send", 0).is_ok());
        q.record("p", "c", "send", trap(), 0);
        assert!(q.admit("p", "c", "send", 0).is_err());
        q.forget_plugin("p");
        assert!(q.admit("p", "c", "send", 0).is_ok());
    }

    #[test]
    fn zero_turns_it_off() {
        let q = Quarantine::new(QuarantinePolicy {
            after: 0,
            ..Default::default()
        });
        for _ in 0..100 {
            q.record("p", "c", "send", trap(), 0);
        }
        assert!(q.admit("p", "c", "send", 0).is_ok());
    }
}
