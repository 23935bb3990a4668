//! Fan events out to endpoints and deliver them, on the retry schedule.
//!
//! One loop: move the fan-out cursor when new events committed, claim due deliveries into
//! free slots and attempt them concurrently (a slow endpoint holds one slot, not the loop),
//! record finished attempts in one commit, then wait for an attempt to finish, the next due
//! time, or new events. The schedule is read from
//! the gateway clock, so tests move time instead of waiting hours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::log::{AttemptResult, DueDelivery, secret_owner};
use super::schedule;
use crate::model::{Millis, now_ms};
use crate::netguard::NetPolicy;
use crate::vault::Vault;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// One attempt's limit, connect to last byte.
    pub timeout: Duration,
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_overlap: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Events (and their delivery logs) are kept this long, for listing and replay.
    pub retention: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(15),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            rotation_overlap: Duration::from_secs(24 * 3600),
            concurrency: 64,
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Build the delivery client: no redirects (the URL checked is the URL posted to), and the
/// address guard in its resolver. Built at start-up: there is no fallback client without
/// the guard.
pub fn client(
    net: &Arc<crate::netguard::NetPolicy>,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    net.guard(reqwest::Client::builder())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Fans out and delivers events until the process ends. It takes only what it uses (the
/// vault opens endpoint secrets, `net` guards the URLs), so `events` does not depend on the
/// gateway's wiring.
pub async fn run(
    log: super::EventLog,
    vault: Arc<Vault>,
    net: Arc<NetPolicy>,
    config: WebhookConfig,
    client: reqwest::Client,
) {
    let lease_ms = (config.timeout.as_millis() as Millis) * 2 + 5_000;
    let disable_after = config.disable_after.as_millis() as Millis;
    let mut next_prune = std::time::Instant::now();
    // Attempts run here across iterations: a slow endpoint holds its slot until its
    // timeout while the loop keeps claiming for the others.
    let mut in_flight: JoinSet<AttemptResult> = JoinSet::new();
    let mut finished: Vec<AttemptResult> = Vec::new();
    loop {
        if std::time::Instant::now() >= next_prune {
            let before = now_ms() - config.retention.as_millis() as Millis;
            match log.prune_events(before, 10_000).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "old events pruned"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "pruning events failed"),
            }
            next_prune = std::time::Instant::now() + Duration::from_secs(600);
        }
        // Reads decide; the writer (shared with every send) is only asked when there is
        // something to write.
        if matches!(log.events_waiting().await, Ok(true))
            && let Err(e) = log.fan_out_events(1_000).await
        {
            tracing::error!(error = %e, "webhook fan-out failed");
        }
        let next_due = log.next_webhook_due().await.ok().flatten();
        let free = config.concurrency.saturating_sub(in_flight.len());
        if free > 0 && next_due.is_some_and(|due| due <= now_ms()) {
            match log.claim_webhook_deliveries(free as u32, lease_ms).await {
                Ok(due) => {
                    for d in due {
                        let (vault, net, client) = (vault.clone(), net.clone(), client.clone());
                        in_flight.spawn(async move { attempt(&vault, &net, &client, d).await });
                    }
                }
                Err(e) => tracing::error!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        while let Some(done) = in_flight.try_join_next() {
            // A panicked attempt leaves its lease to expire: it is tried again then.
            finished.extend(done.ok());
        }
        if !finished.is_empty() {
            match log
                .record_webhook_attempts(std::mem::take(&mut finished), disable_after)
                .await
            {
                Ok(disabled) => {
                    for id in disabled {
                        tracing::warn!(endpoint = %id, "webhook endpoint disabled after failing for too long");
                    }
                }
                Err(e) => tracing::error!(error = %e, "recording webhook attempts failed"),
            }
            continue;
        }
        // New events arrive with every status change; a short poll keeps latency low
        // without a wake-up per commit. A finished attempt wakes the loop at once.
        let mut wait = Duration::from_millis(100);
        if let Some(due) = next_due {
            wait = wait.min(Duration::from_millis((due - now_ms()).max(0) as u64));
        }
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                finished.extend(done.ok());
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn attempt(
    vault: &Vault,
    net: &NetPolicy,
    client: &reqwest::Client,
    d: DueDelivery,
) -> AttemptResult {
    let number = d.attempts + 1;
    let started = Instant::now();
    let at = now_ms();
    let outcome = post(vault, net, client, &d, at).await;
    let (ok, status, error) = match outcome {
        Ok(status) if (200..300).contains(&status) => (true, Some(status), None),
        Ok(status) => (false, Some(status), Some(format!("HTTP {status}"))),
        Err(e) => (false, None, Some(e)),
    };
    let retry_at = if ok {
        None
    } else {
        schedule::delay(number).map(|d| at + d.as_millis() as Millis)
    };
    AttemptResult {
        delivery_id: d.id,
        endpoint_id: d.endpoint_id,
        number,
        at,
        status,
        error,
        duration_ms: started.elapsed().as_millis() as i64,
        ok,
        retry_at,
    }
}

async fn post(
    vault: &Vault,
    net: &NetPolicy,
    client: &reqwest::Client,
    d: &DueDelivery,
    at: Millis,
) -> Result<u16, String> {
    let url = reqwest::Url::parse(&d.url).map_err(|e| format!("bad URL: {e}"))?;
    net.check_url(&url).map_err(|e| e.to_string())?;
    let owner = secret_owner(&d.endpoint_id);
    let open = |sealed: &str| {
        vault
            .open(&owner, sealed)
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .map_err(|e| format!("the endpoint secret does not open: {e}"))
    };
    let mut secrets = vec![zeroize::Zeroizing::new(open(&d.sealed_secret)?)];
    if let Some(prev) = &d.sealed_previous {
        secrets.push(zeroize::Zeroizing::new(open(prev)?));
    }
    let timestamp = at / 1000;
    let refs: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    let signature =
        super::signing::signature_header(&refs, &d.event_id, timestamp, d.payload.as_bytes())
            .map_err(|e| e.to_string())?;
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| {
            if let Some(what) = crate::netguard::denied_in(&e) {
                format!("{what} is a private address and is not allow-listed")
            } else if e.is_timeout() {
                "timed out".to_string()
            } else {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(x) = src {
                    s.push_str(": ");
                    s.push_str(&x.to_string());
                    src = x.source();
                }
                s
            }
        })?;
    Ok(resp.status().as_u16())
}
