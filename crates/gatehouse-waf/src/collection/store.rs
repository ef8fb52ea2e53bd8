//! Persistent collections (`initcol:ip=%{REMOTE_ADDR}`): kept per node in
//! memory here; a fleet-wide store (Redis) implements the same trait.
//! Updates are atomic per key, so counters such as the seed's
//! `IP:LOGIN_ATTEMPT` never lose increments between concurrent requests.

use super::Collection;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

pub trait PersistentStore: Send + Sync {
    /// The collection `name` for `key` as it is now (empty if unknown).
    fn load(&self, name: &str, key: &str, now: u64) -> Collection;
    /// Runs `change` on the stored collection atomically and keeps it.
    fn update(&self, name: &str, key: &str, now: u64, change: &mut dyn FnMut(&mut Collection));

    /// `setvar:name.var=+delta` (or `-`): [`PersistentStore::update`] with
    /// what the change is, so a shared store can add `delta` where it keeps
    /// the value, even for a variable new to this node (two nodes counting
    /// a first failure at once must make 2, not 1).
    fn add(
        &self,
        name: &str,
        key: &str,
        now: u64,
        var: &str,
        delta: i64,
        change: &mut dyn FnMut(&mut Collection),
    ) {
        let _ = (var, delta);
        self.update(name, key, now, change)
    }
}

struct Stored {
    collection: Collection,
    last_used: u64,
}

/// In-process store. A collection unused for `timeout` seconds is dropped
/// (ModSecurity's `SecCollectionTimeout`, default 3600), and at most
/// `max_keys` collections are kept (the least recently used go first).
pub struct MemoryStore {
    timeout: u64,
    max_keys: usize,
    map: Mutex<HashMap<(String, String), Stored>>,
}

impl MemoryStore {
    pub fn new(timeout: u64, max_keys: usize) -> MemoryStore {
        MemoryStore {
            timeout,
            max_keys: max_keys.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn key(name: &str, key: &str) -> (String, String) {
        (name.to_ascii_lowercase(), key.to_string())
    }

    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PersistentStore for MemoryStore {
    fn load(&self, name: &str, key: &str, now: u64) -> Collection {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(&Self::key(name, key)) {
            Some(s) if now.saturating_sub(s.last_used) < self.timeout => {
                let mut c = s.collection.clone();
                c.purge(now);
                c
            }
            _ => Collection::new(),
        }
    }

    fn update(&self, name: &str, key: &str, now: u64, change: &mut dyn FnMut(&mut Collection)) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let k = Self::key(name, key);
        if !map.contains_key(&k) && map.len() >= self.max_keys {
            let timeout = self.timeout;
            map.retain(|_, s| now.saturating_sub(s.last_used) < timeout);
            if map.len() >= self.max_keys {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        let stored = map.entry(k).or_insert_with(|| Stored {
            collection: Collection::new(),
            last_used: now,
        });
        if now.saturating_sub(stored.last_used) >= self.timeout {
            stored.collection = Collection::new();
        }
        stored.collection.purge(now);
        change(&mut stored.collection);
        stored.last_used = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::SetVar;
    use std::sync::Arc;

    #[test]
    fn counters_survive_between_requests_and_expire() {
        let store = MemoryStore::new(3600, 100);
        let add = SetVar::parse("ip.login_attempt=+1").unwrap_or_else(|e| panic!("{e}"));
        for t in 0..6 {
            store.update("IP", "10.0.0.1", t, &mut |c| {
                add.apply(c, "login_attempt", b"1", t)
            });
        }
        let c = store.load("ip", "10.0.0.1", 10);
        assert_eq!(c.get("login_attempt", 10), Some(&b"6"[..]));
        assert!(store.load("ip", "10.0.0.2", 10).is_empty());
        store.update("ip", "10.0.0.1", 10, &mut |c| {
            c.expire("login_attempt", 60, 10)
        });
        assert_eq!(
            store.load("ip", "10.0.0.1", 69).get("login_attempt", 69),
            Some(&b"6"[..])
        );
        assert!(store
            .load("ip", "10.0.0.1", 70)
            .get("login_attempt", 70)
            .is_none());
        assert!(
            store.load("ip", "10.0.0.1", 10 + 3600).is_empty(),
            "collection timeout"
        );
    }

    #[test]
    fn concurrent_increments_are_not_lost_and_keys_are_bounded() {
        let store = Arc::new(MemoryStore::new(3600, 3));
        let add = Arc::new(SetVar::parse("ip.n=+1").unwrap_or_else(|e| panic!("{e}")));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (store, add) = (store.clone(), add.clone());
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        store.update("ip", "a", 1, &mut |c| add.apply(c, "n", b"1", 1));
                    }
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        assert_eq!(store.load("ip", "a", 1).get("n", 1), Some(&b"1000"[..]));
        for (i, k) in ["b", "c", "d", "e"].iter().enumerate() {
            store.update("ip", k, 2 + i as u64, &mut |c| c.set("x", b"1".to_vec()));
        }
        assert!(store.len() <= 3);
        assert!(store.load("ip", "e", 6).get("x", 6).is_some());
    }
}
