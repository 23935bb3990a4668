//! The services behind the handlers and the background loops, built once at start in
//! dependency order: who uses whom is read here, not found by following `Gateway` methods.

use std::sync::Arc;

use super::{GatewayConfig, StartError};
use crate::callbacks::Callbacks;
use crate::connections::Connections;
use crate::intake::Intake;
use crate::lifecycle::Deliveries;
use crate::metrics::Metrics;
use crate::receipts::Receipts;
use crate::routing::plan::Planner;
use crate::routing::policies::{self, Policies};
use crate::routing::policy::Policy;
use crate::runtime::PluginRuntime;
use crate::store::Store;

/// The handles the services are built on, made earlier in `start`.
pub(super) struct Core {
    pub store: Arc<Store>,
    pub runtime: Arc<PluginRuntime>,
    pub connections: Arc<Connections>,
    pub deliveries: Deliveries,
    pub metrics: Arc<Metrics>,
}

pub(super) struct Services {
    pub callbacks: Callbacks,
    pub receipts: Receipts,
    pub intake: Arc<Intake>,
    pub policies: Arc<Policies>,
    pub planner: Arc<Planner>,
}

impl Services {
    pub(super) fn build(core: &Core, config_policies: Vec<Policy>) -> Services {
        let intake = Intake::new(
            core.connections.clone(),
            core.runtime.clone(),
            core.store.clone(),
        );
        let policies = Policies::new(core.store.clone(), core.runtime.clone(), config_policies);
        let planner = Planner::new(
            intake.clone(),
            policies.clone(),
            core.connections.clone(),
            core.runtime.clone(),
            core.store.clone(),
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
