//! The WAF's persistent collections (`IP`, `GLOBAL`, `initcol` ones) shared
//! by every gateway of a fleet through Redis, so that a counter such as the
//! seed's `IP:LOGIN_ATTEMPT` adds up failures seen by any node.
//!
//! The engine is synchronous and must never wait on the network, so the
//! store is three parts:
//! - a node-local mirror (a [`MemoryStore`], same semantics) that answers
//!   the engine's `load` and `update` at once;
//! - [`RedisStore::prefetch`], awaited by the gateway before WAF phase 1
//!   (bounded by the timeout), which copies the collections the request
//!   will open from Redis into the mirror;
//! - every `update` diffed before/after into Redis operations (integers
//!   become `HINCRBY` by the difference, so concurrent increments from
//!   several nodes add up) and queued to one background [`Writer`] that
//!   applies them in order.
//!
//! Redis failing (down, slow, queue full) never fails a request: the WAF
//! goes on with the node-local view, a rate-limited warning is logged and
//! the failure counted (Kong's `fault_tolerant` default for its limiters).
//!
//! Layout: one hash per collection, `<prefix><collection>:<key>`, a field
//! per variable and, as ModSecurity v2 stores them, `__expire_<variable>`
//! holding its expiry in Unix seconds, so every node honours `expirevar`.
//! Each write renews the hash's own `EXPIRE` (the collection timeout,
//! ModSecurity's `SecCollectionTimeout`, an hour) so idle keys go away.
//! Expiry times are absolute: nodes are expected to keep their clocks in
//! sync (NTP).
//!
//! [`MemoryStore`]: gatehouse_waf::collection::MemoryStore

mod ops;
mod store;
mod writer;

pub use ops::{collection_from, commands, diff, Op, EXPIRE_PREFIX};
pub use store::RedisStore;
pub use writer::Writer;

use gatehouse_core::Secret;
use std::time::Duration;

/// Idle collections vanish after this long (ModSecurity's
/// `SecCollectionTimeout` default), locally and in Redis.
pub const COLLECTION_TIMEOUT_SECS: u64 = 3600;

/// Where Redis is, with Kong's `redis_*` meanings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    pub host: String,
    pub port: u16,
    /// `AUTH` password; never logged.
    pub password: Option<Secret>,
    pub database: u32,
    /// How long a request may wait for its collections. Connecting and
    /// background writes get at least a second.
    pub timeout: Duration,
    /// Prepended to every key, so several fleets can share one Redis.
    pub prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            host: "127.0.0.1".into(),
            port: 6379,
            password: None,
            database: 0,
            timeout: Duration::from_millis(50),
            prefix: "gatehouse:".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let s = RedisSettings {
            password: Some("hunter2".into()),
            ..RedisSettings::default()
        };
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("<redacted>") && text.contains("6379"),
            "{text}"
        );
    }
}
