//! Rules that TX alone decides, on TX names no rule writes once the
//! request-free prefix has run (the CRS's paranoia-level gates: about 75
//! per request at PL1). Their outcome is the same for every request, so it
//! is worked out once, on the prefix's TX.

use super::eval::CAPTURE_NAMES;
use super::memo::Memo;
use super::prefix::{macros_all, names_tx_entry, passes};
use super::Transaction;
use crate::collection::has_macros;
use crate::compile::{CompiledRule, Key, Link, Var};
use crate::operator::Operator;
use std::collections::HashSet;

/// What a settled rule does on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    /// Its first link never matches: the rule does nothing.
    Never,
    /// Every link matches and it has no actions: only its flow (`skip`,
    /// `skipAfter`) remains.
    Always,
    /// Every link matches, one value each, and its actions read TX alone
    /// (the CRS's score sums, `setvar:tx.blocking_inbound_anomaly_score=+%{tx.inbound_anomaly_score_pl1}`,
    /// and its `SecAction`s that reset or add them up):
    /// they run without the links being evaluated.
    Acts,
}

/// TX names rules may write per request: exact names, and for names a
/// macro builds, the text before the macro.
struct Written {
    names: HashSet<String>,
    prefixes: Vec<String>,
}

impl Written {
    fn add(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        match name.find("%{") {
            Some(at) => self.prefixes.push(name[..at].to_string()),
            None => {
                self.names.insert(name);
            }
        }
    }

    fn may_write(&self, name: &str) -> bool {
        self.names.contains(name) || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// What `rules` write. Expiry counts wherever it is set: a TX entry
    /// that expires reads differently as time passes.
    fn of<'r>(rules: impl Iterator<Item = (&'r CompiledRule, bool)>) -> Written {
        let mut w = Written {
            names: HashSet::new(),
            prefixes: Vec::new(),
        };
        for (rule, per_request) in rules {
            for l in &rule.links {
                for (target, _) in &l.expirevars {
                    if let Some(name) = tx_name(target) {
                        w.add(name);
                    }
                }
                if !per_request {
                    continue;
                }
                if l.capture {
                    CAPTURE_NAMES.iter().for_each(|d| w.add(d));
                }
                for s in l.setvars.iter().filter(|s| s.collection == "tx") {
                    w.add(&s.name);
                }
            }
        }
        w
    }
}

fn tx_name(target: &str) -> Option<&str> {
    let (collection, name) = target.split_once('.')?;
    collection.eq_ignore_ascii_case("tx").then_some(name)
}

/// A link that reads named TX entries nobody writes, with a fixed
/// argument, or reads nothing at all (`SecAction`: one empty value that
/// always matches).
fn reads_settled_tx(l: &Link, written: &Written) -> bool {
    if l.variables.is_empty() {
        return !l.negated && matches!(l.operator, Operator::UnconditionalMatch);
    }
    !has_macros(&l.argument)
        && l.variables.iter().all(|v| {
            v.var == Var::Tx
                && v.exclusions.is_empty()
                && matches!(&v.selector, Some(Key::Name(n)) if !written.may_write(n))
        })
}

/// Whether the link's actions expand no macro but named TX entries (none
/// of the values it matched, which are not collected for a settled rule).
fn tx_macros_only(l: &Link) -> bool {
    let tx_only = |text: &str| macros_all(text, names_tx_entry);
    l.setvars
        .iter()
        .all(|s| tx_only(&s.name) && tx_only(s.operand()))
        && l.expirevars
            .iter()
            .all(|(t, secs)| tx_only(t) && tx_only(secs))
        && l.initcols.iter().all(|(_, key)| tx_only(key))
}

pub(super) fn no_actions(l: &Link) -> bool {
    !l.capture
        && l.setvars.is_empty()
        && l.expirevars.is_empty()
        && l.initcols.is_empty()
        && l.ctls.is_empty()
}

impl Transaction {
    /// Per phase and rule, what the settled rules do. `per_request(phase,
    /// index)` says whether a rule still runs per request (the prefix's
    /// own rules do not). `self` holds the prefix's TX.
    pub(super) fn settle(
        &self,
        per_request: impl Fn(u8, usize) -> bool,
        memo: &mut Memo,
    ) -> [Vec<Option<Settled>>; 5] {
        let engine = self.engine.clone();
        let all = (1..=5u8).flat_map(|p| {
            let per_request = &per_request;
            engine
                .rules
                .phase(p)
                .iter()
                .enumerate()
                .map(move |(i, r)| (r, per_request(p, i)))
        });
        let written = Written::of(all);
        std::array::from_fn(|p| {
            let phase = p as u8 + 1;
            engine
                .rules
                .phase(phase)
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    if !per_request(phase, i) {
                        return None;
                    }
                    self.settled(rule, &written, memo)
                })
                .collect()
        })
    }

    fn settled(&self, rule: &CompiledRule, written: &Written, memo: &mut Memo) -> Option<Settled> {
        let first = rule.links.first()?;
        if !reads_settled_tx(first, written) {
            return None;
        }
        if !self.link_matches(rule, first, memo) {
            return Some(Settled::Never);
        }
        let flow_only = !rule.log
            && rule.severity.is_none()
            && passes(rule)
            && rule
                .links
                .iter()
                .all(|l| no_actions(l) && reads_settled_tx(l, written));
        let acts_only = !rule.log
            && rule.links.iter().all(|l| {
                l.variables.len() <= 1
                    && !l.capture
                    && reads_settled_tx(l, written)
                    && tx_macros_only(l)
            });
        if !(flow_only || acts_only) || !rule.links.iter().all(|l| self.link_matches(rule, l, memo))
        {
            return None;
        }
        Some(if flow_only {
            Settled::Always
        } else {
            Settled::Acts
        })
    }
}
