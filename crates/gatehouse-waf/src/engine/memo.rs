//! What a transaction has learnt about its request values: byte classes
//! and prefilter bits per value, transformed forms per (value, chain) when
//! a chain changes the value. One hash look-up per (value, link); the rest
//! is indexing.

pub(super) use super::lists::Lists;
use super::prefilter::Prefilter;
use super::recall::{Known, Recall, MAX_LEN};
use super::KeyHasher;
pub(super) use crate::hash::content_hash;
use crate::transform::{byte_classes, class, Transform};
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

mod bits;
mod learnt;
/// Values are request data that stays where it is for the transaction
/// (see `Value::stable`), so they are known by address and length, and
/// whether they are REQUEST_BODY's (see `ValueState::body`).
#[derive(Default)]
pub(super) struct Memo {
    index: HashMap<(usize, usize, bool), u32, BuildHasherDefault<KeyHasher>>,
    states: Vec<ValueState>,
    /// Cleared states whose lists keep their room for the next values.
    spare_states: Vec<ValueState>,
    /// Values as chains that changed them left them (spans of `bytes`).
    transformed: Vec<Span>,
    /// The bytes of values and of their forms, one arena.
    bytes: Vec<u8>,
    /// Prefilter bit sets, `words` each, one arena.
    bits: Vec<u64>,
    words: usize,
    /// Room to copy one set while another changes.
    scratch: Vec<u64>,
    /// Content hash to a scanned content (span of `bytes`) and its bit set:
    /// equal contents (REQUEST_URI and its raw form, a form two chains
    /// make) are scanned once.
    /// (Keyed by whether the scan was REQUEST_BODY's too.)
    scanned: HashMap<(u64, bool), (Span, u32), BuildHasherDefault<KeyHasher>>,
    /// Per target group (see `Engine::table`): its values, once per phase.
    pub groups: Lists<GroupValue>,
    /// Per (group, chain) pair: each value's prefilter bits (index in
    /// `bitsets`, aligned with the group's values).
    pub pair_bits: Lists<u32>,
    /// Per target group: its variables' values not remembered, listed
    /// with its excluded set (see `Transaction::group_excluded_set`).
    pub group_unknown: Lists<u32>,
    /// Per variable id (see `Engine::group_refs`): its values' ids and
    /// their keys' ids, once per phase however many groups share it.
    pub subs: Lists<(u32, Option<u32>)>,
    /// The engine's memory of values seen by earlier requests: read as
    /// values come, given what this transaction learnt when it clears.
    pub recall: Option<Arc<Recall>>,
    /// The transaction's per-group and per-pair tables, kept with the
    /// memo: allocated afresh, a zeroed table lands on new, uncached pages
    /// on every request.
    spare_tables: Vec<Vec<Option<u32>>>,
}

/// One value of a target group: its id here, which of the link's
/// variables it came from, and the id of its key (for its name).
#[derive(Clone, Copy)]
pub(super) struct GroupValue {
    pub id: u32,
    pub variable: u16,
    pub key: Option<u32>,
}

struct ValueState {
    /// The value's bytes (span of `Memo::bytes`): target lists are kept
    /// as ids (see `groups`).
    bytes: Span,
    classes: u32,
    /// Prefilter bits of the value as it is (index in `bitsets`).
    bits: Option<u32>,
    /// Chains that may change the value: what they made of it.
    chains: Vec<ChainState>,
    /// What each sequence of transformations that acted on the value made
    /// of it (index in `transformed`, `None`: unchanged) and that form's
    /// byte classes: chains that differ only in transformations with
    /// nothing to do on this value share the work.
    steps: Vec<(StepKey, Option<u32>, u32)>,
    /// Operator verdicts by link key (see `Memo::verdict`).
    verdicts: Vec<(u32, bool)>,
    /// The slots of links known not to match the value (index in
    /// `bitsets`): their literals are absent from its form through the
    /// link's chain, or the operator ran and missed. Kept for values
    /// worth remembering; a target list whose every value excludes a
    /// rule's first link skips the rule before it is evaluated.
    excluded: Option<u32>,
    /// Known as REQUEST_BODY's (a long one, see `Memo::body_id`): its
    /// prefilter bits are those of the links that read REQUEST_BODY only
    /// (see `Prefilter::add_body_candidates`), so no other link is given
    /// this id, and it is not remembered.
    body: bool,
    /// The value's content hash for the recall (0: not remembered), what
    /// earlier requests knew of it, and whether this one learnt more.
    hash: u64,
    known: Option<Arc<Known>>,
    learned: bool,
}

/// A sequence of transformations that acted on a value, kept inline (a
/// longer one is not remembered).
#[derive(Clone, Copy, PartialEq, Eq)]
struct StepKey {
    len: u8,
    steps: [Transform; 15],
}

impl StepKey {
    const EMPTY: StepKey = StepKey {
        len: 0,
        steps: [Transform::None; 15],
    };

    /// Adds a step; `false` when the key is full.
    fn push(&mut self, t: Transform) -> bool {
        match self.steps.get_mut(usize::from(self.len)) {
            Some(at) => {
                *at = t;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

#[derive(Clone, Copy)]
struct ChainState {
    chain: u32,
    /// Index in `transformed`; `None`: the chain left the value as it is.
    transformed: Option<u32>,
    bits: Option<u32>,
}

/// A run of an arena.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn of<T>(arena: &[T], span: Span) -> &[T] {
        let start = span.start as usize;
        arena
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }
}

/// Appends `value` to an arena.
fn push_span(arena: &mut Vec<u8>, value: &[u8]) -> Span {
    let start = index(arena.len());
    arena.extend_from_slice(value);
    Span {
        start,
        len: index(value.len()),
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

thread_local! {
    /// Memos given back (see `Transaction::give_back_memo`), cleared with
    /// their tables' room kept: a request reuses one instead of growing
    /// new tables.
    // Boxed: a memo moves between the spares and transactions several
    // times a request, a pointer instead of the whole struct.
    #[allow(clippy::vec_box)]
    static SPARE: std::cell::RefCell<Vec<Box<Memo>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// At most this many spare memos per thread. A transaction gives its
/// memo back when its request phases end, so a worker mostly reuses one
/// or two; those between phase 1 and a body still arriving hold theirs.
/// A memo keeps some tens of kilobytes.
const SPARES: usize = 64;

impl Memo {
    /// A cleared memo, reused when this thread has one.
    pub(super) fn take(recall: Option<Arc<Recall>>) -> Box<Memo> {
        let mut memo: Box<Memo> = SPARE
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        memo.recall = recall;
        memo
    }

    /// Hands a memo back for reuse (not one a huge request grew: its room
    /// is not worth keeping).
    pub(super) fn give_back(mut self: Box<Self>) {
        self.export();
        self.recall = None;
        if self.states.capacity() > 4096 || self.bytes.capacity() > 1 << 20 {
            return;
        }
        self.clear();
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARES {
                s.push(self);
            }
        });
    }

    /// A table of `n` empty entries.
    pub(super) fn table(&mut self, n: usize) -> Vec<Option<u32>> {
        let mut table = self.spare_tables.pop().unwrap_or_default();
        table.clear();
        table.resize(n, None);
        table
    }

    /// Keeps a table [`Memo::table`] gave for the next transaction.
    pub(super) fn return_table(&mut self, table: Vec<Option<u32>>) {
        if self.spare_tables.len() < 3 {
            self.spare_tables.push(table);
        }
    }

    pub(super) fn clear(&mut self) {
        self.export();
        self.clear_groups();
        self.index.clear();
        for mut state in self.states.drain(..) {
            state.chains.clear();
            state.steps.clear();
            state.verdicts.clear();
            state.known = None;
            self.spare_states.push(state);
        }
        self.transformed.clear();
        self.bytes.clear();
        self.bits.clear();
        self.scanned.clear();
    }

    /// Target groups and their unions: the body adds values to them.
    pub(super) fn clear_groups(&mut self) {
        self.subs.forget_all();
        self.groups.forget_all();
        self.group_unknown.forget_all();
        self.pair_bits.forget_all();
    }

    /// The bytes of a value known by id.
    pub(super) fn bytes(&self, id: u32) -> &[u8] {
        self.states
            .get(id as usize)
            .map_or(&[][..], |s| Span::of(&self.bytes, s.bytes))
    }

    /// A value's id; it must stay put for the transaction.
    pub(super) fn id(&mut self, value: &[u8]) -> usize {
        self.id_kept(value, true)
    }

    /// A value's id; `recall: false` keeps the recall from seeing it
    /// (credentials), whatever later asks for the same value. The first
    /// caller decides: every path to a value knows its name.
    pub(super) fn id_kept(&mut self, value: &[u8], recall: bool) -> usize {
        self.id_as(value, recall, false)
    }

    /// The id of REQUEST_BODY's value: apart from any other value's with
    /// the same bytes when it is too long to be remembered (see
    /// `ValueState::body`); a short one is scanned in full, remembered
    /// and recalled like any value.
    pub(super) fn body_id(&mut self, value: &[u8]) -> usize {
        match value.len() > MAX_LEN {
            true => self.id_as(value, false, true),
            false => self.id_as(value, true, false),
        }
    }

    fn id_as(&mut self, value: &[u8], recall: bool, body: bool) -> usize {
        let at = (value.as_ptr() as usize, value.len(), body);
        let next = index(self.states.len());
        let id = *self.index.entry(at).or_insert(next);
        if id == next {
            let bytes = push_span(&mut self.bytes, value);
            let mut state = self.spare_states.pop().unwrap_or_else(|| ValueState {
                bytes,
                classes: 0,
                bits: None,
                chains: Vec::new(),
                steps: Vec::new(),
                verdicts: Vec::new(),
                excluded: None,
                body,
                hash: 0,
                known: None,
                learned: false,
            });
            state.bytes = bytes;
            state.body = body;
            state.bits = None;
            state.excluded = None;
            state.learned = false;
            (state.hash, state.known) = match &self.recall {
                Some(r) if recall && !body && value.len() <= MAX_LEN => {
                    let hash = r.hash(value);
                    match r.get(hash, value) {
                        (known, true) => (hash, known),
                        (_, false) => (0, None),
                    }
                }
                _ => (0, None),
            };
            state.classes = match &state.known {
                Some(k) => k.classes,
                None => byte_classes(value),
            };
            self.states.push(state);
        }
        id as usize
    }

    pub(super) fn bitset(&self, i: u32) -> &[u64] {
        let start = i as usize * self.words;
        self.bits.get(start..start + self.words).unwrap_or_default()
    }

    /// A new bit set, all clear (a union to add sets to).
    pub(super) fn new_bitset(&mut self, f: &Prefilter) -> u32 {
        self.words = f.words();
        let start = self.bits.len();
        self.bits.resize(start + self.words, 0);
        index(start / self.words.max(1))
    }

    /// Adds set `src`, less the bits of set `except`, to set `dst`.
    pub(super) fn or_bitset(&mut self, dst: u32, src: u32, except: Option<u32>) {
        let Some(e) = except else {
            if let Some((d, s)) = self.pair_of_sets(dst, src) {
                d.iter_mut().zip(s).for_each(|(x, s)| *x |= s);
            }
            return;
        };
        let mut add = std::mem::take(&mut self.scratch);
        add.clear();
        let (s, e) = (self.bitset(src), self.bitset(e));
        if e.len() == s.len() {
            add.extend(s.iter().zip(e).map(|(s, e)| s & !e));
        } else {
            add.extend_from_slice(s);
        }
        for (x, a) in self.bitset_mut(dst).iter_mut().zip(&add) {
            *x |= a;
        }
        self.scratch = add;
    }

    /// Keeps in set `dst` only the bits also in `src` (`None`: clears it).
    pub(super) fn and_bitset(&mut self, dst: u32, src: Option<u32>) {
        match src {
            Some(src) => {
                if let Some((d, s)) = self.pair_of_sets(dst, src) {
                    d.iter_mut().zip(s).for_each(|(x, s)| *x &= s);
                }
            }
            None => self.bitset_mut(dst).fill(0),
        }
    }

    /// One step of intersecting sets into `all`: the first set is copied
    /// in, later ones narrow it, `None` (a set of nothing) empties it.
    /// `false` once `all` is empty for good.
    pub(super) fn intersect_step(&mut self, all: u32, set: Option<u32>, first: bool) -> bool {
        match set {
            None => {
                self.and_bitset(all, None);
                false
            }
            Some(s) if first => {
                self.or_bitset(all, s, None);
                true
            }
            Some(s) => {
                self.and_bitset(all, Some(s));
                true
            }
        }
    }

    pub(super) fn bitset_mut(&mut self, i: u32) -> &mut [u64] {
        let start = i as usize * self.words;
        self.bits
            .get_mut(start..start + self.words)
            .unwrap_or_default()
    }

    /// Set `dst` to change and set `src` to read (`None` when they are
    /// the same set).
    fn pair_of_sets(&mut self, dst: u32, src: u32) -> Option<(&mut [u64], &[u64])> {
        let w = self.words;
        let (d, s) = (dst as usize * w, src as usize * w);
        if d < s {
            let (low, high) = self.bits.split_at_mut_checked(s)?;
            Some((low.get_mut(d..d + w)?, high.get(..w)?))
        } else if s < d {
            let (low, high) = self.bits.split_at_mut_checked(d)?;
            Some((high.get_mut(..w)?, low.get(s..s + w)?))
        } else {
            None
        }
    }

    /// The byte classes of a value known by id.
    pub(super) fn classes(&self, id: u32) -> u32 {
        self.states
            .get(id as usize)
            .map_or(class::ALL, |s| s.classes)
    }

    /// The value through `transforms` (`None`: unchanged) and, with a
    /// filter, its prefilter bits. `value` must stay put for the
    /// transaction.
    pub(super) fn lookup(
        &mut self,
        value: &[u8],
        chain: u32,
        triggers: (u32, u32),
        transforms: &[Transform],
        filter: Option<&Prefilter>,
    ) -> (Option<&[u8]>, Option<&[u64]>) {
        let id = self.id(value) as u32;
        let (t, bits) = self.lookup_id(id, chain, triggers, transforms, filter);
        (t.map(|t| self.transformed(t)), bits.map(|b| self.bitset(b)))
    }

    /// A transformed form by its index.
    pub(super) fn transformed(&self, t: u32) -> &[u8] {
        self.transformed
            .get(t as usize)
            .map_or(&[][..], |span| Span::of(&self.bytes, *span))
    }

    /// [`Memo::lookup`] by id: the index of the transformed form (`None`:
    /// unchanged) and of the prefilter bits.
    pub(super) fn lookup_id(
        &mut self,
        id: u32,
        chain: u32,
        (triggers, search): (u32, u32),
        transforms: &[Transform],
        filter: Option<&Prefilter>,
    ) -> (Option<u32>, Option<u32>) {
        let all = class::ALL;
        let id = id as usize;
        let Some(state) = self.states.get(id) else {
            return (None, None);
        };
        let classes = state.classes;
        if triggers != all && triggers & classes == 0 {
            // The chain leaves this value as it is (the common case).
            let bits = filter.map(|f| self.raw_bits_id(id, f));
            return (None, bits);
        }
        let found = state.chains.iter().position(|c| c.chain == chain);
        let at = match found {
            Some(at) => at,
            None => {
                // The chain changes the value, maybe only its case: the
                // search ignores case, so the value's own bits hold then.
                let bits = match filter {
                    Some(f) if search != all && search & classes == 0 => {
                        Some(self.raw_bits_id(id, f))
                    }
                    _ => None,
                };
                let (transformed, bits) = match self.recalled_chain(id, chain) {
                    Some((transformed, known_bits)) => (transformed, known_bits.or(bits)),
                    None => {
                        if let Some(s) = self.states.get_mut(id) {
                            s.learned = true;
                        }
                        (self.apply(id, transforms), bits)
                    }
                };
                let Some(state) = self.states.get_mut(id) else {
                    return (None, None);
                };
                state.chains.push(ChainState {
                    chain,
                    transformed,
                    bits,
                });
                state.chains.len() - 1
            }
        };
        let Some(mut cs) = self.states.get(id).and_then(|s| s.chains.get(at)).copied() else {
            return (None, None);
        };
        if let (Some(f), None) = (filter, cs.bits) {
            let form = cs
                .transformed
                .and_then(|t| self.transformed.get(t as usize).copied());
            let i = match form {
                Some(span) => {
                    let body = match self.states.get_mut(id) {
                        Some(s) => {
                            s.learned = true;
                            s.body
                        }
                        None => false,
                    };
                    self.scan(f, span, body)
                }
                None => self.raw_bits_id(id, f),
            };
            cs.bits = Some(i);
            if let Some(c) = self.states.get_mut(id).and_then(|s| s.chains.get_mut(at)) {
                c.bits = Some(i);
            }
        }
        (cs.transformed, cs.bits)
    }

    /// The value through `transforms`, step by step: a transformation
    /// with nothing to act on is passed over, and each sequence of those
    /// that acted is applied once per value.
    fn apply(&mut self, id: usize, transforms: &[Transform]) -> Option<u32> {
        let state = self.states.get(id)?;
        let mut classes = state.classes;
        let mut current: Option<u32> = None;
        let mut key = StepKey::EMPTY;
        let mut keyed = true;
        for t in transforms {
            if t.leaves(classes) {
                continue;
            }
            keyed = keyed && key.push(*t);
            let state = self.states.get(id)?;
            if let Some((_, at, c)) = state.steps.iter().find(|(k, _, _)| keyed && *k == key) {
                (current, classes) = (*at, *c);
                continue;
            }
            let input: &[u8] = match current {
                Some(i) => self
                    .transformed
                    .get(i as usize)
                    .map_or(&[][..], |span| Span::of(&self.bytes, *span)),
                None => Span::of(&self.bytes, state.bytes),
            };
            let next = match t.apply(input) {
                Cow::Borrowed(s) if s.len() == input.len() => None,
                out => Some(out.into_owned()),
            };
            if let Some(v) = next {
                classes = byte_classes(&v);
                let span = push_span(&mut self.bytes, &v);
                self.transformed.push(span);
                current = Some(index(self.transformed.len() - 1));
            }
            if let (Some(state), true) = (self.states.get_mut(id), keyed) {
                state.steps.push((key, current, classes));
            }
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;

    #[test]
    fn set_operations_change_only_their_target() {
        let mut m = Memo::default();
        let a = m.push_bits(&[0b1111, 1]);
        let b = m.push_bits(&[0b0110, 0]);
        let e = m.push_bits(&[0b0010, 0]);
        let d = m.push_bits(&[0, 0]);
        m.or_bitset(d, b, Some(e));
        assert_eq!(m.bitset(d), &[0b0100, 0]);
        m.or_bitset(d, a, None);
        assert_eq!(m.bitset(d), &[0b1111, 1]);
        m.and_bitset(d, Some(b));
        assert_eq!(m.bitset(d), &[0b0110, 0]);
        // A target before its source in the arena.
        m.and_bitset(a, Some(e));
        assert_eq!(m.bitset(a), &[0b0010, 0]);
        m.or_bitset(a, d, None);
        assert_eq!(m.bitset(a), &[0b0110, 0]);
        // A set with itself is left as it is.
        m.and_bitset(a, Some(a));
        assert_eq!(m.bitset(a), &[0b0110, 0]);
        m.and_bitset(b, None);
        assert_eq!(m.bitset(b), &[0, 0]);
        assert_eq!(
            (m.bitset(e), m.bitset(d)),
            (&[0b0010, 0][..], &[0b0110, 0][..])
        );
    }
}
