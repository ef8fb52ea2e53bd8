//! What a memo learns for later requests: values recalled from the
//! engine's memory, verdicts and excluded slots kept, and the hand-over
//! to the recall when the memo clears.

use super::{index, push_span, Memo, Span};
use crate::engine::prefilter::Prefilter;
use crate::engine::recall::{Known, KnownChain};

impl Memo {
    /// A new bit set holding `bits`.
    pub(in crate::engine) fn push_bits(&mut self, bits: &[u64]) -> u32 {
        self.words = bits.len();
        let start = self.bits.len();
        self.bits.extend_from_slice(bits);
        index(start / self.words.max(1))
    }

    /// What an earlier request's `chain` made of value `id`: the form's
    /// index (`None`: unchanged) and its bits if they were scanned.
    pub(in crate::engine) fn recalled_chain(
        &mut self,
        id: usize,
        chain: u32,
    ) -> Option<(Option<u32>, Option<u32>)> {
        let known = self.states.get(id)?.known.clone()?;
        let c = known.chain(chain)?;
        let transformed = c.form.as_ref().map(|form| {
            let span = push_span(&mut self.bytes, form);
            self.transformed.push(span);
            index(self.transformed.len() - 1)
        });
        let bits = c.bits.as_ref().map(|b| self.push_bits(b));
        Some((transformed, bits))
    }

    /// The verdict of the link known by `key` on value `id`, if this or an
    /// earlier request worked it out.
    pub(in crate::engine) fn verdict(&self, id: u32, key: u32) -> Option<bool> {
        let state = self.states.get(id as usize)?;
        state
            .verdicts
            .iter()
            .find_map(|&(k, v)| (k == key).then_some(v))
            .or_else(|| state.known.as_ref()?.verdict(key))
    }

    /// Keeps a verdict worked out on value `id` (for this request, and
    /// for later ones when the value is remembered).
    /// `refute`: the prefilter and the link's slot, when a miss may leave
    /// the slot out of unions (see `ValueState::excluded`).
    pub(in crate::engine) fn remember(
        &mut self,
        id: u32,
        key: u32,
        verdict: bool,
        refute: Option<(&Prefilter, u32)>,
    ) {
        // A transaction tests a value with a link once: only later
        // requests can use the verdict, for a value that will be kept.
        if self.states.get(id as usize).is_none_or(|s| s.hash == 0) {
            return;
        }
        if let Some(state) = self.states.get_mut(id as usize) {
            state.verdicts.push((key, verdict));
            state.learned = true;
        }
        if let (false, Some((f, slot))) = (verdict, refute) {
            let i = self.excluded_set(id as usize, f);
            let at = i as usize * self.words + slot as usize / 64;
            if let Some(w) = self.bits.get_mut(at) {
                *w |= 1 << (slot % 64);
            }
        }
    }

    /// Adds to value `id`'s excluded slots those of `mask` (the slots of
    /// one chain's links) that its bits `bits`, through that chain, lack.
    pub(in crate::engine) fn exclude_absent(
        &mut self,
        id: usize,
        f: &Prefilter,
        mask: &[u64],
        bits: u32,
    ) {
        // (Within a transaction the unions already know this: it is for
        // later requests, for a value that will be kept.)
        if self.states.get(id).is_none_or(|s| s.hash == 0) {
            return;
        }
        let w = self.words;
        let b = bits as usize * w;
        // (With what earlier requests knew, when the value was recalled.)
        let current = self.excluded_id(id);
        let fresh = |memo: &Memo, k: usize| {
            let have = current
                .and_then(|e| memo.bits.get(e as usize * w + k))
                .copied();
            let absent = !memo.bits.get(b + k).copied().unwrap_or(u64::MAX);
            mask.get(k).copied().unwrap_or(0) & absent & !have.unwrap_or(0)
        };
        if (0..w).all(|k| fresh(self, k) == 0) {
            return;
        }
        let e = self.excluded_set(id, f);
        for k in 0..w {
            let add = fresh(self, k);
            if let Some(x) = self.bits.get_mut(e as usize * w + k) {
                *x |= add;
            }
        }
        if let Some(s) = self.states.get_mut(id) {
            s.learned = true;
        }
    }

    /// Value `id`'s excluded slots (index of the set), an empty set made
    /// for it when it has none.
    fn excluded_set(&mut self, id: usize, f: &Prefilter) -> u32 {
        if let Some(e) = self.excluded_id(id) {
            return e;
        }
        let e = self.new_bitset(f);
        if let Some(s) = self.states.get_mut(id) {
            s.excluded = Some(e);
        }
        e
    }

    /// Whether what is learnt about values outlives the transaction.
    pub(in crate::engine) fn remembers(&self) -> bool {
        self.recall.is_some()
    }

    /// The excluded slots of value `id` (index of the set), if any.
    pub(in crate::engine) fn excluded_id(&mut self, id: usize) -> Option<u32> {
        let state = self.states.get(id)?;
        if state.excluded.is_some() {
            return state.excluded;
        }
        let known = state.known.as_ref()?.excluded.clone()?;
        let i = self.push_bits(&known);
        if let Some(state) = self.states.get_mut(id) {
            state.excluded = Some(i);
        }
        Some(i)
    }

    /// The slots every remembered value of variable `r` (a known
    /// sub-list) excludes: a set made once per phase, empty when one of
    /// them excludes nothing, every slot when none is remembered. The
    /// values not remembered (new ones, long ones, credentials) have
    /// learnt nothing: they are set aside beside the list, for their own
    /// bits to decide (see `Transaction::unknown_lack`).
    pub(in crate::engine) fn sub_excluded(&mut self, r: usize, f: &Prefilter) -> u32 {
        if let Some(set) = self.subs.derived(r) {
            return set;
        }
        let all = self.new_bitset(f);
        let Some(list) = self.subs.take(r) else {
            return all;
        };
        let mut first = true;
        let mut emptied = false;
        let mut unknown = Vec::new();
        for &(id, _) in &list {
            if !self.remembered(id) {
                unknown.push(id);
                continue;
            }
            emptied = !self.intersect_excluded(all, id as usize, first);
            first = false;
            if emptied {
                break;
            }
        }
        if first {
            self.bitset_mut(all).fill(u64::MAX);
        }
        self.subs.put(r, list, true);
        self.subs.set_derived(r, all);
        if !emptied {
            self.subs.set_aside(r, unknown.into_iter());
        }
        all
    }

    /// [`Memo::intersect_step`] with value `id`'s excluded set, read where
    /// it is: a set only recalled is not copied into the arena first.
    fn intersect_excluded(&mut self, all: u32, id: usize, first: bool) -> bool {
        let recalled = match self.states.get(id) {
            Some(state) if state.excluded.is_none() => state.known.clone(),
            _ => None,
        };
        let Some(src) = recalled.as_ref().and_then(|k| k.excluded.as_deref()) else {
            let set = self.excluded_id(id);
            return self.intersect_step(all, set, first);
        };
        let dst = self.bitset_mut(all);
        if first {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
        } else {
            dst.iter_mut().zip(src).for_each(|(d, s)| *d &= s);
        }
        true
    }

    /// Whether value `id` is kept for later requests (what they learn of
    /// it is what refutes links for it).
    fn remembered(&self, id: u32) -> bool {
        self.states.get(id as usize).is_some_and(|s| s.hash != 0)
    }

    /// Hands what this transaction learnt about its values to the recall.
    pub(in crate::engine) fn export(&mut self) {
        let Some(recall) = self.recall.clone() else {
            return;
        };
        for state in &self.states {
            if !state.learned || state.hash == 0 {
                continue;
            }
            let words = |i: Option<u32>| i.map(|i| Box::<[u64]>::from(self.bitset(i)));
            let mut known = Known {
                content: Span::of(&self.bytes, state.bytes).into(),
                classes: state.classes,
                bits: words(state.bits),
                chains: state
                    .chains
                    .iter()
                    .map(|c| KnownChain {
                        chain: c.chain,
                        form: c.transformed.map(|t| self.transformed(t).into()),
                        bits: words(c.bits),
                    })
                    .collect(),
                verdicts: state.verdicts.clone(),
                excluded: words(state.excluded),
            };
            if let Some(earlier) = &state.known {
                known.absorb(earlier);
            }
            recall.put(state.hash, known);
        }
    }
}
