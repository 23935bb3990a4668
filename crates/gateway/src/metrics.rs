//! Prometheus metrics, served at `GET /metrics` in the text exposition format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub channel: String,
    pub outcome: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    pub connection: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabels {
    /// `warm` (kept from an earlier call of the same connection and kind) or `fresh`.
    pub source: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub accepted: Family<ChannelLabels, Counter>,
    pub attempts: Family<AttemptLabels, Counter>,
    pub callbacks: Family<CallbackLabels, Counter>,
    pub send_seconds: Family<ChannelLabels, Histogram>,
    /// Set when scraped: the runtime owns the quarantine state.
    pub quarantined: Gauge,
    /// SQL statements run, mirrored from the store's count when metrics are read.
    statements: Counter,
    /// Plugin instances calls ran on, mirrored from the runtime's count when metrics are read.
    instances: Family<InstanceLabels, Counter>,
    /// Two scrapes at once must not both add the same difference.
    statements_sync: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let accepted = Family::<ChannelLabels, Counter>::default();
        let attempts = Family::<AttemptLabels, Counter>::default();
        let callbacks = Family::<CallbackLabels, Counter>::default();
        let send_seconds = Family::<ChannelLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "messages_accepted",
            "Messages accepted with 202",
            accepted.clone(),
        );
        registry.register(
            "delivery_attempts",
            "Provider attempts by outcome and failure reason",
            attempts.clone(),
        );
        registry.register(
            "provider_callbacks",
            "Provider callbacks by outcome",
            callbacks.clone(),
        );
        registry.register(
            "send_duration_seconds",
            "Plugin send call duration, provider round trip included",
            send_seconds.clone(),
        );
        let quarantined = Gauge::default();
        registry.register(
            "plugin_quarantined_connections",
            "Connections whose plugin is quarantined after faulting call after call",
            quarantined.clone(),
        );
        let statements = Counter::default();
        registry.register(
            "store_statements",
            "SQL statements the store has run (writer and readers, trigger programs included)",
            statements.clone(),
        );
        let instances = Family::<InstanceLabels, Counter>::default();
        registry.register(
            "plugin_instances",
            "Plugin instances calls ran on: warm (kept from an earlier call of the same connection and kind) or fresh",
            instances.clone(),
        );
        Metrics {
            quarantined,
            statements,
            instances,
            statements_sync: std::sync::Mutex::new(()),
            registry,
            accepted,
            attempts,
            callbacks,
            send_seconds,
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        {
            let _one = self
                .statements_sync
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let seen = self.statements.get();
            self.statements
                .inc_by(switchboard_store::statements_run().saturating_sub(seen));
            let (warm, fresh) = switchboard_runtime::instances_used();
            for (source, now) in [("warm", warm), ("fresh", fresh)] {
                let counter = self.instances.get_or_create(&InstanceLabels { source });
                counter.inc_by(now.saturating_sub(counter.get()));
            }
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
