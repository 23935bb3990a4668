//! The shared engine: configuration, allocator choice and the epoch clock for deadlines.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::{EPOCH_TICK, RuntimeError, RuntimeLimits};

/// The native stack wasm code may use, set explicitly rather than inherited from wasmtime's
/// default: unbounded recursion in a plugin must end in a `StackOverflow` trap well inside the
/// async fiber stack (2 MiB by default) that the call runs on, never in the host's stack.
pub const MAX_WASM_STACK: usize = 1 << 20;

/// Advance the engine's epoch every [`EPOCH_TICK`] on a thread that holds only a weak
/// reference, so it ends with the engine.
pub fn start_epoch_ticker(engine: &Engine) -> Result<(), RuntimeError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| RuntimeError::Engine(e.to_string()))?;
    Ok(())
}

/// Epoch ticks a call runs before it yields to the executor (and is checked against its
/// deadline): at most two ticks, 20 ms, of a worker thread at a time.
pub const YIELD_TICKS: u64 = 1;

pub fn build(limits: &RuntimeLimits) -> Result<(Engine, &'static str), RuntimeError> {
    let base = || {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        // Plugins use no component-model concurrency; turning it off halves the cost of a call.
        cfg.concurrency_support(false);
        cfg.max_wasm_stack(MAX_WASM_STACK);
        cfg
    };
    let mut pooled = base();
    let mut pool = PoolingAllocationConfig::default();
    let n = limits.max_instances;
    pool.total_component_instances(n)
        .total_core_instances(n * 4)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_memories_per_component(2)
        .max_tables_per_component(4)
        .max_memory_size(limits.memory_bytes)
        // Reset the first pages of a slot with memset instead of giving them back to the
        // kernel: each call's instance touches the same few hundred KiB (data segments, the
        // stack), and page faults were the largest cost of instantiation.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10);
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&pooled) {
        Ok(engine) => Ok((engine, "pooling")),
        Err(e) => {
            tracing::warn!(error = %e, "pooling allocator unavailable (address space?); using on-demand allocation");
            let engine = Engine::new(&base()).map_err(|e| RuntimeError::Engine(e.to_string()))?;
            Ok((engine, "on-demand"))
        }
    }
}
