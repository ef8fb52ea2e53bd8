//! One phase: rules in order, chains, actions, flow control.

use super::prefilter::{self, Prefilter, Scans};
use super::targets::Value;
use super::{Action, Cached, Engine, Intervention, Match, Scope, Transaction, TransformCache};
use crate::collection::SetVar;
use crate::compile::{AllowScope, CompiledRule, Ctl, Disruptive, Link};
use crate::parse::EngineMode;
use crate::request::BodyProcessor;
use crate::transform::{apply_chain, byte_classes, Transform};
use std::borrow::Cow;

/// What a link's values did.
struct LinkResult {
    /// Name and transformed value of each value that matched.
    matched: Vec<(String, Vec<u8>)>,
}

impl Transaction {
    pub(super) fn run_phase(&mut self, phase: u8) -> Option<Intervention> {
        if self.intervention.is_some() {
            return self.intervention.clone();
        }
        if self.mode == EngineMode::Off
            || self.allowed == Some(AllowScope::All)
            || (self.allowed == Some(AllowScope::Request) && phase <= 2)
        {
            return None;
        }
        self.phase = phase;
        // Values may move between phases (the body is parsed before 2).
        self.memo.clear();
        self.unions.clear();
        self.group_raw.clear();
        let engine = self.engine.clone();
        let rules = engine.rules.phase(phase);
        // Taken for the phase so rules can borrow it alongside `self`.
        let mut memo = std::mem::take(&mut self.memo);
        let result = self.run_rules(&engine, rules, phase, &mut memo);
        self.memo = memo;
        result
    }

    fn run_rules(
        &mut self,
        engine: &Engine,
        rules: &[CompiledRule],
        phase: u8,
        memo: &mut Memo,
    ) -> Option<Intervention> {
        let mut i = 0;
        while i < rules.len() {
            let rule = &rules[i];
            i += 1;
            if self.removed.iter().any(|s| s.covers(rule))
                || !self.eval_rule(engine, rule, (phase, i - 1), memo)
            {
                continue;
            }
            let action = match resolved(rule) {
                Disruptive::Pass | Disruptive::Block => None,
                Disruptive::Allow(scope) => {
                    if *scope != AllowScope::Phase {
                        self.allowed = Some(*scope);
                    }
                    return None;
                }
                Disruptive::Deny => Some(Action::Deny),
                Disruptive::Drop => Some(Action::Drop),
                Disruptive::Redirect(url) => Some(Action::Redirect(self.expand_text(url))),
            };
            if let Some(action) = action {
                if self.mode == EngineMode::On {
                    let status = match action {
                        Action::Redirect(_) => rule.status.filter(|s| (300..400).contains(s)),
                        _ => rule.status,
                    };
                    let default = if matches!(action, Action::Redirect(_)) {
                        302
                    } else {
                        403
                    };
                    self.intervention = Some(Intervention {
                        status: status.unwrap_or(default),
                        action,
                        rule_id: rule.id,
                        phase,
                        msg: rule.msg.as_deref().map(|m| self.expand_text(m)),
                    });
                    self.rule = None;
                    return self.intervention.clone();
                }
            }
            if let Some(n) = rule.skip {
                i = i.saturating_add(n as usize);
            }
            if let Some(marker) = &rule.skip_after {
                let at = engine
                    .rules
                    .markers
                    .get(marker)
                    .map_or(rules.len(), |m| m[usize::from(phase) - 1]);
                i = if at >= i { at } else { rules.len() };
            }
        }
        self.rule = None;
        None
    }

    /// Evaluates a rule and its chain; on a full match runs the actions of
    /// every link (setvar, ctl...) and records the match.
    fn eval_rule(
        &mut self,
        engine: &Engine,
        rule: &CompiledRule,
        at: (u8, usize),
        memo: &mut Memo,
    ) -> bool {
        self.rule = Some(at);
        self.matched.clear();
        let phase = usize::from(at.0) - 1;
        let chains = engine.chains.get(phase).and_then(|p| p.get(at.1));
        let slots = engine.slots.get(phase).and_then(|p| p.get(at.1));
        let groups = engine.groups.get(phase).and_then(|p| p.get(at.1));
        for (i, link) in rule.links.iter().enumerate() {
            let chain = chains.and_then(|c| c.get(i)).copied();
            let filter = slots
                .and_then(|s| s.get(i))
                .copied()
                .flatten()
                .and_then(|slot| engine.prefilter.as_ref().map(|f| (f, slot)));
            let group = groups.and_then(|g| g.get(i)).copied().flatten();
            if let (Some(g), Some(c), Some((f, slot)), false) =
                (group, chain, filter, link.negated || link.multi_match)
            {
                if !self.unions.contains_key(&(g, c)) {
                    if !self.group_raw.contains_key(&g) {
                        let raw = self.raw_union(link, f, memo);
                        self.group_raw.insert(g, raw);
                    }
                    let search = self.chain_triggers(c).1;
                    let bits = match self.group_raw.get(&g) {
                        // No value holds bytes the chain would change in a
                        // way the search could see: the values' own bits.
                        Some(Some((classes, bits)))
                            if search != crate::transform::class::ALL && search & classes == 0 =>
                        {
                            bits.clone()
                        }
                        _ => self.union(link, c, f, memo),
                    };
                    self.unions.insert((g, c), bits);
                }
                if self
                    .unions
                    .get(&(g, c))
                    .is_some_and(|b| !prefilter::has(b, slot))
                {
                    // No value of the target list holds a literal the
                    // regex needs: it cannot match.
                    return false;
                }
            }
            let result = self.eval_link(rule, link, chain, filter, memo);
            if result.matched.is_empty() {
                return false;
            }
            // As libmodsecurity v3: a link's actions run for each value it
            // matched, with that value's captures and MATCHED_VAR, before
            // the next link is evaluated (CRS counts multipart part headers
            // and hands values down chains this way).
            let capture = link.capture && !link.negated && !link.operator.needs_expansion();
            for (name, value) in result.matched {
                if capture {
                    let mut caps = Vec::new();
                    if link.operator.matches(&value, Some(&mut caps)) {
                        self.set_captures(caps);
                    }
                }
                self.matched.push((name, value));
                self.run_actions(link);
            }
        }
        if let Some(s) = rule.severity {
            self.highest_severity = self.highest_severity.min(s);
        }
        if rule.log {
            self.matches.push(Match {
                rule_id: rule.id,
                phase: rule.phase,
                msg: rule.msg.as_deref().map(|m| self.expand_text(m)),
                severity: rule.severity,
                variables: self.matched.iter().map(|(n, _)| n.clone()).collect(),
                disruptive: matches!(
                    resolved(rule),
                    Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect(_)
                ),
            });
        }
        true
    }

    fn eval_link(
        &self,
        rule: &CompiledRule,
        link: &Link,
        chain: Option<u32>,
        filter: Option<(&Prefilter, u32)>,
        memo: &mut Memo,
    ) -> LinkResult {
        let mut result = LinkResult {
            matched: Vec::new(),
        };
        // SecAction: no variables, one empty value.
        if link.variables.is_empty() {
            if link.operator.matches(b"", None) != link.negated {
                result.matched.push((String::new(), Vec::new()));
            }
            return result;
        }
        let mut values: Vec<Value<'_>> = Vec::with_capacity(8);
        for v in &link.variables {
            self.values(v, rule, &mut values);
        }
        if values.is_empty() {
            return result;
        }
        let argument = link
            .operator
            .needs_expansion()
            .then(|| self.expand(&link.argument).into_owned());
        for value in &values {
            let mut test = |candidate: &[u8]| -> bool {
                let hit = match &argument {
                    Some(arg) => link.operator.matches_expanded(candidate, arg),
                    None => link.operator.matches(candidate, None),
                };
                hit != link.negated
            };
            let hit = if link.multi_match {
                multi_match(&link.transforms, &value.value, &mut test)
            } else if let (true, Some(chain)) = (value.stable, chain) {
                let triggers = self.chain_triggers(chain);
                let (t, bits) = memo.lookup(
                    &value.value,
                    chain,
                    triggers,
                    &link.transforms,
                    filter.map(|f| f.0),
                );
                let t: &[u8] = t.unwrap_or(&value.value);
                let possible = match (filter, bits) {
                    (Some((_, slot)), Some(bits)) => prefilter::has(bits, slot),
                    _ => true,
                };
                // A value without any of the regex's literals cannot match it.
                let hit = if possible { test(t) } else { link.negated };
                hit.then(|| t.to_vec())
            } else {
                let t = apply_chain(&link.transforms, &value.value);
                let possible =
                    filter.is_none_or(|(f, slot)| prefilter::has(&f.candidates(&t), slot));
                let hit = if possible { test(&t) } else { link.negated };
                hit.then(|| t.into_owned())
            };
            if let Some(transformed) = hit {
                result.matched.push((value.name(), transformed));
            }
        }
        result
    }

    /// The prefilter bits of every value of the link's targets, through
    /// the link's transformations (cached per value as `eval_link` does).
    fn union(&self, link: &Link, chain: u32, f: &Prefilter, memo: &mut Memo) -> Vec<u64> {
        let mut values: Vec<Value<'_>> = Vec::with_capacity(16);
        for v in &link.variables {
            self.all_values(v, &mut values);
        }
        let mut bits = f.empty();
        for value in &values {
            if value.stable {
                let triggers = self.chain_triggers(chain);
                let (_, c) = memo.lookup(&value.value, chain, triggers, &link.transforms, Some(f));
                for (b, c) in bits.iter_mut().zip(c.into_iter().flatten()) {
                    *b |= c;
                }
            } else {
                f.add_candidates(&apply_chain(&link.transforms, &value.value), &mut bits);
            }
        }
        bits
    }

    /// (what the chain may change, what a case-insensitive search sees).
    fn chain_triggers(&self, chain: u32) -> (u32, u32) {
        let all = crate::transform::class::ALL;
        self.engine
            .chain_triggers
            .get(chain as usize)
            .copied()
            .unwrap_or((all, all))
    }

    /// The byte classes and prefilter bits of every value of the link's
    /// targets as they are; `None` if one is not request data.
    fn raw_union(&self, link: &Link, f: &Prefilter, memo: &mut Memo) -> Option<(u32, Vec<u64>)> {
        let mut values: Vec<Value<'_>> = Vec::with_capacity(16);
        for v in &link.variables {
            self.all_values(v, &mut values);
        }
        let mut classes = 0;
        let mut bits = f.empty();
        for value in &values {
            if !value.stable {
                return None;
            }
            let (c, b) = memo.raw(&value.value, f);
            classes |= c;
            for (x, y) in bits.iter_mut().zip(b) {
                *x |= y;
            }
        }
        Some((classes, bits))
    }

    /// TX:0..9 from a capturing match.
    fn set_captures(&mut self, caps: Vec<Vec<u8>>) {
        const GROUPS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        for name in GROUPS {
            self.tx.remove(name);
        }
        for (name, c) in GROUPS.iter().zip(caps) {
            self.tx.set(name, c);
        }
    }

    fn run_actions(&mut self, link: &Link) {
        for (name, key) in &link.initcols {
            let key = self.expand_text(key);
            self.open_collection(name, key);
        }
        for s in &link.setvars {
            self.setvar(s);
        }
        for (target, seconds) in &link.expirevars {
            let seconds = self.expand_text(seconds);
            self.expirevar(target, &seconds);
        }
        for ctl in &link.ctls {
            self.ctl(ctl);
        }
    }

    fn setvar(&mut self, s: &SetVar) {
        // Most setvars are plain (`tx.score=+5`): no copies for those.
        let name: Cow<'_, str> = if crate::collection::has_macros(&s.name) {
            Cow::Owned(self.expand_text(&s.name).to_ascii_lowercase())
        } else if s.name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(&s.name)
        };
        let operand: Cow<'_, [u8]> = if crate::collection::has_macros(s.operand()) {
            Cow::Owned(self.expand(s.operand()).into_owned())
        } else {
            Cow::Borrowed(s.operand().as_bytes())
        };
        let now = self.now;
        if s.collection == "tx" {
            s.apply(&mut self.tx, &name, &operand, now);
            return;
        }
        let Some((key, local)) = self.persistent.get_mut(&s.collection) else {
            return;
        };
        s.apply(local, &name, &operand, now);
        // The store applies the same change atomically, so concurrent
        // requests of a fleet or node never lose an increment.
        self.engine.store.update(&s.collection, key, now, &mut |c| {
            s.apply(c, &name, &operand, now)
        });
    }

    fn expirevar(&mut self, target: &str, seconds: &str) {
        let Some((collection, name)) = target.split_once('.') else {
            return;
        };
        let (collection, name) = (collection.to_ascii_lowercase(), self.expand_text(name));
        let seconds = crate::collection::to_int(seconds.as_bytes()).max(0) as u64;
        let now = self.now;
        if collection == "tx" {
            self.tx.expire(&name, seconds, now);
            return;
        }
        if let Some((key, local)) = self.persistent.get_mut(&collection) {
            local.expire(&name, seconds, now);
            self.engine.store.update(&collection, key, now, &mut |c| {
                c.expire(&name, seconds, now)
            });
        }
    }

    fn ctl(&mut self, ctl: &Ctl) {
        let patterns = &self.engine.tag_patterns;
        let tag = |t: &str| patterns.get(t).cloned().map(Scope::Tag);
        match ctl {
            Ctl::RuleEngine(mode) => self.mode = *mode,
            Ctl::RuleRemoveById(ranges) => self.removed.push(Scope::Ids(ranges.clone())),
            Ctl::RuleRemoveByTag(t) => self.removed.extend(tag(t)),
            Ctl::RuleRemoveTargetById(range, target) => self
                .removed_targets
                .push((Scope::Ids(vec![*range]), target.clone())),
            Ctl::RuleRemoveTargetByTag(t, target) => {
                if let Some(scope) = tag(t) {
                    self.removed_targets.push((scope, target.clone()));
                }
            }
            Ctl::RequestBodyProcessor(name) => {
                if let Some(p) = BodyProcessor::from_name(name) {
                    self.processor = Some(p);
                }
            }
            Ctl::RequestBodyAccess(on) => self.body_access = *on,
            Ctl::ForceRequestBodyVariable(_) | Ctl::AuditEngine(_) | Ctl::Other(..) => {}
        }
    }
}

/// The rule's disruptive action with `block` resolved to the default.
fn resolved(rule: &CompiledRule) -> &Disruptive {
    match &rule.disruptive {
        Disruptive::Block => &rule.block_action,
        d => d,
    }
}

/// `multiMatch`: the operator runs on the value before any transformation
/// and after each one that changed it.
fn multi_match(
    chain: &[Transform],
    value: &[u8],
    test: &mut dyn FnMut(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    if test(&current) {
        return Some(current.into_owned());
    }
    // Classes of the value as it is now: a transformation that changed it
    // may have produced bytes (`%41` -> `A`) the next one acts on.
    let mut classes = byte_classes(value);
    for t in chain {
        if t.leaves(classes) {
            continue;
        }
        let next = t.apply(&current).into_owned();
        if next.as_slice() != current.as_ref() {
            if test(&next) {
                return Some(next);
            }
            classes = byte_classes(&next);
            current = Cow::Owned(next);
        }
    }
    None
}

/// What one phase has learnt about its request values: byte classes and
/// prefilter bits per value, transformed forms per (value, chain) when a
/// chain changes the value, prefilter bits by content.
#[derive(Default)]
pub(super) struct Memo {
    cache: TransformCache,
    scans: Scans,
    values: std::collections::HashMap<
        (usize, usize),
        ValueMemo,
        std::hash::BuildHasherDefault<super::KeyHasher>,
    >,
    bitsets: Vec<Vec<u64>>,
}

#[derive(Clone, Copy)]
struct ValueMemo {
    classes: u32,
    /// Prefilter bits of the value as it is (index in `bitsets`).
    bits: Option<u32>,
}

impl Memo {
    pub(super) fn clear(&mut self) {
        self.cache.clear();
        self.scans.clear();
        self.values.clear();
        self.bitsets.clear();
    }

    fn store(&mut self, bits: Vec<u64>) -> u32 {
        self.bitsets.push(bits);
        u32::try_from(self.bitsets.len() - 1).unwrap_or(u32::MAX)
    }

    fn value_memo(&mut self, value: &[u8]) -> ValueMemo {
        let at = (value.as_ptr() as usize, value.len());
        *self.values.entry(at).or_insert_with(|| ValueMemo {
            classes: byte_classes(value),
            bits: None,
        })
    }

    /// The prefilter bits of the value as it is (index in `bitsets`).
    fn raw_bits(&mut self, value: &[u8], f: &Prefilter) -> u32 {
        let at = (value.as_ptr() as usize, value.len());
        let mut vm = self.value_memo(value);
        if let Some(i) = vm.bits {
            return i;
        }
        let i = self.store(f.candidates(value));
        vm.bits = Some(i);
        self.values.insert(at, vm);
        i
    }

    /// Byte classes and prefilter bits of a value as it is.
    fn raw(&mut self, value: &[u8], f: &Prefilter) -> (u32, &[u64]) {
        let i = self.raw_bits(value, f);
        let classes = self.value_memo(value).classes;
        (
            classes,
            self.bitsets.get(i as usize).map_or(&[][..], Vec::as_slice),
        )
    }

    /// The value through `transforms` (`None`: unchanged) and, with a
    /// filter, its prefilter bits. `value` must stay put for the phase.
    fn lookup(
        &mut self,
        value: &[u8],
        chain: u32,
        (triggers, search): (u32, u32),
        transforms: &[Transform],
        filter: Option<&Prefilter>,
    ) -> (Option<&[u8]>, Option<&[u64]>) {
        let all = crate::transform::class::ALL;
        let at = (value.as_ptr() as usize, value.len());
        let classes = self.value_memo(value).classes;
        if triggers != all && triggers & classes == 0 {
            // The chain leaves this value as it is (the common case).
            let bits = filter.map(|f| self.raw_bits(value, f));
            let bits = bits.and_then(|i| self.bitsets.get(i as usize));
            return (None, bits.map(Vec::as_slice));
        }
        // The chain changes the value, maybe only its case: the search
        // ignores case, so the value's own bits still hold then.
        let raw_bits = (search != all && search & classes == 0)
            .then(|| filter.map(|f| self.raw_bits(value, f)))
            .flatten();
        let entry = self
            .cache
            .entry((at.0, at.1, chain))
            .or_insert_with(|| Cached {
                // The early return above handled chains that leave the
                // value as it is; this one may change it.
                transformed: match apply_chain(transforms, value) {
                    Cow::Owned(v) => Some(v),
                    Cow::Borrowed(_) => None,
                },
                candidates: raw_bits,
            });
        if let (Some(f), None) = (filter, entry.candidates) {
            let t: &[u8] = entry.transformed.as_deref().unwrap_or(value);
            let bits = self.scans.bits(f, t);
            self.bitsets.push(bits);
            entry.candidates = u32::try_from(self.bitsets.len() - 1).ok();
        }
        let bits = entry.candidates.and_then(|i| self.bitsets.get(i as usize));
        (entry.transformed.as_deref(), bits.map(Vec::as_slice))
    }
}
