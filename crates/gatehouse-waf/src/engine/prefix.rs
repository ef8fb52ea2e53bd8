//! The CRS opens every request with rules that only read and write TX
//! (settings defaults, paranoia and threshold copies): they do the same
//! thing every time. They are run once, on the first transaction, and
//! every transaction starts from what they left.

use super::eval::{resolved, CAPTURE_NAMES};
use super::memo::Memo;
use super::settled::Settled;
use super::{Engine, Transaction};
use crate::collection::{Collection, Macro};
use crate::compile::{CompiledRule, Disruptive, Key, Link, Var};
use crate::parse::EngineMode;
use crate::request::RequestInput;
use std::sync::Arc;

/// What the leading request-independent rules of phase 1 leave behind.
pub(super) struct Prefix {
    pub tx: Arc<Collection>,
    pub highest_severity: u8,
    /// One past the highest capture name (`TX:0`-`TX:9`) `tx` holds: a
    /// transaction's first capture removes only those.
    pub capture_high: usize,
    /// The phase-1 rule to go on from.
    pub resume: usize,
    /// Rules among the prefix that read the request but touch nothing the
    /// prefix reads or writes (modsecurity.conf's body-processor rules):
    /// they run first, then evaluation goes on from `resume`.
    pub deferred: Vec<usize>,
    /// Per phase and rule, what decides it before evaluation (see `Hot`).
    pub hot: [Vec<Hot>; 5],
    /// Per `TX:/regex/` selector of the rules (by pattern): the names of
    /// `tx` it selects. A transaction's TX starts as `tx`, so the names a
    /// selector may pick are these and the ones added since.
    pub tx_selected: Vec<(String, Vec<String>)>,
}

impl Prefix {
    /// The names of the prefix's TX that the key regex `pattern` selects.
    pub fn tx_selected(&self, pattern: &str) -> Option<&[String]> {
        self.tx_selected
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, names)| names.as_slice())
    }
}

/// What a rule visit looks at first, in one dense table per phase so the
/// rules a request passes over cost a read each, not a walk through
/// their links: its settled outcome, and the (target list, chain) pair,
/// chain and literal slot of a link the prefilter can rule out: the
/// first, or a later one when the links before it act on nothing (the
/// CRS's 920250 opens with a TX gate, then reads the arguments), since
/// the rule matches only if that link does.
///
/// Twelve bytes: the walk reads one per rule it reaches, about three
/// hundred per request, so five share a cache line. A rule whose ids do
/// not fit has no check (it is evaluated).
#[derive(Debug, Clone, Copy)]
pub(super) struct Hot {
    pub settled: Option<Settled>,
    /// `NONE` when no link has such a check.
    pub pair: u16,
    /// The pair's target group.
    pub group: u16,
    pub chain: u16,
    pub slot: u16,
    /// Whether the union of the list's bits may rule the link out (not
    /// for `multiMatch`, whose forms on the way the union does not see);
    /// the values' remembered misses always may.
    pub union: bool,
    /// Which link of the rule the check is for.
    pub link: u8,
    /// For a rule settled to never match: how many rules right after it
    /// are too (at most 255), so the walk passes over them at once.
    pub nevers_after: u8,
}

impl Hot {
    pub const NONE: u16 = u16::MAX;

    /// A rule whose first link has no such check.
    const UNCHECKED: Hot = Hot {
        settled: None,
        pair: Hot::NONE,
        group: Hot::NONE,
        chain: 0,
        slot: 0,
        union: false,
        link: 0,
        nevers_after: 0,
    };
}

impl Prefix {
    /// A phase's [`Hot`] table, one entry per rule.
    pub fn hot(&self, phase: u8) -> &[Hot] {
        usize::from(phase)
            .checked_sub(1)
            .and_then(|p| self.hot.get(p))
            .map_or(&[], Vec::as_slice)
    }
}

/// Whether every macro of `text` satisfies `ok`.
pub(super) fn macros_all(text: &str, mut ok: impl FnMut(&Macro<'_>) -> bool) -> bool {
    let mut all = true;
    crate::collection::expand(text, &mut |m: &Macro<'_>| {
        all &= ok(m);
        None
    });
    all
}

/// Whether a macro names a TX entry other than a capture (`TX:0`..`9`
/// change with every capturing match).
pub(super) fn names_tx_entry(m: &Macro<'_>) -> bool {
    m.collection == "TX"
        && m.key
            .is_some_and(|k| !k.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a macro text refers only to TX, the rule's own matches or the
/// rule itself.
fn request_free(text: &str) -> bool {
    macros_all(text, |m| {
        matches!(
            m.collection.as_ref(),
            "TX" | "MATCHED_VAR" | "MATCHED_VAR_NAME" | "RULE"
        )
    })
}

/// Whether a macro text reads nothing TX holds.
fn tx_free(text: &str) -> bool {
    macros_all(text, |m| {
        !matches!(
            m.collection.as_ref(),
            "TX" | "MATCHED_VAR" | "MATCHED_VAR_NAME"
        )
    })
}

/// Whether the rule, matching, only passes (`block` as its default says).
pub(super) fn passes(rule: &CompiledRule) -> bool {
    matches!(resolved(rule), Disruptive::Pass)
}

/// A rule whose outcome depends on nothing but TX: it reads only TX (or
/// nothing), writes only TX and changes no engine setting.
fn request_free_rule(rule: &CompiledRule) -> bool {
    rule.links.iter().all(|l| {
        l.variables.iter().all(|v| {
            matches!(
                v.var,
                Var::Tx
                    | Var::MatchedVar
                    | Var::MatchedVarName
                    | Var::MatchedVars
                    | Var::MatchedVarsNames
            )
        }) && l.ctls.is_empty()
            && l.initcols.is_empty()
            && l.expirevars.is_empty()
            && request_free(&l.argument)
            && l.setvars
                .iter()
                .all(|s| s.collection == "tx" && request_free(&s.name) && request_free(s.operand()))
    })
}

/// A rule that may run before or after request-free rules with the same
/// outcome: it reads and writes no TX, never jumps, removes no rules,
/// changes no engine mode and only passes.
fn independent_rule(rule: &CompiledRule) -> bool {
    use crate::compile::Ctl;
    passes(rule)
        && rule.skip.is_none()
        && rule.skip_after.is_none()
        && rule.msg.as_deref().is_none_or(tx_free)
        && rule.logdata.as_deref().is_none_or(tx_free)
        && rule.links.iter().all(|l| {
            !l.capture
                && l.variables.iter().all(|v| v.var != Var::Tx)
                && tx_free(&l.argument)
                && l.setvars
                    .iter()
                    .all(|s| s.collection != "tx" && tx_free(&s.name) && tx_free(s.operand()))
                && l.ctls.iter().all(|c| {
                    matches!(
                        c,
                        Ctl::RequestBodyProcessor(_)
                            | Ctl::RequestBodyAccess(_)
                            | Ctl::ForceRequestBodyVariable(_)
                            | Ctl::AuditEngine(_)
                    )
                })
        })
}

impl Engine {
    /// Runs the leading request-free rules of phase 1 on an empty TX. A
    /// rule that matches and would stop, allow, redirect or log ends the
    /// prefix before it (its effects undone), as does the first rule that
    /// reads the request.
    pub(super) fn run_prefix(self: &Arc<Self>) -> Option<Prefix> {
        if self.rules.engine == EngineMode::Off {
            return None;
        }
        let input = RequestInput {
            method: "GET",
            uri: b"/",
            protocol: "HTTP/1.1",
            headers: &[],
            remote_addr: "0.0.0.0",
            remote_port: 0,
            body: None,
        };
        let mut t = self.bare_transaction(&input, "", self.new_tx());
        let rules = self.rules.phase(1);
        let mut memo = Memo::default();
        let mut i = 0;
        let mut deferred = Vec::new();
        while let Some(rule) = rules.get(i) {
            if !request_free_rule(rule) {
                // Its first link reads only TX and does not match: the
                // rule does nothing, whatever its later links or actions.
                let head_free = rule.links.first().is_some_and(|l| {
                    l.variables.iter().all(|v| v.var == Var::Tx) && request_free(&l.argument)
                });
                if head_free && !t.first_link_matches(rule, &mut memo) {
                    i += 1;
                    continue;
                }
                if independent_rule(rule) {
                    deferred.push(i);
                    i += 1;
                    continue;
                }
                break;
            }
            let before = (t.tx.clone(), t.highest_severity);
            if !t.eval_rule(self, rule, (1, i), &mut memo) {
                i += 1;
                continue;
            }
            if !passes(rule) || rule.log {
                // It would stop the request or log: it runs per request.
                (t.tx, t.highest_severity) = before;
                break;
            }
            i = t.next_rule(self, rule, i + 1, 1, rules.len());
        }
        // Deferred rules after the last request-free one simply run in
        // their place.
        while deferred.last() == Some(&i.saturating_sub(1)) && i > 0 {
            deferred.pop();
            i -= 1;
        }
        let settled = t.settle(
            |phase, at| phase != 1 || at >= i || deferred.contains(&at),
            &mut memo,
        );
        let hot = std::array::from_fn(|p| {
            let settled = settled.get(p).map(Vec::as_slice).unwrap_or_default();
            let mut hot: Vec<Hot> = (0..self.rules.phase(p as u8 + 1).len())
                .map(|at| Hot {
                    settled: settled.get(at).copied().flatten(),
                    ..self.link_check(p, at).unwrap_or(Hot::UNCHECKED)
                })
                .collect();
            let mut nevers = 0u8;
            for h in hot.iter_mut().rev() {
                if matches!(h.settled, Some(Settled::Never)) {
                    h.nevers_after = nevers;
                    nevers = nevers.saturating_add(1);
                } else {
                    nevers = 0;
                }
            }
            hot
        });
        let tx_selected = tx_key_regexes(&self.rules)
            .into_iter()
            .map(|re| {
                let names =
                    t.tx.entries()
                        .filter(|(name, _, _)| re.is_match(name.as_bytes()))
                        .map(|(name, _, _)| name.to_string())
                        .collect();
                (re.as_str().to_string(), names)
            })
            .collect();
        let capture_high = CAPTURE_NAMES
            .iter()
            .rposition(|n| t.tx.get_lowercase(n, t.now).is_some())
            .map_or(0, |at| at + 1);
        Some(Prefix {
            capture_high,
            tx_selected,
            tx: Arc::new(std::mem::take(&mut t.tx)),
            highest_severity: t.highest_severity,
            resume: i,
            deferred,
            hot,
        })
    }
}

/// The key regexes of the rules' `TX:/regex/` selectors, each once.
fn tx_key_regexes(rules: &crate::compile::RuleSet) -> Vec<&crate::compile::KeyRegex> {
    let mut out: Vec<&crate::compile::KeyRegex> = Vec::new();
    for phase in &rules.phases {
        for rule in phase {
            for v in rule.links.iter().flat_map(|l| &l.variables) {
                if let (Var::Tx, Some(Key::Regex(re))) = (&v.var, &v.selector) {
                    if !out.iter().any(|o| o.as_str() == re.as_str()) {
                        out.push(re);
                    }
                }
            }
        }
    }
    out
}

impl Engine {
    /// The check of a link of rule `at` (its `settled` left to the
    /// caller) when its target list's bits or remembered misses alone can
    /// rule the rule out (what `eval_rule` checks first): the first link
    /// with one, among the first and those after links without actions
    /// (evaluated or not, such links change nothing).
    fn link_check(&self, p: usize, at: usize) -> Option<Hot> {
        self.prefilter.as_ref()?;
        let rule = self.rules.phase(p as u8 + 1).get(at)?;
        let infos = self.table.rule(p, at).0;
        for (i, (link, info)) in rule.links.iter().zip(infos).enumerate() {
            let check = (!link.negated)
                .then_some(())
                .and_then(|()| Some((info.group?, info.chain?, info.slot?)));
            if let Some(((group, pair), chain, slot)) = check {
                let pair = u16::try_from(pair).ok().filter(|p| *p != Hot::NONE)?;
                return Some(Hot {
                    settled: None,
                    pair,
                    group: u16::try_from(group).ok()?,
                    chain: u16::try_from(chain).ok()?,
                    slot: u16::try_from(slot).ok()?,
                    union: !link.multi_match,
                    link: u8::try_from(i).ok()?,
                    nevers_after: 0,
                });
            }
            if !super::settled::no_actions(link) {
                return None;
            }
        }
        None
    }
}

impl Transaction {
    fn first_link_matches(&self, rule: &CompiledRule, memo: &mut Memo) -> bool {
        rule.links
            .first()
            .is_some_and(|l| self.link_matches(rule, l, memo))
    }

    /// Whether a link of `rule` matches as it stands (outside a phase:
    /// no chain ids, no prefilter), for work done once per engine.
    pub(super) fn link_matches(&self, rule: &CompiledRule, link: &Link, memo: &mut Memo) -> bool {
        !self
            .eval_link(rule, link, None, None, false, memo)
            .matched
            .is_empty()
    }

    /// Where evaluation goes on after rule `at - 1` matched: `skip`, or
    /// `skipAfter`'s marker.
    pub(super) fn next_rule(
        &self,
        engine: &Engine,
        rule: &CompiledRule,
        at: usize,
        phase: u8,
        len: usize,
    ) -> usize {
        if rule.skip_after.is_some() {
            return engine
                .skip_targets
                .get(usize::from(phase) - 1)
                .and_then(|p| p.get(at.saturating_sub(1)))
                .copied()
                .flatten()
                .unwrap_or(len);
        }
        match rule.skip {
            Some(n) => at.saturating_add(n as usize),
            None => at,
        }
    }
}
