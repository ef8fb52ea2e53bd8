//! Verified tokens, so a client sending the same token again does not pay
//! for the signature check again.
//!
//! Bounded, sharded by hash, keyed by a keyed hash of the token with the
//! whole token kept to compare (a hash collision cannot return someone
//! else's identity). An entry lives no longer than the token itself and is
//! void once the key set that verified it is replaced (`generation`).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 16;

struct Entry<V> {
    token: Box<str>,
    value: V,
    /// Unix seconds after which the entry is void.
    until: u64,
    generation: u64,
}

pub struct TokenCache<V> {
    shards: Vec<Mutex<HashMap<u64, Entry<V>>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<V: Clone> TokenCache<V> {
    /// Holds at most about `capacity` tokens (at least one per shard).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, HashMap<u64, Entry<V>>> {
        let i = (hash as usize) % SHARDS;
        // A poisoned shard only means a panic elsewhere mid-insert; the map
        // itself is still consistent.
        match self.shards.get(i) {
            Some(m) => m.lock().unwrap_or_else(PoisonError::into_inner),
            None => self.shards[0]
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    pub fn get(&self, token: &str, now: u64, generation: u64) -> Option<V> {
        let hash = self.hasher.hash_one(token);
        let mut shard = self.shard(hash);
        let entry = shard.get(&hash)?;
        if &*entry.token != token {
            return None;
        }
        if entry.until <= now || entry.generation != generation {
            shard.remove(&hash);
            return None;
        }
        Some(entry.value.clone())
    }

    pub fn insert(&self, token: &str, value: V, until: u64, generation: u64, now: u64) {
        if until <= now {
            return;
        }
        let hash = self.hasher.hash_one(token);
        let mut shard = self.shard(hash);
        if shard.len() >= self.per_shard && !shard.contains_key(&hash) {
            shard.retain(|_, e| e.until > now && e.generation == generation);
            if shard.len() >= self.per_shard {
                // Still full of live entries: make room by dropping the
                // one closest to expiry.
                if let Some(k) = shard.iter().min_by_key(|(_, e)| e.until).map(|(k, _)| *k) {
                    shard.remove(&k);
                }
            }
        }
        shard.insert(
            hash,
            Entry {
                token: token.into(),
                value,
                until,
                generation,
            },
        );
    }

    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i as u64).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_follow_the_key_generation() {
        let c = TokenCache::new(100);
        c.insert("a.b.c", 1, 200, 7, 100);
        assert_eq!(c.get("a.b.c", 150, 7), Some(1));
        assert_eq!(c.get("a.b.c", 200, 7), None, "void at its expiry");
        c.insert("a.b.c", 1, 200, 7, 100);
        assert_eq!(c.get("a.b.c", 150, 8), None, "void after a key rotation");
        assert_eq!(c.get("x.y.z", 150, 7), None);
        c.insert("old", 2, 50, 7, 100);
        assert_eq!(c.get("old", 60, 7), None, "already expired is not stored");
    }

    #[test]
    fn bounded() {
        let c = TokenCache::new(32);
        for i in 0..1000u64 {
            c.insert(&format!("t{i}"), i, 10_000 + i, 1, 0);
        }
        assert!(c.len() <= 32, "{}", c.len());
        assert_eq!(c.get("t999", 1, 1), Some(999));
    }
}
