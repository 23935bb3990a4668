//! The `cache` import: small values a plugin wants back on a later call (an OAuth access
//! token, a signed provider JWT), kept in host memory per connection.
//!
//! Never written to disk: these are credentials, and losing them on restart only costs one
//! token exchange. Bounded per connection so a plugin cannot grow host memory without limit;
//! when full, expired entries go first, then the one closest to expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use switchboard_model::clock;

pub const MAX_KEY_BYTES: usize = 128;
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
pub const MAX_ENTRIES_PER_CONNECTION: usize = 64;

/// Key -> (value, expiry in gateway-clock ms).
type Entries = HashMap<String, (Vec<u8>, i64)>;

#[derive(Default)]
pub struct ConnectionCache {
    /// Per connection id.
    entries: Mutex<HashMap<String, Entries>>,
}

impl ConnectionCache {
    pub fn get(&self, connection: &str, key: &str) -> Option<Vec<u8>> {
        let now = clock::now_ms();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(connection)?.get(key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            _ => None,
        }
    }

    pub fn set(&self, connection: &str, key: String, value: Vec<u8>, ttl_ms: u64) {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return;
        }
        let now = clock::now_ms();
        let expires = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let conn = entries.entry(connection.to_string()).or_default();
        conn.retain(|_, (_, exp)| *exp > now);
        if conn.len() >= MAX_ENTRIES_PER_CONNECTION
            && !conn.contains_key(&key)
            && let Some(victim) = conn
                .iter()
                .min_by_key(|(_, (_, exp))| *exp)
                .map(|(k, _)| k.clone())
        {
            conn.remove(&victim);
        }
        conn.insert(key, (value, expires));
    }

    /// Forget a connection's entries, e.g. when its credentials change.
    pub fn clear_connection(&self, connection: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_connection_expire_and_stay_bounded() {
        let cache = ConnectionCache::default();
        cache.set("a", "token".into(), b"1".to_vec(), 60_000);
        assert_eq!(cache.get("a", "token"), Some(b"1".to_vec()));
        assert_eq!(cache.get("b", "token"), None);
        cache.set("a", "gone".into(), b"x".to_vec(), 0);
        assert_eq!(cache.get("a", "gone"), None);
        cache.set("a", "big".into(), vec![0; MAX_VALUE_BYTES + 1], 60_000);
        assert_eq!(cache.get("a", "big"), None);
        for i in 0..(MAX_ENTRIES_PER_CONNECTION * 2) {
            cache.set("a", format!("k{i}"), vec![1], 60_000 + i as u64);
        }
        let kept = cache.entries.lock().unwrap()["a"].len();
        assert!(kept <= MAX_ENTRIES_PER_CONNECTION);
    }
}
