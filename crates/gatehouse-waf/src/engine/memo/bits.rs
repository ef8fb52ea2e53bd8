//! A memo's prefilter bits: each content scanned once, whichever value
//! or form holds it.

use super::{content_hash, index, Memo, Span};
use crate::engine::prefilter::Prefilter;
use crate::transform::{class, Transform};

impl Memo {
    /// The prefilter bits of some bytes of the arena (index of the set).
    /// `body`: for REQUEST_BODY's links only (see `ValueState::body`).
    pub(super) fn scan(&mut self, f: &Prefilter, span: Span, body: bool) -> u32 {
        let content = Span::of(&self.bytes, span);
        let hash = (content_hash(0, content), body);
        if let Some((seen, i)) = self.scanned.get(&hash) {
            if Span::of(&self.bytes, *seen) == content {
                return *i;
            }
        }
        self.words = f.words();
        let start = self.bits.len();
        self.bits.resize(start + self.words, 0);
        let i = index(start / self.words.max(1));
        if let Some(bits) = self.bits.get_mut(start..) {
            match body {
                true => f.add_body_candidates(content, bits),
                false => f.add_candidates(content, bits),
            }
        }
        self.scanned.entry(hash).or_insert((span, i));
        i
    }

    /// Byte classes and prefilter bits of a value as it is.
    pub(in crate::engine) fn raw(&mut self, value: &[u8], f: &Prefilter) -> (u32, &[u64]) {
        let id = self.id(value);
        self.raw_id(id as u32, f)
    }

    /// [`Memo::raw`] by id.
    pub(in crate::engine) fn raw_id(&mut self, id: u32, f: &Prefilter) -> (u32, &[u64]) {
        let id = id as usize;
        if self.states.get(id).is_none() {
            return (class::ALL, &[]);
        }
        let i = self.raw_bits_id(id, f);
        let classes = self.states.get(id).map_or(class::ALL, |s| s.classes);
        (classes, self.bitset(i))
    }

    /// The prefilter bits of value `id` through a chain, or as it is when
    /// the chain's form has none (index of the set).
    pub(in crate::engine) fn chain_bits(
        &mut self,
        id: u32,
        chain: u32,
        triggers: (u32, u32),
        transforms: &[Transform],
        f: &Prefilter,
    ) -> u32 {
        let (_, b) = self.lookup_id(id, chain, triggers, transforms, Some(f));
        b.unwrap_or_else(|| self.raw_bits_id(id as usize, f))
    }

    /// The prefilter bits of a value as it is (index of the set).
    pub(in crate::engine) fn raw_bits_id(&mut self, id: usize, f: &Prefilter) -> u32 {
        let Some(state) = self.states.get(id) else {
            return 0;
        };
        if let Some(i) = state.bits {
            return i;
        }
        let known = state.known.as_ref().and_then(|k| k.bits.clone());
        let i = match known {
            Some(bits) => self.push_bits(&bits),
            None => {
                let (span, body) = (state.bytes, state.body);
                if let Some(s) = self.states.get_mut(id) {
                    s.learned = true;
                }
                self.scan(f, span, body)
            }
        };
        if let Some(s) = self.states.get_mut(id) {
            s.bits = Some(i);
        }
        i
    }
}
