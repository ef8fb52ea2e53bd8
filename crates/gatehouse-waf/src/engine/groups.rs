//! Target lists made only of request data, evaluated as lists of value
//! ids: enumerated once per phase, their values' transformed forms and
//! prefilter bits known by id, and per (list, chain) each value's bits,
//! so a rule looks only at the values that hold one of its literals.

use super::eval::LinkTest;
use super::memo::{GroupValue, Memo};
use super::prefilter::{self, Prefilter};
use super::shapes::Kept;
use super::{Engine, Transaction};
use crate::compile::{CompiledRule, Key, Link, Var, VariableRef};

/// A target list as one link sees it: its values, the keys `ctl` removed
/// for the rule (per variable), each value's bits for the link's chain.
pub(super) struct GroupInput<'a> {
    pub list: &'a [GroupValue],
    pub removed: Option<&'a [Vec<&'a Key>]>,
    pub pair_bits: Option<&'a [u32]>,
    /// The link's key when its verdicts may be remembered (its operator
    /// expands no macros).
    pub key: Option<u32>,
}

/// A link whose target list is known: the list, its group, (list,
/// chain) pair and chain ids, its prefilter slot, whether it keeps
/// matched names and values.
pub(super) struct ListedLink<'a> {
    pub list: &'a [GroupValue],
    pub group: usize,
    pub pair: usize,
    pub chain: u32,
    pub filter: Option<(&'a Prefilter, u32)>,
    pub keep: bool,
    /// See `GroupInput::key`.
    pub key: Option<u32>,
}

/// Marks a group's excluded set (see `Transaction::group_excluded_set`)
/// whose variables have values not remembered.
const UNKNOWN: u32 = 1 << 31;

/// What an excluded-set entry says of `slot` on its own: `Some(false)`
/// when the slot is not in the set, `Some(true)` when it is and the group
/// has no value not remembered, `None` when such values must be judged
/// by the link (see `Transaction::unknown_lack`).
fn entry_says(entry: u32, slot: u32, memo: &Memo) -> Option<bool> {
    if !prefilter::has(memo.bitset(entry & !UNKNOWN), slot) {
        return Some(false);
    }
    (entry & UNKNOWN == 0).then_some(true)
}

/// What a link's values did: name and transformed value of each match.
pub(super) type Matched = Vec<(String, Vec<u8>)>;

impl Transaction {
    /// Makes the values of target group `g` (whose variables are
    /// `link`'s) known in the memo; `false` when one is not request data
    /// that stays put.
    pub(super) fn group_values(
        &self,
        engine: &Engine,
        g: usize,
        link: &Link,
        memo: &mut Memo,
    ) -> bool {
        if memo.groups.known(g) {
            return true;
        }
        let Some(refs) = engine.group_refs.get(g) else {
            return false;
        };
        let mut out = memo.groups.buffer(g);
        for (i, (v, r)) in link.variables.iter().zip(refs).enumerate() {
            let variable = u16::try_from(i).unwrap_or(u16::MAX);
            let r = *r as usize;
            if !self.sub_known(v, r, memo) {
                memo.groups.put(g, out, false);
                return false;
            }
            out.extend(
                memo.subs
                    .get(r)
                    .iter()
                    .map(|&(id, key)| GroupValue { id, variable, key }),
            );
        }
        memo.groups.put(g, out, true);
        true
    }

    /// The ids of one variable's values and keys into `out`; `false` when
    /// one is not request data that stays put.
    fn sub_values(
        &self,
        v: &VariableRef,
        memo: &mut Memo,
        out: &mut Vec<(u32, Option<u32>)>,
    ) -> bool {
        let mut stable = true;
        self.all_values(v, &mut |value| {
            let key_stable = !matches!(value.key, Some(std::borrow::Cow::Owned(_)));
            if !value.stable || !key_stable {
                stable = false;
                return;
            }
            let id = match v.var {
                Var::RequestBody => memo.body_id(&value.value),
                // (Only a header is a credential: no name compared for
                // the other variables.)
                Var::RequestHeaders => memo.id_kept(&value.value, !value.is_credential()),
                _ => memo.id_kept(&value.value, true),
            } as u32;
            let key = value.key.as_ref().map(|k| memo.id(k) as u32);
            out.push((id, key));
        });
        stable
    }

    /// A link over a known target list: `None` when the union of the
    /// list's prefilter bits (made once per (list, chain) pair) lacks the
    /// link's literal, else what its values matched.
    pub(super) fn eval_listed(
        &mut self,
        engine: &Engine,
        rule: &CompiledRule,
        link: &Link,
        at: ListedLink<'_>,
        memo: &mut Memo,
    ) -> Option<Matched> {
        let ListedLink {
            list,
            group: g,
            pair,
            chain: c,
            filter,
            keep,
            key,
        } = at;
        let mut pair_bits = None;
        let always = filter.is_some_and(|(f, slot)| f.is_always(slot));
        let remembers = memo.remembers();
        // (For `multiMatch` too: its slot is excluded only by a miss.)
        if let (Some((f, slot)), false, true) = (filter, link.negated, remembers) {
            if self.group_refuted(engine, g, (link, c), (f, slot), memo) {
                return None;
            }
        }
        if let (Some((f, slot)), false) = (filter, link.negated || link.multi_match || always) {
            if self.unions.get(pair).is_some_and(Option::is_none) {
                if self.group_raw.get(g).is_some_and(Option::is_none) {
                    let classes = Self::raw_classes(list, memo);
                    if let Some(at) = self.group_raw.get_mut(g) {
                        *at = Some(classes);
                    }
                }
                // No value holds bytes the chain would change in a way the
                // search could see: their own bits.
                let search = self.chain_triggers(c).1;
                let raw = matches!(
                    self.group_raw.get(g),
                    Some(Some(classes))
                        if search != crate::transform::class::ALL && search & classes == 0
                );
                let union = self.union(list, link, c, raw, f, pair, memo);
                if let Some(u) = self.unions.get_mut(pair) {
                    *u = Some(union);
                }
            }
            if let Some(Some(b)) = self.unions.get(pair) {
                if !prefilter::has(memo.bitset(*b), slot) {
                    return None;
                }
            }
            pair_bits = memo.pair_bits.take(pair);
        }
        let removed = self.removed_keys(rule, link);
        let matched = self.eval_group(
            link,
            c,
            filter,
            GroupInput {
                list,
                removed: removed.as_deref(),
                pair_bits: pair_bits.as_deref(),
                key,
            },
            keep,
            memo,
        );
        if let Some(bits) = pair_bits {
            memo.pair_bits.put(pair, bits, true);
        }
        Some(matched)
    }

    /// Per variable of the link, the keys `ctl` removed for this rule
    /// (`None`: nothing removed, the usual case).
    pub(super) fn removed_keys(&self, rule: &CompiledRule, link: &Link) -> Option<Vec<Vec<&Key>>> {
        // Most requests carry a removal (the CRS's 941010) that concerns
        // few rules: look before building the lists.
        let concerned = self
            .removed_targets
            .iter()
            .any(|(scope, t)| link.variables.iter().any(|v| v.var == t.var) && scope.covers(rule));
        if !concerned {
            return None;
        }
        let keys: Vec<Vec<&Key>> = link
            .variables
            .iter()
            .map(|v| self.removed_target_keys(v, rule))
            .collect();
        keys.iter().any(|k| !k.is_empty()).then_some(keys)
    }

    /// Whether no value of group `g` (whose variables are `link`'s) can
    /// match `link`'s slot, as far as this and earlier requests learnt:
    /// the slot is in the group's excluded set, and no value of its
    /// variables that is not remembered holds the slot's literal through
    /// the link's chain.
    pub(super) fn group_refuted(
        &mut self,
        engine: &Engine,
        g: usize,
        (link, chain): (&Link, u32),
        (f, slot): (&Prefilter, u32),
        memo: &mut Memo,
    ) -> bool {
        let Some(entry) = self.group_excluded_set(engine, g, link, memo) else {
            return false;
        };
        match entry_says(entry, slot, memo) {
            Some(says) => says,
            None => self.unknown_lack(g, chain, link, (f, slot), memo),
        }
    }

    /// What group `g`'s excluded set, if made, says of `slot` without the
    /// link (see `entry_says`): most rules a request reaches are decided
    /// here, without reading the rule.
    pub(super) fn excluded_says(&self, g: usize, slot: u32, memo: &Memo) -> Option<bool> {
        let entry = self.group_excluded.get(g).copied().flatten()?;
        entry_says(entry, slot, memo)
    }

    /// The slots no value of group `g` (whose variables are `link`'s) can
    /// match, as far as this and earlier requests learnt: a set in the
    /// memo, made once per phase from the sets of its variables (see
    /// `Memo::sub_excluded`, each made once per phase however many groups
    /// share it), marked with [`UNKNOWN`] when a variable has values not
    /// remembered. Nothing is excluded when the group has no value, or
    /// one that is not request data that stays put.
    ///
    /// Only the variables' lists are made, not the group's: most groups
    /// a request reaches are ruled out by this set, and never evaluated.
    fn group_excluded_set(
        &mut self,
        engine: &Engine,
        g: usize,
        link: &Link,
        memo: &mut Memo,
    ) -> Option<u32> {
        if let Some(Some(set)) = self.group_excluded.get(g) {
            return Some(*set);
        }
        if !memo.remembers() {
            return None;
        }
        let f = engine.prefilter.as_ref()?;
        let refs = engine.group_refs.get(g)?;
        // Kept by an earlier request with the same data (see `shapes`).
        let sources = engine.group_sources.get(g).copied().flatten();
        let key = match (engine.shapes.as_deref(), sources) {
            (Some(s), Some(sources)) => self.shape_key(s, g, sources).map(|k| (s, k)),
            _ => None,
        };
        let mut uses = 0;
        match key.as_ref().and_then(|(s, k)| s.group(k)) {
            Some(Kept::Set(kept)) => {
                let set = memo.push_bits(&kept.bits);
                let entry = (set < UNKNOWN).then_some(set)?;
                *self.group_excluded.get_mut(g)? = Some(entry);
                return Some(entry);
            }
            Some(Kept::Due(n)) => uses = n,
            None => {}
        }
        let all = memo.new_bitset(f);
        let mut first = true;
        let mut whole = true;
        let mut unknown = memo.group_unknown.buffer(g);
        for (v, r) in link.variables.iter().zip(refs) {
            let r = *r as usize;
            if !self.sub_known(v, r, memo) {
                memo.and_bitset(all, None);
                whole = false;
                break;
            }
            // A variable without values adds none to the list.
            if memo.subs.get(r).is_empty() {
                continue;
            }
            let set = memo.sub_excluded(r, f);
            memo.intersect_step(all, Some(set), first);
            unknown.extend_from_slice(memo.subs.aside(r));
            first = false;
        }
        let mark = if unknown.is_empty() { 0 } else { UNKNOWN };
        if let (Some((shapes, key)), true, 0) = (&key, whole, mark) {
            shapes.put_group(key, memo.bitset(all), uses);
        }
        memo.group_unknown.put(g, unknown, true);
        // (A memo holds far fewer than 2^31 sets.)
        let entry = (all < UNKNOWN).then_some(all | mark)?;
        *self.group_excluded.get_mut(g)? = Some(entry);
        Some(entry)
    }

    /// Makes variable `r`'s values (those of `v`) known in the memo;
    /// `false` when one is not request data that stays put.
    fn sub_known(&self, v: &VariableRef, r: usize, memo: &mut Memo) -> bool {
        if memo.subs.known(r) {
            return true;
        }
        let mut sub = memo.subs.buffer(r);
        let stable = self.sub_values(v, memo, &mut sub);
        memo.subs.put(r, sub, stable);
        stable
    }

    /// Whether no value of group `g` that is not remembered (listed when
    /// its excluded set was made) holds the literal of `link`'s slot
    /// through its chain. A slot without literals, or a `multiMatch` link
    /// (whose forms on the way the bits do not see), has only remembered
    /// misses to go by.
    fn unknown_lack(
        &self,
        g: usize,
        chain: u32,
        link: &Link,
        (f, slot): (&Prefilter, u32),
        memo: &mut Memo,
    ) -> bool {
        let unknown = memo.group_unknown.get(g).len();
        if unknown == 0 {
            return true;
        }
        if link.multi_match || f.is_always(slot) {
            return false;
        }
        let triggers = self.chain_triggers(chain);
        (0..unknown).all(|i| {
            let Some(&id) = memo.group_unknown.get(g).get(i) else {
                return false;
            };
            let b = memo.chain_bits(id, chain, triggers, &link.transforms, f);
            !prefilter::has(memo.bitset(b), slot)
        })
    }

    /// The byte classes of every value of a list as it is.
    pub(super) fn raw_classes(list: &[GroupValue], memo: &Memo) -> u32 {
        list.iter().fold(0, |c, v| c | memo.classes(v.id))
    }

    /// The union of the list's prefilter bits through the chain (a set in
    /// the memo), with each value's bits kept as the pair's list; `raw`:
    /// the chain cannot change what the search sees, the values' own bits
    /// hold.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn union(
        &self,
        list: &[GroupValue],
        link: &Link,
        chain: u32,
        raw: bool,
        f: &Prefilter,
        pair: usize,
        memo: &mut Memo,
    ) -> u32 {
        let triggers = self.chain_triggers(chain);
        let union = memo.new_bitset(f);
        let mut each = memo.pair_bits.buffer(pair);
        for v in list {
            let b = if raw {
                memo.raw_bits_id(v.id as usize, f)
            } else {
                memo.chain_bits(v.id, chain, triggers, &link.transforms, f)
            };
            if let Some(mask) = self.engine.chain_slots.get(chain as usize) {
                memo.exclude_absent(v.id as usize, f, mask, b);
            }
            let excluded = memo.excluded_id(v.id as usize);
            memo.or_bitset(union, b, excluded);
            each.push(b);
        }
        memo.pair_bits.put(pair, each, true);
        union
    }

    /// Evaluates a link over a list: values without the link's literals
    /// (by the pair's bits, else by their own) are passed over unless the
    /// operator is negated.
    pub(super) fn eval_group(
        &self,
        link: &Link,
        chain: u32,
        filter: Option<(&Prefilter, u32)>,
        input: GroupInput<'_>,
        keep: bool,
        memo: &mut Memo,
    ) -> Matched {
        let GroupInput {
            list,
            removed,
            pair_bits,
            key,
        } = input;
        // A slot without literals is for remembering misses only: no
        // scan of the values' forms.
        let refute = filter.filter(|_| !link.negated);
        let filter = filter.filter(|(f, slot)| !f.is_always(*slot));
        let mut matched = Vec::new();
        let mut op = LinkTest::new(self, link);
        // multiMatch: the value held while the memo changes.
        let mut bytes = Vec::new();
        let triggers = self.chain_triggers(chain);
        for (k, v) in list.iter().enumerate() {
            if let Some(keys) = removed.and_then(|r| r.get(usize::from(v.variable))) {
                // `ctl:ruleRemoveTarget*`: the whole collection (empty
                // name) or the values whose key the removal names.
                let gone = keys.iter().any(|key| match (key, v.key) {
                    (Key::Name(n), _) if n.is_empty() => true,
                    (key, Some(k)) => key.matches_bytes(memo.bytes(k)),
                    (_, None) => false,
                });
                if gone {
                    continue;
                }
            }
            if let (Some((_, slot)), Some(bits), false) = (filter, pair_bits, link.negated) {
                if bits
                    .get(k)
                    .is_some_and(|b| !prefilter::has(memo.bitset(*b), slot))
                {
                    continue;
                }
            }
            let mut test = |candidate: &[u8]| op.test(candidate);
            let known = key.and_then(|k| memo.verdict(v.id, k));
            let hit = if link.multi_match {
                if known == Some(false) {
                    continue;
                }
                let as_is = filter.and_then(|(f, slot)| {
                    (!prefilter::has(memo.raw_id(v.id, f).1, slot)).then_some(link.negated)
                });
                bytes.clear();
                bytes.extend_from_slice(memo.bytes(v.id));
                let hit = super::eval::multi_match(&link.transforms, &bytes, as_is, &mut test);
                if let (Some(k), None) = (key, known) {
                    memo.remember(v.id, k, hit.is_some(), refute);
                }
                hit
            } else {
                let (t, b) =
                    memo.lookup_id(v.id, chain, triggers, &link.transforms, filter.map(|f| f.0));
                let possible = match (filter, b) {
                    (Some((_, slot)), Some(b)) => prefilter::has(memo.bitset(b), slot),
                    _ => true,
                };
                let form = |memo: &Memo| match t {
                    Some(t) => memo.transformed(t).to_vec(),
                    None => memo.bytes(v.id).to_vec(),
                };
                let hit = match (possible, known) {
                    (false, _) => link.negated,
                    (true, Some(hit)) => hit,
                    (true, None) => {
                        let hit = match t {
                            Some(t) => test(memo.transformed(t)),
                            None => test(memo.bytes(v.id)),
                        };
                        if let Some(k) = key {
                            memo.remember(v.id, k, hit, refute);
                        }
                        hit
                    }
                };
                hit.then(|| if keep { form(memo) } else { Vec::new() })
            };
            if let Some(value) = hit {
                let name = if keep {
                    name(link, v, memo)
                } else {
                    String::new()
                };
                matched.push((name, value));
            }
        }
        matched
    }
}

/// The value's `MATCHED_VAR_NAME`.
fn name(link: &Link, v: &GroupValue, memo: &Memo) -> String {
    let collection = link
        .variables
        .get(usize::from(v.variable))
        .map_or("", |r| r.var.name());
    super::targets::var_name(collection, v.key.map(|k| memo.bytes(k)))
}
