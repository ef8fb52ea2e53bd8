//! The bounded memories the engine shares between requests (values in
//! `recall`, target lists in `shapes`): entries by a seeded hash, in
//! shards so workers seldom wait on each other, each shard two
//! generations so what is used stays and the rest is forgotten.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, MutexGuard};

use super::KeyHasher;

/// Shards per memory.
pub(super) const SHARDS: usize = 16;

/// An entry's weight in its generation.
pub(super) trait Weighed {
    /// Bytes held, with the map's and the allocator's share.
    fn size(&self) -> usize;
    /// At most how many entries, and bytes, a newer generation holds.
    const LIMITS: (usize, usize);
}

type Map<T> = HashMap<u64, Arc<T>, BuildHasherDefault<KeyHasher>>;

/// Two generations of entries: when the newer is full it becomes the
/// older and the older is dropped; an entry found in the older moves
/// back to the newer.
pub(super) struct Generations<T> {
    young: Map<T>,
    old: Map<T>,
    young_bytes: usize,
}

impl<T> Default for Generations<T> {
    fn default() -> Self {
        Generations {
            young: Map::default(),
            old: Map::default(),
            young_bytes: 0,
        }
    }
}

/// What a hash finds.
pub(super) enum Lookup<T> {
    /// An entry the caller took for its own.
    Found(Arc<T>),
    /// Another entry under the same hash (a collision): a miss.
    Other,
    Absent,
}

impl<T: Weighed> Generations<T> {
    /// The entry under `hash` when `is_it` says it is the one sought; one
    /// found in the older generation moves to the newer, and another
    /// found there is dropped.
    pub fn get(&mut self, hash: u64, is_it: impl Fn(&T) -> bool) -> Lookup<T> {
        if let Some(e) = self.young.get(&hash) {
            return match is_it(e) {
                true => Lookup::Found(e.clone()),
                false => Lookup::Other,
            };
        }
        let Some(e) = self.old.remove(&hash) else {
            return Lookup::Absent;
        };
        if !is_it(&e) {
            return Lookup::Other;
        }
        self.insert(hash, e.clone());
        Lookup::Found(e)
    }

    /// The entry under `hash`, where it is.
    pub fn peek(&self, hash: u64) -> Option<&Arc<T>> {
        self.young.get(&hash).or_else(|| self.old.get(&hash))
    }

    /// Puts `entry` under `hash` in the newer generation, in place of any
    /// other.
    pub fn insert(&mut self, hash: u64, entry: Arc<T>) {
        let size = entry.size();
        let (count, bytes) = T::LIMITS;
        if self.young.len() >= count || self.young_bytes + size > bytes {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += size;
        self.old.remove(&hash);
        if let Some(previous) = self.young.insert(hash, entry) {
            self.young_bytes = self.young_bytes.saturating_sub(previous.size());
        }
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// A memory's shards, and the seed its hashes are made with.
pub(super) struct Shards<S> {
    shards: Box<[Mutex<S>]>,
    pub seed: u64,
}

impl<S: Default> Shards<S> {
    /// Empty shards with a per-process seed (`tag` tells memories
    /// apart): which contents share a hash cannot be worked out from
    /// outside to push others out.
    pub fn new(tag: u64) -> Shards<S> {
        let seed = std::collections::hash_map::RandomState::new();
        Shards {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seed: std::hash::BuildHasher::hash_one(&seed, tag),
        }
    }

    /// The shard of `hash`, locked.
    pub fn lock(&self, hash: u64) -> Option<MutexGuard<'_, S>> {
        let shard = self.shards.get(hash as usize % SHARDS)?;
        // A poisoned shard only means a panic elsewhere mid-insert; its
        // maps are whole, so go on with them.
        Some(shard.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The sum of `count` over the shards, each locked in turn.
    pub fn sum(&self, count: impl Fn(&S) -> usize) -> usize {
        self.shards
            .iter()
            .map(|s| count(&s.lock().unwrap_or_else(|e| e.into_inner())))
            .sum()
    }
}
