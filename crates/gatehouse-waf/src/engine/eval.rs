//! One phase: rules in order, chains, flow control (what a match does
//! besides its verdict is in `actions`).

use super::groups::ListedLink;
use super::memo::Memo;
use super::prefilter::{self, Prefilter};
use super::prefix::Hot;
use super::settled::Settled;
use super::targets::Value;
use super::{Action, Engine, Intervention, Match, Transaction};
use crate::collection::Name;
use crate::compile::{AllowScope, CompiledRule, Disruptive, Link, Var};
use crate::parse::EngineMode;
use crate::transform::{apply_chain, byte_classes, Transform};
use std::borrow::Cow;
use std::sync::LazyLock;

/// TX:0..TX:9, the names captures are kept under (ModSecurity keeps ten).
pub(super) static CAPTURE_NAMES: LazyLock<[Name; 10]> =
    LazyLock::new(|| std::array::from_fn(|i| Name::interned(&i.to_string())));

/// What a link's values did.
pub(super) struct LinkResult {
    /// Name and transformed value of each value that matched.
    pub matched: Vec<(String, Vec<u8>)>,
}

impl Transaction {
    pub(super) fn run_phase(&mut self, phase: u8) -> Option<Intervention> {
        // The logging phase always runs, as in ModSecurity: after a block
        // or an `allow` too (the CRS reports a blocked request's anomaly
        // scores there).
        let logging = phase == 5;
        if self.intervention.is_some() && !logging {
            return self.intervention.clone();
        }
        if self.mode == EngineMode::Off
            || (self.allowed == Some(AllowScope::All) && !logging)
            || (self.allowed == Some(AllowScope::Request) && phase <= 2)
        {
            return None;
        }
        let mut memo = self.phase_memo(phase);
        self.phase = phase;
        self.serials.forget_body();
        let engine = self.engine.clone();
        let rules = engine.rules.phase(phase);
        // Held apart for the phase so rules can borrow it alongside `self`.
        let result = self.run_rules(&engine, rules, phase, &mut memo);
        self.memo = Some(memo);
        // Later phases start from a cleared memo: this one goes back now
        // rather than when the transaction ends, after the upstream
        // answered (see `give_back_memo`).
        if phase >= 2 {
            self.give_back_memo();
        }
        result
    }

    fn run_rules(
        &mut self,
        engine: &Engine,
        rules: &[CompiledRule],
        phase: u8,
        memo: &mut Memo,
    ) -> Option<Intervention> {
        // Phase 1 runs the rules the request-free prefix deferred, then
        // goes on from where it stopped.
        let (mut i, deferred) = match engine.prefix.get() {
            // (Set only once the prefix ran: every transaction since
            // started from it.)
            Some(Some(p)) if phase == 1 => (p.resume, &p.deferred[..]),
            _ => (0, &[][..]),
        };
        let mut deferred = deferred.iter();
        let hots = match engine.prefix.get() {
            Some(Some(p)) => p.hot(phase),
            _ => &[],
        };
        loop {
            let (at, in_order) = match deferred.next() {
                Some(&d) => (d, false),
                None if i < rules.len() => {
                    i += 1;
                    (i - 1, true)
                }
                None => break,
            };
            let Some(rule) = rules.get(at) else {
                break;
            };
            let hot = hots.get(at);
            // A rule settled never to match does nothing, nor do those
            // settled so right after it: the walk passes over them all.
            if let Some(h) = hot.filter(|h| matches!(h.settled, Some(Settled::Never))) {
                if self.tx_targets_kept() {
                    if in_order {
                        i = at + 1 + usize::from(h.nevers_after);
                    }
                    continue;
                }
            }
            if self.removed.iter().any(|s| s.covers(rule))
                || !self.matches_rule(engine, rule, (phase, at), hot, memo)
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
            if at + 1 == i {
                i = self.next_rule(engine, rule, i, phase, rules.len());
            }
        }
        self.rule = None;
        None
    }

    /// Whether the rule matched: known ahead for settled rules (unless a
    /// `ctl` removed TX targets), and for rules whose first link's target
    /// list, already scanned, holds none of its literals; evaluated
    /// otherwise.
    fn matches_rule(
        &mut self,
        engine: &Engine,
        rule: &CompiledRule,
        at: (u8, usize),
        hot: Option<&Hot>,
        memo: &mut Memo,
    ) -> bool {
        if let Some(hot) = hot {
            // (`Settled::Never` is passed over by the walk.)
            match hot.settled {
                Some(Settled::Always) if self.tx_targets_kept() => return true,
                Some(Settled::Acts) if self.tx_targets_kept() => {
                    self.act(rule, at);
                    return true;
                }
                _ => {}
            }
            if hot.pair != Hot::NONE {
                let slot = u32::from(hot.slot);
                if let (true, Some(Some(b))) = (hot.union, self.unions.get(usize::from(hot.pair))) {
                    if !prefilter::has(memo.bitset(*b), slot) {
                        return false;
                    }
                }
                // No value of the list can match the link, as far as this
                // and earlier requests learnt. Most rules a request reaches
                // end here, on a set already made: read without the rule.
                let g = usize::from(hot.group);
                let refuted = match self.excluded_says(g, slot, memo) {
                    Some(says) => says,
                    None => match (rule.links.get(usize::from(hot.link)), &engine.prefilter) {
                        (Some(link), Some(f)) => {
                            let check = ((link, u32::from(hot.chain)), (f, slot));
                            self.group_refuted(engine, g, check.0, check.1, memo)
                        }
                        _ => false,
                    },
                };
                if refuted {
                    return false;
                }
            }
        }
        if self.first_list_empty(engine, rule, at, memo) {
            return false;
        }
        let shape = engine.capture_chains.get(usize::from(at.0) - 1);
        if let Some(Some(shape)) = shape.and_then(|p| p.get(at.1)) {
            self.rule = Some(at);
            self.matched.clear();
            if self.capture_chain_refutes(rule, shape) {
                return false;
            }
        }
        self.eval_rule(engine, rule, at, memo)
    }

    /// Whether settled rules hold: only a `ctl` that removed a TX target
    /// unsettles them (the CRS removes REQUEST_FILENAME from its XSS rules
    /// on most requests).
    fn tx_targets_kept(&self) -> bool {
        !self.removed_targets.iter().any(|(_, t)| t.var == Var::Tx)
    }

    /// Whether the rule's first link reads request data that has no value
    /// on this request (a header the client did not send): a link with no
    /// value matches nothing, negated or not, so the rule cannot match.
    fn first_list_empty(
        &self,
        engine: &Engine,
        rule: &CompiledRule,
        at: (u8, usize),
        memo: &mut Memo,
    ) -> bool {
        let (infos, _) = engine.table.rule(usize::from(at.0) - 1, at.1);
        let (Some(info), Some(link)) = (infos.first(), rule.links.first()) else {
            return false;
        };
        match (info.group, info.chain) {
            (Some((g, _)), Some(_)) => {
                self.group_values(engine, g as usize, link, memo)
                    && memo.groups.get(g as usize).is_empty()
            }
            _ => false,
        }
    }

    /// What a match of a `Settled::Acts` rule does: each link's actions,
    /// once (each link has one value), and the rule's severity.
    fn act(&mut self, rule: &CompiledRule, at: (u8, usize)) {
        self.rule = Some(at);
        self.matched.clear();
        for link in &rule.links {
            self.run_actions(link);
        }
        if let Some(s) = rule.severity {
            self.highest_severity = self.highest_severity.min(s);
        }
    }

    /// Evaluates a rule and its chain; on a full match runs the actions of
    /// every link (setvar, ctl...) and records the match.
    pub(super) fn eval_rule(
        &mut self,
        engine: &Engine,
        rule: &CompiledRule,
        at: (u8, usize),
        memo: &mut Memo,
    ) -> bool {
        self.rule = Some(at);
        self.matched.clear();
        let phase = usize::from(at.0) - 1;
        let (infos, keeps) = engine.table.rule(phase, at.1);
        for (i, link) in rule.links.iter().enumerate() {
            let info = infos.get(i).copied().unwrap_or_default();
            let chain = info.chain;
            let filter = info
                .slot
                .and_then(|slot| engine.prefilter.as_ref().map(|f| (f, slot)));
            let group = info.group;
            let keep = keeps || link.capture;
            let list = match (group, chain) {
                (Some((g, _)), Some(_)) if self.group_values(engine, g as usize, link, memo) => {
                    memo.groups.take(g as usize)
                }
                _ => None,
            };
            let matched = match (list, group, chain) {
                (Some(list), Some((g, pair)), Some(c)) => {
                    let at = ListedLink {
                        list: &list,
                        group: g as usize,
                        pair: pair as usize,
                        chain: c,
                        filter,
                        keep,
                        key: (!link.operator.needs_expansion()).then_some(info.key),
                    };
                    let matched = self.eval_listed(engine, rule, link, at, memo);
                    memo.groups.put(g as usize, list, true);
                    match matched {
                        Some(m) => m,
                        // None of the list's values holds a literal the
                        // operator needs: it cannot match.
                        None => return false,
                    }
                }
                _ => {
                    // (Values outside target lists are not remembered: a
                    // slot without literals tells nothing about them.)
                    let filter = filter.filter(|(f, slot)| !f.is_always(*slot));
                    self.eval_link(rule, link, chain, filter, keep, memo)
                        .matched
                }
            };
            if matched.is_empty() {
                return false;
            }
            // As libmodsecurity v3: a link's actions run for each value it
            // matched, with that value's captures and MATCHED_VAR, before
            // the next link is evaluated (CRS counts multipart part headers
            // and hands values down chains this way).
            let capture = link.capture && !link.negated && !link.operator.needs_expansion();
            for (name, value) in matched {
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

    pub(super) fn eval_link(
        &self,
        rule: &CompiledRule,
        link: &Link,
        chain: Option<u32>,
        filter: Option<(&Prefilter, u32)>,
        keep: bool,
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
        if self.counts_miss(rule, link, filter) {
            return result;
        }
        let mut op = LinkTest::new(self, link);
        let mut each = |value: Value<'_>| {
            if value.stable && value.is_credential() {
                memo.id_kept(&value.value, false);
            }
            let mut test = |candidate: &[u8]| op.test(candidate);
            let hit = if link.multi_match {
                // The value as it is skips the operator when it lacks the
                // literals (its bits are known); the forms transformations
                // make of it are tested as they come (scanning each for
                // every literal costs more than the operator).
                let as_is = match filter {
                    Some((f, slot)) if value.stable => {
                        (!prefilter::has(memo.raw(&value.value, f).1, slot)).then_some(link.negated)
                    }
                    _ => None,
                };
                multi_match(&link.transforms, &value.value, as_is, &mut test)
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
                hit.then(|| if keep { t.to_vec() } else { Vec::new() })
            } else {
                let t = apply_chain(&link.transforms, &value.value);
                let possible =
                    filter.is_none_or(|(f, slot)| prefilter::has(&f.candidates(&t), slot));
                let hit = if possible { test(&t) } else { link.negated };
                hit.then(|| if keep { t.into_owned() } else { Vec::new() })
            };
            if let Some(transformed) = hit {
                let name = if keep { value.name() } else { String::new() };
                result.matched.push((name, transformed));
            }
        };
        for v in &link.variables {
            self.each_value(v, rule, &mut each);
        }
        result
    }

    /// Whether a link over counts only (`&REQUEST_HEADERS:Host "@eq 0"`)
    /// with a number written in the rule matches none of them: known from
    /// the counts, without making a value of each. A link that matches is
    /// evaluated as usual, for what it records.
    fn counts_miss(
        &self,
        rule: &CompiledRule,
        link: &Link,
        filter: Option<(&Prefilter, u32)>,
    ) -> bool {
        let Some((kind, number)) = link.operator.constant_comparison() else {
            return false;
        };
        // (Transformations would act on the count's text; a slot with
        // literals would be tested before the operator.)
        if !link.transforms.is_empty()
            || link.multi_match
            || !filter.is_none_or(|(f, slot)| f.is_always(slot))
            || !link.variables.iter().all(|v| v.count)
        {
            return false;
        }
        link.variables.iter().all(|v| {
            self.count(v, rule).is_none_or(|n| {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                kind.compare(n, number) == link.negated
            })
        })
    }

    /// (what the chain may change, what a case-insensitive search sees).
    pub(super) fn chain_triggers(&self, chain: u32) -> (u32, u32) {
        let all = crate::transform::class::ALL;
        self.engine
            .chain_triggers
            .get(chain as usize)
            .copied()
            .unwrap_or((all, all))
    }
}

/// A link's operator on candidate values; its argument's macros are
/// expanded when the first value comes (TX does not change within a link).
pub(super) struct LinkTest<'a> {
    tx: &'a Transaction,
    link: &'a Link,
    argument: Option<Option<Cow<'a, [u8]>>>,
}

impl<'a> LinkTest<'a> {
    pub(super) fn new(tx: &'a Transaction, link: &'a Link) -> LinkTest<'a> {
        LinkTest {
            tx,
            link,
            argument: None,
        }
    }

    /// The argument as the operator sees it, `None` when it has no macros.
    pub(super) fn argument(&mut self) -> Option<&[u8]> {
        let (tx, link) = (self.tx, self.link);
        self.argument
            .get_or_insert_with(|| {
                link.operator
                    .needs_expansion()
                    .then(|| tx.expand(&link.argument))
            })
            .as_deref()
    }

    /// Whether the link matches `candidate` (negation applied).
    pub(super) fn test(&mut self, candidate: &[u8]) -> bool {
        let link = self.link;
        let hit = match self.argument() {
            Some(arg) => link.operator.matches_expanded(candidate, arg),
            None => link.operator.matches(candidate, None),
        };
        hit != link.negated
    }
}

/// The rule's disruptive action with `block` resolved to the default.
pub(super) fn resolved(rule: &CompiledRule) -> &Disruptive {
    match &rule.disruptive {
        Disruptive::Block => &rule.block_action,
        d => d,
    }
}

/// `multiMatch`: the operator runs on the value before any transformation
/// and after each one that changed it.
/// `as_is`: the verdict on the value as it is when the prefilter already
/// knows it (it lacks the operator's literals), so the operator need not
/// run on it.
pub(super) fn multi_match(
    chain: &[Transform],
    value: &[u8],
    as_is: Option<bool>,
    test: &mut dyn FnMut(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    if as_is.unwrap_or_else(|| test(&current)) {
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
