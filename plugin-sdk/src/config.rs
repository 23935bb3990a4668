//! The current connection's non-secret configuration (account ids, sender numbers, base URLs).

use crate::SendError;

pub fn get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::channel::config::get(key)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::with_host(|h| h.config.get(key).cloned())
    }
}

/// A setting the plugin cannot work without; missing means a misconfigured connection.
pub fn require(key: &str) -> Result<String, SendError> {
    get(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SendError::misconfigured(key))
}
