//! Where a call's instance comes from: a warm one kept for the same connection and kind
//! ([`super::warm`]), or a fresh one from the plugin's `InstancePre`, in a slot of the
//! instance pool held for the instance's whole life.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::bindings::{PluginInstance, PluginPre};
use super::imports::CallState;
use super::outbound::{self, OriginPattern};
use super::{CallError, ConnectionCtx, LoadedPlugin, PluginRuntime, engine, warm};

/// How long a call waits for a pool slot before it looks for an idle instance to evict again.
const SLOT_ROUND: Duration = Duration::from_millis(20);
/// Millisecond waits for a just-dropped store's teardown to free its pool entry (see
/// `instantiate`): a teardown takes microseconds, so this is generous.
const POOL_RETRIES: u32 = 200;

impl PluginRuntime {
    /// A fresh instance of a loaded plugin, allowed the manifest's hosts plus, with a
    /// connection, the operator's allow-list for it.
    pub(crate) async fn instantiate_for(
        &self,
        plugin: &LoadedPlugin,
        conn: Option<Arc<ConnectionCtx>>,
        deadline: Duration,
    ) -> Result<(Store<CallState>, PluginInstance), CallError> {
        let allowed = match &conn {
            Some(c) => outbound::allow_list(&plugin.manifest.outbound_hosts, Some(c)).into(),
            None => plugin.allowed_without_connection.clone(),
        };
        self.instantiate(&plugin.pre, plugin.name(), conn, allowed, deadline)
            .await
    }

    /// An instance for a call that may share one ([`warm`]): an idle one kept for this
    /// connection and kind, rearmed for this call, or a fresh one. Give it back with
    /// [`warm::WarmPool::give_back`] only when the call returned normally.
    pub(crate) async fn checkout(
        &self,
        plugin: &LoadedPlugin,
        connection: &str,
        conn: Option<Arc<ConnectionCtx>>,
        kind: warm::Kind,
        deadline: Duration,
    ) -> Result<warm::Warm, CallError> {
        let key = warm::Key::new(plugin.name(), plugin.generation, connection, kind);
        if let Some(mut w) = self.warm.take(&key, conn.as_ref()) {
            warm::count_use(true);
            w.store.data_mut().rearm(deadline);
            w.store.set_hostcall_fuel(self.limits.max_output_bytes);
            w.store.set_epoch_deadline(engine::YIELD_TICKS);
            return Ok(w);
        }
        warm::count_use(false);
        let (store, inst) = self.instantiate_for(plugin, conn, deadline).await?;
        Ok(warm::WarmPool::wrap(store, inst, key))
    }

    pub(crate) async fn instantiate(
        &self,
        pre: &PluginPre,
        plugin: &str,
        conn: Option<Arc<ConnectionCtx>>,
        allowed: Arc<[OriginPattern]>,
        deadline: Duration,
    ) -> Result<(Store<CallState>, PluginInstance), CallError> {
        // Bounded by the pool size: waiting here is back-pressure, not failure. Idle warm
        // instances give their slots up first: a kept instance must never make a call wait.
        // The wait is in short rounds because a busy instance may finish into the idle set
        // (keeping its slot) rather than free its slot; each round looks there again.
        let slot = loop {
            match self.slots.clone().try_acquire_owned() {
                Ok(permit) => break permit,
                Err(_) if self.warm.evict_one() => continue,
                Err(_) => {}
            }
            let wait = tokio::time::timeout(SLOT_ROUND, self.slots.clone().acquire_owned());
            match wait.await {
                Ok(Ok(permit)) => break permit,
                Ok(Err(e)) => {
                    return Err(CallError::Instantiate {
                        plugin: plugin.into(),
                        detail: e.to_string(),
                    });
                }
                Err(_elapsed) => continue,
            }
        };
        let mut slot = Some(slot);
        let mut pool_retries = 0;
        loop {
            let mut store = self.new_store(plugin, conn.clone(), allowed.clone(), deadline);
            store.data_mut().slot = slot.take();
            match pre.instantiate_async(&mut store).await {
                Ok(inst) => return Ok((store, inst)),
                // A dropped store gives its slot back with its data, a moment before wasmtime
                // counts its instance gone (the store's own teardown runs after): a call that
                // got that slot may find the pool still full. Wait the teardown out, on a
                // fresh store, keeping the slot.
                Err(e)
                    if pool_retries < POOL_RETRIES
                        && e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                            .is_some() =>
                {
                    pool_retries += 1;
                    slot = store.data_mut().slot.take();
                    drop(store);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => {
                    return Err(CallError::Instantiate {
                        plugin: plugin.into(),
                        detail: format!("{e:#}"),
                    });
                }
            }
        }
    }

    fn new_store(
        &self,
        plugin: &str,
        conn: Option<Arc<ConnectionCtx>>,
        allowed: Arc<[OriginPattern]>,
        deadline: Duration,
    ) -> Store<CallState> {
        let state = CallState::new(
            Arc::from(plugin),
            conn,
            allowed,
            self.services.clone(),
            deadline,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(self.limits.max_output_bytes);
        // Every YIELD_TICKS the running call gives its thread back to the executor, and is
        // stopped once past its deadline. Without the yields, a plugin that spins holds a
        // tokio worker for its whole deadline (15 s for `send`), and a few of them at once
        // would stall every request the gateway serves.
        store.set_epoch_deadline(engine::YIELD_TICKS);
        store.epoch_deadline_callback(|cx| {
            Ok(if Instant::now() >= cx.data().wasm_deadline {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::YieldCustom(
                    engine::YIELD_TICKS,
                    Box::pin(tokio::task::yield_now()),
                )
            })
        });
        store
    }
}
