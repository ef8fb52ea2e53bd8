//! What earlier requests taught the engine about values. Most of a
//! request's values were seen before (a browser's User-Agent and Accept
//! headers, a client's cookies, the hot paths): such a value comes with
//! its byte classes, the forms each transformation chain made of it, their
//! prefilter bits and the verdicts of the operators that ran on them, so
//! only new values are transformed, scanned and tested. Everything kept
//! is a pure function of the value's bytes (operators whose argument
//! expands macros are never remembered), so a recalled answer is the
//! answer evaluation would give.
//!
//! Per engine (chain ids, slots and links are the engine's), bounded, and
//! keyed by content: a seeded hash picks the entry, then the bytes are
//! compared, so a collision costs a miss, never a wrong answer.

use std::hash::BuildHasherDefault;
use std::sync::Arc;

use super::generations::{Generations, Lookup, Shards, Weighed};
use super::KeyHasher;

/// Values longer than this are not remembered (bodies, large cookies:
/// rarely repeated, costly to keep).
pub(super) const MAX_LEN: usize = 2048;
/// A shard's newer generation holds at most this many values, or bytes
/// (see `Generations`).
const GENERATION_VALUES: usize = 256;
const GENERATION_BYTES: usize = 512 * 1024;
/// Hashes of values seen once, per shard: a value is remembered from its
/// second sighting on, so one-off values (ids in query strings, nonces)
/// cost a hash and a set insert, not a copy of all that was learnt.
const PROBATION: usize = 4096;

/// The remembered facts about one value.
pub(super) struct Known {
    pub content: Box<[u8]>,
    pub classes: u32,
    /// Prefilter bits of the value as it is.
    pub bits: Option<Box<[u64]>>,
    pub chains: Vec<KnownChain>,
    /// Operator verdicts (negation applied) by link key, sorted by key
    /// once stored (a value may carry a hundred).
    pub verdicts: Vec<(u32, bool)>,
    /// Slots of links that cannot match the value (see the memo's
    /// `ValueState::excluded`).
    pub excluded: Option<Box<[u64]>>,
}

/// What one chain made of a value.
pub(super) struct KnownChain {
    pub chain: u32,
    /// `None`: the chain left the value as it is.
    pub form: Option<Box<[u8]>>,
    pub bits: Option<Box<[u64]>>,
}

impl Weighed for Known {
    fn size(&self) -> usize {
        let words = |b: &Option<Box<[u64]>>| b.as_ref().map_or(0, |b| b.len() * 8);
        self.content.len()
            + words(&self.bits)
            + words(&self.excluded)
            + self
                .chains
                .iter()
                .map(|c| c.form.as_ref().map_or(0, |f| f.len()) + words(&c.bits) + 40)
                .sum::<usize>()
            + self.verdicts.len() * 8
            + 96
    }
    const LIMITS: (usize, usize) = (GENERATION_VALUES, GENERATION_BYTES);
}

impl Known {
    pub fn chain(&self, chain: u32) -> Option<&KnownChain> {
        self.chains.iter().find(|c| c.chain == chain)
    }

    pub fn verdict(&self, key: u32) -> Option<bool> {
        let at = self.verdicts.binary_search_by_key(&key, |v| v.0).ok()?;
        self.verdicts.get(at).map(|v| v.1)
    }

    /// Adds what `other` (about the same value) knows and this does not.
    pub fn absorb(&mut self, other: &Known) {
        if self.bits.is_none() {
            self.bits.clone_from(&other.bits);
        }
        match (&mut self.excluded, &other.excluded) {
            (Some(mine), Some(theirs)) => {
                for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                    *m |= t;
                }
            }
            (None, Some(theirs)) => self.excluded = Some(theirs.clone()),
            _ => {}
        }
        for c in &other.chains {
            match self.chains.iter_mut().find(|m| m.chain == c.chain) {
                Some(mine) if mine.bits.is_none() => mine.bits.clone_from(&c.bits),
                Some(_) => {}
                None => self.chains.push(KnownChain {
                    chain: c.chain,
                    form: c.form.clone(),
                    bits: c.bits.clone(),
                }),
            }
        }
        self.verdicts.extend_from_slice(&other.verdicts);
        self.sort();
    }

    /// Sorts the verdicts by key, one per key.
    fn sort(&mut self) {
        self.verdicts.sort_by_key(|v| v.0);
        self.verdicts.dedup_by_key(|v| v.0);
    }
}

#[derive(Default)]
struct Shard {
    values: Generations<Known>,
    seen_once: std::collections::HashSet<u64, BuildHasherDefault<KeyHasher>>,
}

/// The engine's memory of values (see the module's comment).
pub(super) struct Recall {
    shards: Shards<Shard>,
}

impl Recall {
    pub fn new() -> Recall {
        Recall {
            shards: Shards::new(0x6761_7465_686f_7573),
        }
    }

    /// The content hash a value is remembered by.
    pub fn hash(&self, value: &[u8]) -> u64 {
        super::memo::content_hash(self.shards.seed, value)
    }

    /// What is known of `value` (whose hash is `hash`), and whether what
    /// this request learns of it is worth keeping (it was seen before).
    pub fn get(&self, hash: u64, value: &[u8]) -> (Option<Arc<Known>>, bool) {
        let Some(mut shard) = self.shards.lock(hash) else {
            return (None, false);
        };
        match shard.values.get(hash, |k| *k.content == *value) {
            Lookup::Found(k) => return (Some(k), true),
            Lookup::Other => return (None, false),
            Lookup::Absent => {}
        }
        if shard.seen_once.remove(&hash) {
            return (None, true);
        }
        if shard.seen_once.len() >= PROBATION {
            shard.seen_once.clear();
        }
        shard.seen_once.insert(hash);
        (None, false)
    }

    /// Remembers `known`, merged with what another request stored for the
    /// same value meanwhile (two values of one request may be equal, each
    /// having learnt different things).
    pub fn put(&self, hash: u64, mut known: Known) {
        let Some(mut shard) = self.shards.lock(hash) else {
            return;
        };
        let current = shard
            .values
            .peek(hash)
            .filter(|k| k.content == known.content)
            .cloned();
        match current {
            Some(current) => known.absorb(&current),
            None => known.sort(),
        }
        shard.values.insert(hash, Arc::new(known));
    }

    /// How many values are remembered.
    pub fn len(&self) -> usize {
        self.shards.sum(|s| s.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(content: &[u8], chains: &[u32], verdicts: &[(u32, bool)]) -> Known {
        Known {
            content: content.into(),
            classes: 1,
            bits: None,
            chains: chains
                .iter()
                .map(|&chain| KnownChain {
                    chain,
                    form: Some(format!("form{chain}").into_bytes().into()),
                    bits: Some(vec![u64::from(chain)].into()),
                })
                .collect(),
            verdicts: verdicts.to_vec(),
            excluded: None,
        }
    }

    #[test]
    fn a_value_is_recalled_by_its_bytes_only() {
        let r = Recall::new();
        let h = r.hash(b"Mozilla/5.0");
        assert_ne!(h, r.hash(b"Mozilla/5.1"));
        // Seen once: not worth keeping yet; seen again: kept.
        assert!(!r.get(h, b"Mozilla/5.0").1);
        assert!(r.get(h, b"Mozilla/5.0").1);
        r.put(h, known(b"Mozilla/5.0", &[3], &[(7, true)]));
        let k = r.get(h, b"Mozilla/5.0").0.expect("remembered");
        assert_eq!(k.verdict(7), Some(true));
        assert_eq!(k.verdict(8), None);
        assert_eq!(
            k.chain(3).and_then(|c| c.form.as_deref()),
            Some(&b"form3"[..])
        );
        // Another value under the same hash (a collision) is not it.
        assert!(r.get(h, b"Mozilla/5.1").0.is_none());
        // Engines seed differently.
        assert_ne!(Recall::new().hash(b"Mozilla/5.0"), h);
    }

    #[test]
    fn what_two_requests_learnt_is_merged() {
        let r = Recall::new();
        let h = r.hash(b"v");
        r.put(h, known(b"v", &[1], &[(10, false)]));
        r.put(h, known(b"v", &[2], &[(11, true), (10, false)]));
        let k = r.get(h, b"v").0.expect("remembered");
        assert!(k.chain(1).is_some() && k.chain(2).is_some());
        assert_eq!((k.verdict(10), k.verdict(11)), (Some(false), Some(true)));
        assert_eq!(k.verdicts.len(), 2);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn memory_is_bounded_and_keeps_what_is_used() {
        let r = Recall::new();
        let used = b"used".to_vec();
        let hu = r.hash(&used);
        r.put(hu, known(&used, &[], &[]));
        for i in 0..20_000u32 {
            let v = i.to_le_bytes();
            r.put(r.hash(&v), known(&v, &[], &[]));
            // A value in use keeps moving back to the newer generation.
            if i % 64 == 0 {
                assert!(r.get(hu, &used).0.is_some(), "lost after {i}");
            }
        }
        assert!(
            r.len() <= 2 * super::super::generations::SHARDS * GENERATION_VALUES,
            "{}",
            r.len()
        );
        assert!(r
            .get(r.hash(&0u32.to_le_bytes()), &0u32.to_le_bytes())
            .0
            .is_none());
    }
}
