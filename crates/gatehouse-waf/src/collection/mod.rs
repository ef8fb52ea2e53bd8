//! Collections: `TX` for one transaction, and the persistent ones (`IP`,
//! `GLOBAL`, ...) that outlive it, with `setvar`, `expirevar` and macro
//! expansion as ModSecurity v3 does them.
//!
//! Variable names are case-insensitive (stored lowercase); values are
//! bytes. A persistent entry may carry an expiry time (Unix seconds).

mod macros;
mod name;
mod setvar;
mod store;

pub use macros::{expand, has_macros, Macro};
pub use name::Name;
pub use setvar::{SetVar, SetVarError, SetVarOp};
pub use store::{MemoryStore, PersistentStore};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    value: Bytes,
    /// Unix seconds after which the entry no longer exists.
    expires_at: Option<u64>,
}

/// Values up to this length (scores, flags, levels) live in the entry.
const INLINE: usize = 22;

/// A value: short ones inline, so the hundred TX variables the CRS sets
/// per request cost no allocation each.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bytes {
    Inline(u8, [u8; INLINE]),
    Heap(Vec<u8>),
}

impl Bytes {
    fn new(v: &[u8]) -> Bytes {
        match <[u8; INLINE]>::try_from(v).ok().or_else(|| {
            let mut buf = [0u8; INLINE];
            buf.get_mut(..v.len())?.copy_from_slice(v);
            Some(buf)
        }) {
            Some(buf) => Bytes::Inline(v.len() as u8, buf),
            None => Bytes::Heap(v.to_vec()),
        }
    }

    fn from_vec(v: Vec<u8>) -> Bytes {
        if v.len() <= INLINE {
            Bytes::new(&v)
        } else {
            Bytes::Heap(v)
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline(len, buf) => buf.get(..usize::from(*len)).unwrap_or_default(),
            Bytes::Heap(v) => v,
        }
    }

    fn set(&mut self, v: &[u8]) {
        match self {
            Bytes::Heap(h) if v.len() > INLINE => {
                h.clear();
                h.extend_from_slice(v);
            }
            _ => *self = Bytes::new(v),
        }
    }
}

/// One collection: an ordered-insensitive map of lowercase names to values.
/// Names are [`Name`]s: a rule's `setvar` hands its own.
#[derive(Debug, Clone, Default)]
pub struct Collection {
    entries: HashMap<Name, Entry, BuildHasherDefault<NameHasher>>,
    /// What this collection reads through to ([`Collection::over`]): every
    /// transaction's TX starts as the opening rules' TX, about a hundred
    /// names, so it shares that table and keeps only what it changes in
    /// `entries` instead of copying (and freeing) the table per request.
    base: Option<Arc<Collection>>,
    /// Names of `base` removed here.
    hidden: Vec<Name>,
    /// The [`sign`]s of the names ever put in `entries`: most reads of a
    /// layered TX are of names it never wrote, found in the base without
    /// a look-up here.
    signs: u64,
    /// Names added since [`Collection::track_additions`], when called: a
    /// transaction's TX starts from the same one every time, so a
    /// key regex reads what it selected there plus these, instead of
    /// testing every name.
    added: Option<Vec<Name>>,
}

/// Equal entries (what was added when, or read through, is not content).
impl PartialEq for Collection {
    fn eq(&self, other: &Collection) -> bool {
        if self.base.is_none() && other.base.is_none() {
            return self.entries == other.entries;
        }
        fn sorted(c: &Collection) -> Vec<(&str, &[u8], Option<u64>)> {
            let mut all: Vec<_> = c.entries().collect();
            all.sort_unstable();
            all
        }
        sorted(self) == sorted(other)
    }
}

impl Eq for Collection {}

/// Collection names are short and not attacker-chosen in bulk (TX names
/// come from rules), so the engine's content hash beats SipHash here.
#[derive(Default)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = crate::hash::content_hash(self.0, bytes);
    }
}

impl Collection {
    pub fn new() -> Collection {
        Collection::default()
    }

    /// Room for `n` names: the CRS sets about a hundred TX variables per
    /// request, which would otherwise regrow the table several times.
    pub fn with_capacity(n: usize) -> Collection {
        Collection {
            entries: HashMap::with_capacity_and_hasher(n, Default::default()),
            ..Collection::default()
        }
    }

    /// A collection that starts with `base`'s entries and reads them from
    /// `base` until it changes them (copy on write). Its own table has room
    /// for `n` names: the ones a request sets.
    pub fn over(base: Arc<Collection>, n: usize) -> Collection {
        // One level of reading through: a layered base is copied flat.
        let base = match base.base {
            Some(_) => {
                let mut flat = Collection::with_capacity(base.len());
                for (name, value, expires_at) in base.entries() {
                    flat.set(name, value.to_vec());
                    if let Some(e) = flat.local_mut(name) {
                        e.expires_at = expires_at;
                    }
                }
                Arc::new(flat)
            }
            None => base,
        };
        Collection {
            base: Some(base),
            ..Collection::with_capacity(n)
        }
    }

    /// The entry `name` (lowercase) names, here or read through.
    fn entry(&self, name: &str) -> Option<&Entry> {
        if self.signs & sign(name) != 0 {
            if let Some(e) = self.entries.get(name) {
                return Some(e);
            }
        }
        self.below(name).map(|(_, e)| e)
    }

    /// `name`'s entry in the base, unless removed here.
    fn below(&self, name: &str) -> Option<(&Name, &Entry)> {
        let base = self.base.as_ref()?;
        if self.hidden.iter().any(|h| h.as_str() == name) {
            return None;
        }
        base.entries.get_key_value(name)
    }

    /// `name`'s entry (lowercase) in this collection's own table, copied
    /// there from the base first if only the base has it.
    fn local_mut(&mut self, name: &str) -> Option<&mut Entry> {
        if self.signs & sign(name) == 0 || !self.entries.contains_key(name) {
            let (key, entry) = self.below(name).map(|(k, e)| (k.clone(), e.clone()))?;
            self.signs |= sign(name);
            return Some(self.entries.entry(key).or_insert(entry));
        }
        self.entries.get_mut(name)
    }

    /// Records the names added from now on (see [`Collection::added`]).
    pub fn track_additions(&mut self) {
        self.added = Some(Vec::new());
    }

    /// Names added since [`Collection::track_additions`], oldest first,
    /// including any removed since (and repeated if added again); `None`
    /// when not tracked.
    pub fn added(&self) -> Option<&[Name]> {
        self.added.as_deref()
    }

    /// Adds a name that is not in the collection (neither here nor read
    /// through).
    fn insert(&mut self, key: Name, value: Bytes) {
        if let Some(added) = &mut self.added {
            added.push(key.clone());
        }
        self.signs |= sign(&key);
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at: None,
            },
        );
    }

    /// The value of `name` at time `now`, if it exists and has not expired.
    pub fn get(&self, name: &str, now: u64) -> Option<&[u8]> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.get_lowercase(&name.to_ascii_lowercase(), now);
        }
        self.get_lowercase(name, now)
    }

    /// [`Collection::get`] for a name known to be lowercase: no copy.
    pub fn get_lowercase(&self, name: &str, now: u64) -> Option<&[u8]> {
        let e = self.entry(name)?;
        if e.expires_at.is_some_and(|t| t <= now) {
            return None;
        }
        Some(e.value.as_slice())
    }

    /// Sets `name`, keeping an expiry set earlier by `expirevar` (as
    /// ModSecurity: an update does not reset the timer).
    pub fn set(&mut self, name: &str, value: Vec<u8>) {
        if let Some(e) = self.local_mut(name) {
            e.value = Bytes::from_vec(value);
            return;
        }
        let key = name.to_ascii_lowercase();
        match self.local_mut(key.as_str()) {
            Some(e) => e.value = Bytes::from_vec(value),
            None => self.insert(Name::from(key), Bytes::from_vec(value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        if self.signs & sign(name) != 0 {
            self.entries.remove(name);
        }
        if let Some((key, _)) = self.below(name) {
            let key = key.clone();
            self.hidden.push(key);
        }
    }

    /// [`Collection::set`] from a borrowed value; `interned` is the
    /// lowercase name as the rule holds it, so a new entry costs no copy
    /// of it.
    pub fn set_bytes(&mut self, name: &str, interned: Option<&Name>, value: &[u8]) {
        if let Some(e) = self.local_mut(name) {
            e.value.set(value);
            return;
        }
        let key = match interned {
            Some(key) => key.clone(),
            // A name a macro made, usually lowercase already.
            None if !name.bytes().any(|b| b.is_ascii_uppercase()) => Name::from(name),
            None => return self.set(name, value.to_vec()),
        };
        self.insert(key, Bytes::new(value));
    }

    /// Adds `delta` to the number `name` holds (0 when it is absent or
    /// expired), saturating, in one look-up: the CRS adds to its scores
    /// on every request. An entry keeps its expiry, as with
    /// [`Collection::set`].
    pub fn add_int(&mut self, name: &str, interned: Option<&Name>, delta: i64, now: u64) {
        let lower;
        let name = if interned.is_none() && name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let mut digits = [0u8; 20];
        if let Some(e) = self.local_mut(name) {
            let live = e.expires_at.is_none_or(|t| t > now);
            let current = if live { to_int(e.value.as_slice()) } else { 0 };
            e.value
                .set(int_text(current.saturating_add(delta), &mut digits));
            return;
        }
        let key = match interned {
            Some(key) => key.clone(),
            None => Name::from(name),
        };
        self.insert(key, Bytes::new(int_text(delta, &mut digits)));
    }

    /// `expirevar`: `name` disappears `seconds` after `now`.
    pub fn expire(&mut self, name: &str, seconds: u64, now: u64) {
        if let Some(e) = self.local_mut(name.to_ascii_lowercase().as_str()) {
            e.expires_at = Some(now.saturating_add(seconds));
        }
    }

    /// Live entries, for `TX:/regex/` selectors and `&TX` counts.
    pub fn iter(&self, now: u64) -> impl Iterator<Item = (&str, &[u8])> {
        self.all()
            .filter(move |(_, e)| e.expires_at.is_none_or(|t| t > now))
            .map(|(k, e)| (k.as_ref(), e.value.as_slice()))
    }

    /// Every entry: this table's, then the base's it does not shadow.
    fn all(&self) -> impl Iterator<Item = (&Name, &Entry)> {
        let below = self.base.iter().flat_map(|b| b.entries.iter());
        self.entries.iter().chain(
            below.filter(|(k, _)| {
                !self.entries.contains_key(k.as_str()) && !self.hidden.contains(k)
            }),
        )
    }

    /// Every entry, expired or not, with its expiry (Unix seconds): what a
    /// shared store compares before and after a change to send only the
    /// difference.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8], Option<u64>)> {
        self.all()
            .map(|(k, e)| (k.as_ref(), e.value.as_slice(), e.expires_at))
    }

    /// Drops expired entries; a persistent store calls this before saving.
    pub fn purge(&mut self, now: u64) {
        if self.base.is_none() {
            self.entries
                .retain(|_, e| e.expires_at.is_none_or(|t| t > now));
            return;
        }
        let expired: Vec<Name> = self
            .all()
            .filter(|(_, e)| e.expires_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for name in expired {
            self.remove(&name);
        }
    }

    /// Room for `n` more names.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }

    pub fn len(&self) -> usize {
        match self.base {
            None => self.entries.len(),
            Some(_) => self.all().count(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One of 64 bits for a name, from its length and last byte: a filter
/// that costs less than hashing the name.
fn sign(name: &str) -> u64 {
    let last = name.as_bytes().last().copied().unwrap_or(0);
    1 << ((name.len() ^ usize::from(last)) & 63)
}

/// `n` in decimal, written into `buf` (20 bytes hold any `i64`).
fn int_text(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'-';
        }
    }
    buf.get(at..).unwrap_or_default()
}

/// Integer value of a collection entry or operand, as ModSecurity reads
/// numbers (`atoi`: leading space, sign, digits up to the first other
/// character; anything else is 0). Saturates instead of overflowing.
pub fn to_int(value: &[u8]) -> i64 {
    let s = value.trim_ascii_start();
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_entries_expire() {
        let mut c = Collection::new();
        c.set("Anomaly_Score", b"5".to_vec());
        assert_eq!(c.get("anomaly_score", 0), Some(&b"5"[..]));
        c.expire("ANOMALY_SCORE", 10, 100);
        c.set("anomaly_score", b"6".to_vec());
        assert_eq!(c.get("anomaly_score", 109), Some(&b"6"[..]));
        assert_eq!(
            c.get("anomaly_score", 110),
            None,
            "the timer survives updates"
        );
        assert_eq!(c.iter(110).count(), 0);
        assert_eq!(
            c.entries().collect::<Vec<_>>(),
            [("anomaly_score", &b"6"[..], Some(110))],
            "entries keep expired ones, with their expiry"
        );
        c.purge(110);
        assert!(c.is_empty());
    }

    #[test]
    fn short_and_long_values_round_trip_through_updates() {
        let mut c = Collection::new();
        let key = Name::interned("k");
        for len in [0usize, 1, 21, 22, 23, 64, 22, 3, 100, 0] {
            let v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            c.set_bytes("k", Some(&key), &v);
            assert_eq!(c.get("k", 0), Some(&v[..]), "set_bytes, {len} bytes");
            c.set("K", v.clone());
            assert_eq!(c.get("k", 0), Some(&v[..]), "set, {len} bytes");
        }
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn integers_are_added_in_place_as_text() {
        let mut c = Collection::new();
        let key = Name::interned("score");
        c.add_int("score", Some(&key), 5, 0);
        c.add_int("SCORE", None, -7, 0);
        assert_eq!(c.get("score", 0), Some(&b"-2"[..]));
        c.set("n", b"12abc".to_vec());
        c.add_int("n", None, i64::MAX, 0);
        assert_eq!(c.get("n", 0), Some(i64::MAX.to_string().as_bytes()));
        c.set("m", b"-9223372036854775807".to_vec());
        c.add_int("m", None, -5, 0);
        assert_eq!(c.get("m", 0), Some(i64::MIN.to_string().as_bytes()));
        // An expired entry counts from 0 and keeps its expiry.
        c.set("old", b"40".to_vec());
        c.expire("old", 10, 100);
        c.add_int("old", None, 2, 105);
        assert_eq!(c.get("old", 105), Some(&b"42"[..]));
        c.add_int("old", None, 3, 110);
        assert_eq!(c.get("old", 109), Some(&b"3"[..]));
        assert_eq!(c.get("old", 110), None, "still expired");
        for n in [0i64, 7, -1, 10, 99, -100, 123_456_789] {
            let mut buf = [0u8; 20];
            assert_eq!(int_text(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_layered_collection_reads_through_and_writes_its_own_copy() {
        let mut base = Collection::new();
        base.set("kept", b"1".to_vec());
        base.set("score", b"5".to_vec());
        base.set("gone", b"x".to_vec());
        base.set("timed", b"t".to_vec());
        let base = Arc::new(base);
        let mut c = Collection::over(base.clone(), 4);
        c.track_additions();
        assert_eq!(c, *base, "starts with the base's entries");
        c.add_int("SCORE", None, 2, 0);
        c.set_bytes("new", None, b"n");
        c.remove("Gone");
        c.expire("timed", 10, 100);
        assert_eq!(c.get("score", 0), Some(&b"7"[..]));
        assert_eq!(c.get("kept", 0), Some(&b"1"[..]));
        assert_eq!(c.get("gone", 0), None, "removed here, still in the base");
        assert_eq!(c.get("timed", 110), None);
        assert_eq!(
            base.get("score", 0),
            Some(&b"5"[..]),
            "the base is unchanged"
        );
        assert_eq!(base.get("gone", 0), Some(&b"x"[..]));
        assert_eq!(base.get("timed", 110), Some(&b"t"[..]));
        let mut live: Vec<_> = c.iter(110).collect();
        live.sort_unstable();
        assert_eq!(
            live,
            [
                ("kept", &b"1"[..]),
                ("new", &b"n"[..]),
                ("score", &b"7"[..])
            ],
            "each name once, the written value winning"
        );
        assert_eq!(c.len(), 4, "the expired one is still an entry");
        let added: Vec<&str> = c
            .added()
            .unwrap_or_default()
            .iter()
            .map(Name::as_str)
            .collect();
        assert_eq!(added, ["new"], "updating a base name adds nothing");
        c.set("gone", b"back".to_vec());
        assert_eq!(c.get("gone", 0), Some(&b"back"[..]));
        c.remove("gone");
        assert_eq!(c.get("gone", 0), None, "removed again");
        c.purge(110);
        assert_eq!(c.get("timed", 0), None, "purged, not read through again");
        let mut flat = Collection::new();
        for (k, v) in [("kept", "1"), ("new", "n"), ("score", "7")] {
            flat.set(k, v.as_bytes().to_vec());
        }
        assert_eq!(c, flat);
        let layered_twice = Collection::over(Arc::new(c.clone()), 1);
        assert_eq!(layered_twice, flat, "a layered base reads the same");
    }

    #[test]
    fn numbers_as_modsecurity_reads_them() {
        assert_eq!(to_int(b"  42abc"), 42);
        assert_eq!(to_int(b"-7"), -7);
        assert_eq!(to_int(b"+3"), 3);
        assert_eq!(to_int(b"abc"), 0);
        assert_eq!(to_int(b""), 0);
        assert_eq!(to_int(b"99999999999999999999999"), i64::MAX);
    }
}
