//! Wall-clock time from the host (a mock clock in native tests).

pub fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::clock::now_ms()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.now_ms)
    }
}
