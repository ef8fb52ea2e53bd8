//! What a transaction has learnt about its request values: byte classes
//! and prefilter bits per value, transformed forms per (value, chain) when
//! a chain changes the value. One hash look-up per (value, link); the rest
//! is indexing.

use super::prefilter::{Prefilter, Scans};
use super::KeyHasher;
use crate::transform::{apply_chain, byte_classes, class, Transform};
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Values are request data that stays where it is for the transaction
/// (see `Value::stable`), so they are known by address and length.
#[derive(Default)]
pub(super) struct Memo {
    index: HashMap<(usize, usize), u32, BuildHasherDefault<KeyHasher>>,
    states: Vec<ValueState>,
    /// Values as chains that changed them left them.
    transformed: Vec<Vec<u8>>,
    bitsets: Vec<Vec<u64>>,
    scans: Scans,
}

struct ValueState {
    classes: u32,
    /// Prefilter bits of the value as it is (index in `bitsets`).
    bits: Option<u32>,
    /// Chains that may change the value: what they made of it.
    chains: Vec<ChainState>,
}

#[derive(Clone, Copy)]
struct ChainState {
    chain: u32,
    /// Index in `transformed`; `None`: the chain left the value as it is.
    transformed: Option<u32>,
    bits: Option<u32>,
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Memo {
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.states.clear();
        self.transformed.clear();
        self.bitsets.clear();
        self.scans.clear();
    }

    fn id(&mut self, value: &[u8]) -> usize {
        let at = (value.as_ptr() as usize, value.len());
        let next = index(self.states.len());
        let id = *self.index.entry(at).or_insert(next);
        if id == next {
            self.states.push(ValueState {
                classes: byte_classes(value),
                bits: None,
                chains: Vec::new(),
            });
        }
        id as usize
    }

    fn bits_of(&mut self, value: &[u8], f: &Prefilter) -> u32 {
        let bits = self.scans.bits(f, value);
        self.bitsets.push(bits);
        index(self.bitsets.len() - 1)
    }

    /// The prefilter bits of the value as it is (index in `bitsets`).
    fn raw_bits(&mut self, id: usize, value: &[u8], f: &Prefilter) -> u32 {
        if let Some(i) = self.states.get(id).and_then(|s| s.bits) {
            return i;
        }
        let i = self.bits_of(value, f);
        if let Some(s) = self.states.get_mut(id) {
            s.bits = Some(i);
        }
        i
    }

    fn bitset(&self, i: u32) -> &[u64] {
        self.bitsets.get(i as usize).map_or(&[][..], Vec::as_slice)
    }

    /// Byte classes and prefilter bits of a value as it is.
    pub(super) fn raw(&mut self, value: &[u8], f: &Prefilter) -> (u32, &[u64]) {
        let id = self.id(value);
        let i = self.raw_bits(id, value, f);
        let classes = self.states.get(id).map_or(class::ALL, |s| s.classes);
        (classes, self.bitset(i))
    }

    /// The value through `transforms` (`None`: unchanged) and, with a
    /// filter, its prefilter bits. `value` must stay put for the
    /// transaction.
    pub(super) fn lookup(
        &mut self,
        value: &[u8],
        chain: u32,
        (triggers, search): (u32, u32),
        transforms: &[Transform],
        filter: Option<&Prefilter>,
    ) -> (Option<&[u8]>, Option<&[u64]>) {
        let all = class::ALL;
        let id = self.id(value);
        let Some(state) = self.states.get(id) else {
            return (None, None);
        };
        let classes = state.classes;
        if triggers != all && triggers & classes == 0 {
            // The chain leaves this value as it is (the common case).
            let bits = filter.map(|f| self.raw_bits(id, value, f));
            return (None, bits.map(|i| self.bitset(i)));
        }
        let found = state.chains.iter().position(|c| c.chain == chain);
        let at = match found {
            Some(at) => at,
            None => {
                // The chain changes the value, maybe only its case: the
                // search ignores case, so the value's own bits hold then.
                let bits = match filter {
                    Some(f) if search != all && search & classes == 0 => {
                        Some(self.raw_bits(id, value, f))
                    }
                    _ => None,
                };
                let transformed = match apply_chain(transforms, value) {
                    Cow::Owned(v) => {
                        self.transformed.push(v);
                        Some(index(self.transformed.len() - 1))
                    }
                    Cow::Borrowed(_) => None,
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
            let i = match cs.transformed {
                Some(t) => {
                    let v = self
                        .transformed
                        .get(t as usize)
                        .map_or(&[][..], Vec::as_slice);
                    let bits = self.scans.bits(f, v);
                    self.bitsets.push(bits);
                    index(self.bitsets.len() - 1)
                }
                None => self.raw_bits(id, value, f),
            };
            cs.bits = Some(i);
            if let Some(c) = self.states.get_mut(id).and_then(|s| s.chains.get_mut(at)) {
                c.bits = Some(i);
            }
        }
        let t = cs
            .transformed
            .and_then(|t| self.transformed.get(t as usize))
            .map(Vec::as_slice);
        (t, cs.bits.map(|i| self.bitset(i)))
    }
}
