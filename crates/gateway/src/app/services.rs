//! The services behind the handlers and the background loops, built once at start in
//! dependency order: who uses whom is read here, not found by following `Gateway` methods.

use std::sync::Arc;

use super::{GatewayConfig, StartError};
use crate::billing::payments::{PaymentProcessor, StripeCharges};
use crate::billing::{TopUps, Wallets};
use crate::callbacks::Callbacks;
use crate::connections::Connections;
use crate::contact_sync::ContactSync;
use crate::dispatch::Dispatcher;
use crate::followup::FollowUps;
use crate::intake::Intake;
use crate::lifecycle::Deliveries;
use crate::media_probe::MediaProbe;
use crate::metrics::Metrics;
use crate::receipts::Receipts;
use crate::routing::Router;
use crate::routing::plan::Planner;
use crate::routing::policies::{self, Policies};
use crate::routing::policy::Policy;
use crate::runtime::PluginRuntime;
use crate::sender_domains::SenderDomains;
use crate::store::Store;

/// The handles the services are built on, made earlier in `start`.
pub(super) struct Core {
    pub store: Arc<Store>,
    pub runtime: Arc<PluginRuntime>,
    pub connections: Arc<Connections>,
    pub deliveries: Deliveries,
    pub wallets: Arc<Wallets>,
    pub dispatcher: Arc<Dispatcher>,
    pub router: Arc<Router>,
    pub metrics: Arc<Metrics>,
    pub media_probe: Arc<MediaProbe>,
}

pub(super) struct Services {
    pub callbacks: Callbacks,
    pub receipts: Receipts,
    pub intake: Arc<Intake>,
    pub policies: Arc<Policies>,
    pub planner: Arc<Planner>,
    pub followups: Arc<FollowUps>,
    pub sender_domains: Arc<SenderDomains>,
    pub topups: Arc<TopUps>,
    pub contact_sync: ContactSync,
}

impl Services {
    pub(super) fn build(
        core: &Core,
        config_policies: Vec<Policy>,
        payments: Option<Arc<dyn PaymentProcessor>>,
    ) -> Services {
        let intake = Intake::new(
            core.connections.clone(),
            core.runtime.clone(),
            core.store.clone(),
            core.media_probe.clone(),
        );
        let policies = Policies::new(core.store.clone(), core.runtime.clone(), config_policies);
        let planner = Planner::new(
            intake.clone(),
            policies.clone(),
            core.connections.clone(),
            core.runtime.clone(),
            core.store.clone(),
        );
        let sender_domains = SenderDomains::new(
            core.store.clone(),
            core.connections.clone(),
            core.runtime.clone(),
        );
        let followups = FollowUps::new(
            core.store.clone(),
            planner.clone(),
            core.router.clone(),
            core.dispatcher.clone(),
            sender_domains.clone(),
            core.connections.clone(),
        );
        Services {
            callbacks: Callbacks::new(
                core.connections.clone(),
                core.runtime.clone(),
                core.deliveries.clone(),
                core.store.clone(),
                core.metrics.clone(),
            ),
            receipts: Receipts::new(core.connections.clone(), core.deliveries.clone()),
            intake,
            policies,
            planner,
            followups,
            sender_domains,
            topups: TopUps::new(core.wallets.clone(), payments),
            contact_sync: ContactSync::new(
                core.connections.clone(),
                core.runtime.clone(),
                core.store.clone(),
            ),
        }
    }
}

/// The `--policies` file, checked against the channels the loaded plugins serve.
pub(super) fn config_policies(
    config: &GatewayConfig,
    runtime: &PluginRuntime,
) -> Result<Vec<Policy>, StartError> {
    match &config.policies_file {
        Some(path) => policies::load_file(path, &policies::channels(runtime))
            .map_err(|e| StartError::Policies(e.to_string())),
        None => Ok(Vec::new()),
    }
}

/// The configured card processor; in sandbox mode, the simulators' one.
pub(super) fn payment_processor(
    config: &GatewayConfig,
    sandbox_url: Option<&String>,
) -> Result<Option<Arc<dyn PaymentProcessor>>, StartError> {
    let processor = match (&config.payments_url, &config.payments_key, sandbox_url) {
        (Some(url), Some(key), _) => Some(StripeCharges::new(url, key)),
        (Some(_), None, _) => {
            return Err(StartError::Payments(
                "--payments-url needs SWITCHBOARD_PAYMENTS_KEY".into(),
            ));
        }
        #[cfg(feature = "sandbox")]
        (None, _, Some(sim)) => Some(StripeCharges::new(
            sim,
            switchboard_sandbox::SANDBOX_PAYMENTS_SECRET_KEY,
        )),
        _ => None,
    };
    Ok(match processor {
        Some(p) => Some(Arc::new(
            p.map_err(|e| StartError::Payments(e.to_string()))?,
        )),
        None => None,
    })
}
