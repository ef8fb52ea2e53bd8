//! A JWKS key set as the request path sees it: the last good set, swapped
//! whole when a fetch succeeds, plus the rate-limited "please fetch again"
//! a token with an unknown `kid` raises. Fetching itself (files, HTTPS) is
//! the binary's background work.

use crate::keys::VerifyKey;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Where a key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(String),
    /// `http://` or `https://` URL.
    Url(String),
}

/// One loaded key set.
pub struct KeySet {
    /// Changes with every successful load; verified-token cache entries
    /// of an older generation are void.
    pub generation: u64,
    by_kid: HashMap<String, Arc<VerifyKey>>,
}

/// The answer to "which key has this kid".
pub enum Lookup {
    Key(Arc<VerifyKey>, u64),
    Unknown,
    /// No key set was ever loaded: authentication is unavailable.
    NotLoaded,
}

pub struct Jwks {
    pub source: JwksSource,
    /// How long a fetched set is used before it is fetched again.
    pub ttl: Duration,
    /// Least time between two fetches asked for by unknown `kid`s.
    pub min_refetch_interval: Duration,
    /// Extra CA bundle for an https source (PEM file path).
    pub ca_file: Option<String>,
    /// Algorithm for fetched keys that do not name one (RSA without `alg`).
    pub fallback_alg: Option<jsonwebtoken::Algorithm>,
    current: RwLock<Option<Arc<KeySet>>>,
    generations: AtomicU64,
    refetch_wanted: AtomicBool,
    /// Unix milliseconds of the last refetch request that was granted.
    last_refetch: AtomicU64,
}

impl Jwks {
    pub fn new(source: JwksSource, ttl: Duration, min_refetch_interval: Duration) -> Jwks {
        Jwks {
            source,
            ttl,
            min_refetch_interval,
            ca_file: None,
            fallback_alg: None,
            current: RwLock::new(None),
            generations: AtomicU64::new(0),
            refetch_wanted: AtomicBool::new(false),
            last_refetch: AtomicU64::new(0),
        }
    }

    pub fn lookup(&self, kid: &str) -> Lookup {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        match current.as_ref() {
            None => Lookup::NotLoaded,
            Some(set) => match set.by_kid.get(kid) {
                Some(k) => Lookup::Key(k.clone(), set.generation),
                None => Lookup::Unknown,
            },
        }
    }

    /// The generation of the current set (0 before the first load).
    pub fn generation(&self) -> u64 {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map_or(0, |s| s.generation)
    }

    pub fn is_loaded(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Installs a freshly fetched set. Keys without a `kid` cannot be
    /// selected by a token and are left out. Returns the number of keys.
    pub fn replace(&self, keys: Vec<VerifyKey>) -> usize {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let by_kid: HashMap<String, Arc<VerifyKey>> = keys
            .into_iter()
            .filter_map(|k| Some((k.kid()?.to_string(), Arc::new(k))))
            .collect();
        let n = by_kid.len();
        let set = Arc::new(KeySet { generation, by_kid });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(set);
        n
    }

    /// A token named a `kid` the set does not have: ask the fetcher for a
    /// new set, at most once per `min_refetch_interval` however many such
    /// tokens arrive. Returns whether this call asked.
    pub fn request_refetch(&self, now_ms: u64) -> bool {
        let interval = u64::try_from(self.min_refetch_interval.as_millis()).unwrap_or(u64::MAX);
        let last = self.last_refetch.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < interval && last != 0 {
            return false;
        }
        if self
            .last_refetch
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.refetch_wanted.store(true, Ordering::Release);
        true
    }

    /// For the fetcher: whether a refetch was asked for since last time.
    pub fn take_refetch_request(&self) -> bool {
        self.refetch_wanted.swap(false, Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    fn key(kid: &str) -> VerifyKey {
        VerifyKey::hmac(Algorithm::HS256, b"secret-secret-secret-secret-32b")
            .map(|k| k.with_kid(Some(kid.to_string())))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lookups_follow_replacements() {
        let j = Jwks::new(
            JwksSource::File("k.json".into()),
            Duration::from_secs(300),
            Duration::from_secs(10),
        );
        assert!(matches!(j.lookup("a"), Lookup::NotLoaded));
        assert_eq!(j.replace(vec![key("a")]), 1);
        let g1 = j.generation();
        assert!(matches!(j.lookup("a"), Lookup::Key(_, g) if g == g1));
        assert!(matches!(j.lookup("b"), Lookup::Unknown));
        j.replace(vec![key("b")]);
        assert!(j.generation() > g1);
        assert!(matches!(j.lookup("a"), Lookup::Unknown));
        assert!(matches!(j.lookup("b"), Lookup::Key(..)));
    }

    #[test]
    fn refetch_requests_are_rate_limited() {
        let j = Jwks::new(
            JwksSource::Url("https://idp/jwks".into()),
            Duration::from_secs(300),
            Duration::from_secs(10),
        );
        assert!(j.request_refetch(1_000_000));
        assert!(!j.request_refetch(1_000_001));
        assert!(!j.request_refetch(1_009_999));
        assert!(j.take_refetch_request());
        assert!(!j.take_refetch_request());
        assert!(j.request_refetch(1_010_000));
    }
}
