//! Fan events out to endpoints and deliver them, on the retry schedule.
//!
//! One loop: move the fan-out cursor, claim due deliveries, attempt them concurrently (a
//! slow endpoint holds one slot, not the loop), record the results in one commit, then sleep
//! until the next delivery is due or new events may have arrived. The schedule is read from
//! the gateway clock, so tests move time instead of waiting hours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::schedule;
use super::store::{AttemptResult, DueDelivery, secret_owner};
use crate::Gateway;
use crate::model::{Millis, now_ms};

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
/// address guard in its resolver.
pub fn client(gw_net: &Arc<crate::netguard::NetPolicy>, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(gw_net.resolver())
        .timeout(timeout)
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

pub async fn run(gw: Arc<Gateway>) {
    let client = client(&gw.net, gw.webhooks.timeout);
    let lease_ms = (gw.webhooks.timeout.as_millis() as Millis) * 2 + 5_000;
    let mut next_prune = std::time::Instant::now();
    loop {
        if std::time::Instant::now() >= next_prune {
            let before = now_ms() - gw.webhooks.retention.as_millis() as Millis;
            match gw.store.prune_events(before, 10_000).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "old events pruned"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "pruning events failed"),
            }
            next_prune = std::time::Instant::now() + Duration::from_secs(600);
        }
        let mut busy = false;
        match gw.store.fan_out_events(1_000).await {
            Ok(n) => busy |= n > 0,
            Err(e) => tracing::error!(error = %e, "webhook fan-out failed"),
        }
        match gw
            .store
            .claim_webhook_deliveries(gw.webhooks.concurrency as u32, lease_ms)
            .await
        {
            Ok(due) if !due.is_empty() => {
                busy = true;
                let mut set = JoinSet::new();
                for d in due {
                    let (gw, client) = (gw.clone(), client.clone());
                    set.spawn(async move { attempt(&gw, &client, d).await });
                }
                let results: Vec<AttemptResult> = set.join_all().await;
                let disable_after = gw.webhooks.disable_after.as_millis() as Millis;
                match gw
                    .store
                    .record_webhook_attempts(results, disable_after)
                    .await
                {
                    Ok(disabled) => {
                        for id in disabled {
                            tracing::warn!(endpoint = %id, "webhook endpoint disabled after failing for too long");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "recording webhook attempts failed"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "claiming webhook deliveries failed"),
        }
        if busy {
            continue;
        }
        // New events arrive with every status change; a short poll keeps latency low
        // without a wake-up per commit.
        let mut wait = Duration::from_millis(100);
        if let Ok(Some(due)) = gw.store.next_webhook_due().await {
            let until = (due - now_ms()).max(0) as u64;
            wait = wait.min(Duration::from_millis(until));
        }
        tokio::time::sleep(wait).await;
    }
}

async fn attempt(gw: &Gateway, client: &reqwest::Client, d: DueDelivery) -> AttemptResult {
    let number = d.attempts + 1;
    let started = Instant::now();
    let at = now_ms();
    let outcome = post(gw, client, &d, at).await;
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
    gw: &Gateway,
    client: &reqwest::Client,
    d: &DueDelivery,
    at: Millis,
) -> Result<u16, String> {
    let url = reqwest::Url::parse(&d.url).map_err(|e| format!("bad URL: {e}"))?;
    gw.net.check_url(&url).map_err(|e| e.to_string())?;
    let owner = secret_owner(&d.endpoint_id);
    let open = |sealed: &str| {
        gw.vault
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
