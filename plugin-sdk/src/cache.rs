//! A small per-connection cache in host memory, for values worth reusing across calls: an
//! OAuth access token until it expires, a signed provider JWT for its useful life.
//!
//! Every plugin call runs on a fresh instance, so a plugin cannot keep anything itself. The
//! host keeps these entries in memory only (never on disk), scoped to the connection, and may
//! drop them at any time: always handle a miss.

/// The cached value, if present and not expired by the host clock.
pub fn get(key: &str) -> Option<Vec<u8>> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::cache::get(key)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.cache_get(key))
    }
}

/// Keep `value` for `ttl_ms` by the host clock. Keys over 128 bytes or values over 16 KiB
/// are silently not stored.
pub fn set(key: &str, value: &[u8], ttl_ms: u64) {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::cache::set(key, value, ttl_ms)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.cache_set(key, value, ttl_ms))
    }
}

/// The largest key and value the host stores.
pub const MAX_KEY_BYTES: usize = 128;
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
