//! Rules that capture each value of a list into a TX name of their own and
//! let their chain read those names back, as the CRS's 920450 does with
//! every request header name:
//!
//! ```text
//! SecRule REQUEST_HEADERS_NAMES "@rx ^.*$" "capture,t:lowercase,chain,
//!     setvar:'tx.header_name_920450_%{tx.0}=/%{tx.0}/'"
//!     SecRule TX:/^header_name_920450_/ "@within %{tx.restricted_headers_basic}"
//! ```
//!
//! Run as written, that is a capture, two expansions and a new TX entry per
//! header, then a scan of all of TX: the costliest rule of a benign GET.
//! When no other rule can see those TX names, what the chain reads is
//! known from each value alone, so the values are tested directly; only a
//! value the chain could match sends the rule through full evaluation.
//! What a value gives is a pure function of its bytes and the chain's
//! expanded argument, so it is remembered per engine: a browser's header
//! names cost a lookup each after the first request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::eval::LinkTest;
use super::prefix::{macros_all, names_tx_entry};
use super::Transaction;
use crate::compile::{CompiledRule, Disruptive, Key, KeyRegex, Link, RuleSet, Var};
use crate::transform::apply_chain;

/// What testing such a rule's values directly needs.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    /// The TX names' common start, lowercase.
    prefix: String,
    /// The `setvar` value's text around its `%{tx.0}` macros.
    pieces: Vec<String>,
    /// Other rules' `TX:/regex/` selectors that may select some of those
    /// names (the CRS's 922110 reads `TX:/MULTIPART_HEADERS_CONTENT_TYPES_*/`):
    /// a value whose name one of them selects is evaluated as written, so
    /// the name exists for them.
    foreign: Vec<KeyRegex>,
    /// What values gave, shared by the engine's transactions.
    facts: Arc<Mutex<Facts>>,
}

/// Values longer than this, and credentials, are not remembered.
const FACT_LEN: usize = 256;
/// At most this many values are remembered per rule; then they start over.
const FACTS: usize = 1024;

/// What the rule's values gave with the chain's argument `argument`
/// (`None`: it has no macros).
#[derive(Debug, Default)]
struct Facts {
    argument: Option<Vec<u8>>,
    by_value: HashMap<Box<[u8]>, Fact>,
}

/// What one value gives the rule.
#[derive(Debug, Clone)]
enum Fact {
    /// The first link does not match it.
    Miss,
    /// The rule must be evaluated as written (no capture to name the TX
    /// entry by, or another rule's selector may read that entry).
    Possible,
    /// The first link captured `caps` and the chain tested the entry it
    /// would write: `hit` is the chain's verdict.
    Tested { caps: Arc<[Vec<u8>]>, hit: bool },
}

/// Per phase and rule: the shape of a rule that has it, and whose TX
/// names no other rule writes or reads but through a `/regex/`.
pub(super) fn find(rules: &RuleSet) -> [Vec<Option<Shape>>; 5] {
    let all: Vec<&CompiledRule> = rules.phases.iter().flatten().collect();
    rules.phases.each_ref().map(|phase| {
        phase
            .iter()
            .map(|rule| {
                let prefix = own_prefix(rule)?;
                let mut foreign = Vec::new();
                for other in all.iter().filter(|o| !std::ptr::eq(**o, rule)) {
                    if touches(other, prefix, &mut foreign) {
                        return None;
                    }
                }
                let template = rule.links.first()?.setvars.first()?.operand();
                Some(Shape {
                    prefix: prefix.to_string(),
                    pieces: pieces(template),
                    foreign,
                    facts: Arc::default(),
                })
            })
            .collect()
    })
}

/// The TX name prefix of a rule of that shape: two links, the first
/// capturing request values (not TX) with one
/// `setvar:tx.<prefix>%{tx.0}=<text of tx.0>` and nothing else, the second
/// reading `TX:/^<prefix>/` alone.
fn own_prefix(rule: &CompiledRule) -> Option<&str> {
    let [first, second] = rule.links.as_slice() else {
        return None;
    };
    let [setvar] = first.setvars.as_slice() else {
        return None;
    };
    let plain_first = !first.multi_match
        && !first.negated
        && first.capture
        && !first.operator.needs_expansion()
        && first.ctls.is_empty()
        && first.initcols.is_empty()
        && first.expirevars.is_empty()
        && first.variables.iter().all(|v| v.var != Var::Tx);
    if !plain_first || second.multi_match {
        return None;
    }
    let prefix = setvar
        .name
        .strip_suffix("%{tx.0}")
        .filter(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .filter(|p| !p.starts_with(|c: char| c.is_ascii_digit()))?;
    let only_tx0 = |text: &str| macros_all(text, |m| m.collection == "TX" && m.key == Some("0"));
    if setvar.collection != "tx" || !only_tx0(setvar.operand()) {
        return None;
    }
    let [read] = second.variables.as_slice() else {
        return None;
    };
    let reads_own = read.var == Var::Tx
        && !read.count
        && read.exclusions.is_empty()
        && matches!(&read.selector, Some(Key::Regex(r)) if r.literal_prefix() == Some(prefix.as_bytes()));
    // The chain's argument must not read what changes per value.
    let steady = macros_all(&second.argument, |m| {
        names_tx_entry(m) && m.key.is_some_and(|k| !reads(k, prefix))
    });
    (reads_own && steady).then_some(prefix)
}

/// Whether TX name `name` (any case) may start with `prefix`.
fn reads(name: &str, prefix: &str) -> bool {
    let n = name.len().min(prefix.len());
    !name.is_char_boundary(n)
        || !name[..n].is_ascii()
        || name[..n].eq_ignore_ascii_case(&prefix[..n])
}

/// The text around the macros of `template` (all of them `%{tx.0}`).
fn pieces(template: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut rest = template;
    while let Some(start) = rest.find("%{") {
        // (An unterminated `%{` is text, as `expand` keeps it.)
        let Some(end) = rest[start..].find('}').map(|e| start + e + 1) else {
            break;
        };
        if let Some(last) = pieces.last_mut() {
            last.push_str(&rest[..start]);
        }
        pieces.push(String::new());
        rest = &rest[end..];
    }
    if let Some(last) = pieces.last_mut() {
        last.push_str(rest);
    }
    pieces
}

/// Whether `rule` may read or write a TX name starting with `prefix`
/// otherwise than through a `/regex/` selector; those it has that may
/// select such a name are added to `foreign`.
fn touches(rule: &CompiledRule, prefix: &str, foreign: &mut Vec<KeyRegex>) -> bool {
    let macro_reads = |text: &str| {
        !macros_all(text, |m| {
            m.collection != "TX" || m.key.is_some_and(|k| !reads(k, prefix))
        })
    };
    let redirect = match &rule.disruptive {
        Disruptive::Redirect(url) => Some(url.as_str()),
        _ => None,
    };
    let texts = [rule.msg.as_deref(), rule.logdata.as_deref(), redirect];
    if texts.into_iter().flatten().any(macro_reads) {
        return true;
    }
    rule.links.iter().any(|l| {
        let var_reads = l.variables.iter().any(|v| {
            v.var == Var::Tx
                && match &v.selector {
                    None => true,
                    Some(Key::Name(n)) => reads(n, prefix),
                    Some(Key::Regex(r)) => {
                        let may = r.literal_prefix().is_none_or(|p| {
                            std::str::from_utf8(p).map_or(true, |p| reads(p, prefix))
                        });
                        if may {
                            foreign.push(r.clone());
                        }
                        false
                    }
                }
        });
        let writes = l.setvars.iter().any(|s| {
            s.collection == "tx" && {
                // The name's fixed start, before any macro.
                let fixed = s.name.split("%{").next().unwrap_or_default();
                reads(fixed, prefix) || macro_reads(&s.name) || macro_reads(s.operand())
            }
        });
        var_reads
            || writes
            || macro_reads(&l.argument)
            || l.initcols
                .iter()
                .any(|(c, k)| c.eq_ignore_ascii_case("tx") || macro_reads(k))
            || l.expirevars.iter().any(|(t, s)| {
                t.get(..3).is_some_and(|c| c.eq_ignore_ascii_case("tx."))
                    && reads(t.get(3..).unwrap_or_default(), prefix)
                    || macro_reads(t)
                    || macro_reads(s)
            })
    })
}

impl Shape {
    /// What `value` gives the rule `[first, second]`; `name` and `text`
    /// are scratch space.
    fn fact(
        &self,
        [first, second]: [&Link; 2],
        value: &[u8],
        test: &mut LinkTest<'_>,
        (name, text): (&mut Vec<u8>, &mut Vec<u8>),
    ) -> Fact {
        let t = apply_chain(&first.transforms, value);
        let mut caps = Vec::new();
        if !first.operator.matches(&t, Some(&mut caps)) {
            return Fact::Miss;
        }
        let Some(c) = caps.first() else {
            return Fact::Possible;
        };
        if !self.foreign.is_empty() {
            name.clear();
            name.extend_from_slice(self.prefix.as_bytes());
            name.extend(c.iter().map(u8::to_ascii_lowercase));
            if self.foreign.iter().any(|r| r.is_match(name)) {
                return Fact::Possible;
            }
        }
        text.clear();
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                text.extend_from_slice(c);
            }
            text.extend_from_slice(piece.as_bytes());
        }
        let hit = test.test(&apply_chain(&second.transforms, text));
        Fact::Tested {
            caps: caps.into(),
            hit,
        }
    }
}

impl Transaction {
    /// For a rule [`find`] marked: `true` when no value of the first
    /// link's list gives the chain a name it matches, so the rule cannot
    /// match. The captures are left as evaluation leaves them (the last
    /// value's); the TX names the rule would write are read by nothing
    /// else and are not written.
    pub(super) fn capture_chain_refutes(&mut self, rule: &CompiledRule, shape: &Shape) -> bool {
        let [first, second] = rule.links.as_slice() else {
            return false;
        };
        if self.removed_targets.iter().any(|(s, _)| s.covers(rule)) {
            return false;
        }
        let mut last: Option<Arc<[Vec<u8>]>> = None;
        let mut possible = false;
        {
            let mut test = LinkTest::new(self, second);
            let remember = self.engine.remembers();
            let mut facts = shape.facts.lock().unwrap_or_else(|e| e.into_inner());
            // (Copied only when it changed, not on every request.)
            let argument = test.argument();
            if facts.argument.as_deref() != argument {
                facts.by_value.clear();
                facts.argument = argument.map(<[u8]>::to_vec);
            }
            let (mut name, mut text) = (Vec::new(), Vec::new());
            let mut each = |value: super::targets::Value<'_>| {
                if possible {
                    return;
                }
                let fact = match facts.by_value.get(&*value.value) {
                    Some(fact) => fact.clone(),
                    None => {
                        let links = [first, second];
                        let fact =
                            shape.fact(links, &value.value, &mut test, (&mut name, &mut text));
                        if remember && value.value.len() <= FACT_LEN && !value.is_credential() {
                            if facts.by_value.len() >= FACTS {
                                facts.by_value.clear();
                            }
                            facts
                                .by_value
                                .insert(value.value.as_ref().into(), fact.clone());
                        }
                        fact
                    }
                };
                if let Fact::Tested { caps, hit } = fact {
                    possible = hit;
                    last = Some(caps);
                } else {
                    possible = matches!(fact, Fact::Possible);
                }
            };
            for v in &first.variables {
                self.each_value(v, rule, &mut each);
            }
        }
        if possible {
            return false;
        }
        if let Some(caps) = last {
            self.set_captures(caps.to_vec());
        }
        true
    }
}
