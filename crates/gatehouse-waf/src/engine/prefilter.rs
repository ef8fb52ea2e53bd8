//! A literal prefilter for `@rx` rules: most CRS regexes cannot match
//! unless the value contains one of a few words (`union`, `<script`,
//! `/etc/`). Those words are read from each regex once, and one
//! Aho-Corasick scan per value and transformation chain tells which rules
//! are worth running; the others are known not to match. ModSecurity runs
//! every regex on every value, which is where most of its time goes.

use crate::compile::{RuleSet, Var};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_syntax::hir::{Class, Hir, HirKind};
use std::collections::HashMap;

/// Fewer literals than this per regex, or the regex is not worth it.
const MAX_LITERALS: usize = 256;

/// What a sub-pattern says about the strings it matches: `exact` when it
/// matches exactly one (ASCII-lowercased) string; `required` when every
/// match contains one of these strings.
struct Info {
    exact: Option<Vec<u8>>,
    required: Option<Vec<Vec<u8>>>,
}

impl Info {
    fn unknown() -> Info {
        Info {
            exact: None,
            required: None,
        }
    }

    fn exact(s: Vec<u8>) -> Info {
        Info {
            required: (!s.is_empty()).then(|| vec![s.clone()]),
            exact: Some(s),
        }
    }

    /// The strings every match contains, exact or not.
    fn needs(&self) -> Option<Vec<Vec<u8>>> {
        match &self.exact {
            Some(s) if !s.is_empty() => Some(vec![s.clone()]),
            _ => self.required.clone(),
        }
    }
}

/// Better: longer shortest string, then fewer strings.
fn better(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let min = |s: &[Vec<u8>]| s.iter().map(Vec::len).min().unwrap_or(0);
    (min(a), std::cmp::Reverse(a.len())) > (min(b), std::cmp::Reverse(b.len()))
}

/// One character a class stands for, up to ASCII case; `None` for wider
/// classes (Unicode case folding such as `k`/KELVIN SIGN counts as wider).
fn single(class: &Class) -> Option<Vec<u8>> {
    let mut chars: Vec<u32> = Vec::new();
    match class {
        Class::Unicode(c) => {
            for r in c.ranges() {
                let (a, b) = (u32::from(r.start()), u32::from(r.end()));
                if b - a > 1 {
                    return None;
                }
                chars.extend(a..=b);
            }
        }
        Class::Bytes(c) => {
            for r in c.ranges() {
                let (a, b) = (u32::from(r.start()), u32::from(r.end()));
                if b - a > 1 {
                    return None;
                }
                chars.extend(a..=b);
            }
        }
    }
    let lower = |c: u32| {
        if (u32::from(b'A')..=u32::from(b'Z')).contains(&c) {
            c + 32
        } else {
            c
        }
    };
    let first = lower(*chars.first()?);
    if chars.iter().any(|&c| lower(c) != first) {
        return None;
    }
    match class {
        Class::Bytes(_) => u8::try_from(first).ok().map(|b| vec![b]),
        Class::Unicode(_) => {
            let c = char::from_u32(first)?;
            Some(c.to_string().into_bytes())
        }
    }
}

fn analyze(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(Vec::new()),
        HirKind::Literal(l) => Info::exact(l.0.to_ascii_lowercase()),
        HirKind::Class(c) => single(c).map_or_else(Info::unknown, Info::exact),
        HirKind::Capture(c) => analyze(&c.sub),
        HirKind::Repetition(r) => {
            if r.min == 0 {
                return Info::unknown();
            }
            let sub = analyze(&r.sub);
            match (&sub.exact, r.max) {
                (Some(s), Some(max)) if max == r.min && r.min <= 8 => {
                    Info::exact(s.repeat(r.min as usize))
                }
                _ => Info {
                    exact: None,
                    required: sub.needs(),
                },
            }
        }
        HirKind::Concat(items) => {
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut consider = |set: Option<Vec<Vec<u8>>>| {
                if let Some(set) = set {
                    if best.as_ref().is_none_or(|b| better(&set, b)) {
                        best = Some(set);
                    }
                }
            };
            let mut run: Vec<u8> = Vec::new();
            let mut all_exact = true;
            for item in items {
                let info = analyze(item);
                match info.exact {
                    Some(s) => run.extend_from_slice(&s),
                    None => {
                        all_exact = false;
                        if !run.is_empty() {
                            consider(Some(vec![std::mem::take(&mut run)]));
                        }
                        consider(info.required);
                    }
                }
            }
            if all_exact {
                return Info::exact(run);
            }
            if !run.is_empty() {
                consider(Some(vec![run]));
            }
            Info {
                exact: None,
                required: best,
            }
        }
        HirKind::Alternation(items) => {
            let mut all: Vec<Vec<u8>> = Vec::new();
            for item in items {
                match analyze(item).needs() {
                    Some(set) => all.extend(set),
                    None => return Info::unknown(),
                }
                if all.len() > MAX_LITERALS {
                    return Info::unknown();
                }
            }
            all.sort();
            all.dedup();
            Info {
                exact: None,
                required: Some(all),
            }
        }
    }
}

/// The strings (ASCII-lowercased) one of which every match of `pattern`
/// contains, when there is such a short list.
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let set = analyze(&hir).needs()?;
    (!set.is_empty() && set.len() <= MAX_LITERALS && set.iter().all(|s| !s.is_empty()))
        .then_some(set)
}

/// Strings one of which a value must contain for the operator to match:
/// the literals of an `@rx`, the phrases of a `@pm` (lowercased; the
/// prefilter ignores ASCII case).
fn operator_literals(op: &crate::operator::Operator) -> Option<Vec<Vec<u8>>> {
    match op {
        crate::operator::Operator::Pm(pm) => {
            let phrases: Vec<Vec<u8>> = pm
                .phrases()
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect();
            (!phrases.is_empty() && phrases.iter().all(|p| !p.is_empty())).then_some(phrases)
        }
        op => required_literals(op.rx_pattern()?),
    }
}

/// The literal prefilter of every `@rx`/`@pm` link, whatever its chain.
pub struct Prefilter {
    /// Literals of two bytes or more.
    literals: Literals,
    /// Those of links that read REQUEST_BODY: the body is read by a few
    /// links only, and scanning its kilobytes for the thousands of words
    /// every link needs (the CRS's `@pmFromFile` lists) would cost more
    /// than the rest of its inspection. `None`: every literal is one.
    body: Option<Literals>,
    /// Single-byte literals (`(`, `<`, `;`) occur in almost every value:
    /// an automaton would report them at every turn, so they are looked up
    /// by byte instead. Lowercase byte to the bits of its slots.
    bytes: Vec<Option<Vec<u64>>>,
    words: usize,
    /// Slots of links without literals (`@detectSQLi`, `@validateByteRange`,
    /// a regex that needs none): set in every value's bits, so only what
    /// earlier requests learnt (the operator missed on the value, see
    /// `memo::ValueState::excluded`) rules such a link out.
    always: Vec<u64>,
}

/// An automaton over literals of two bytes or more and their slots.
struct Literals {
    ac: AhoCorasick,
    /// AC pattern `p`'s slots are `slot_ids[slot_start[p]..slot_start[p + 1]]`:
    /// a literal serves one or two links, so a match sets those bits
    /// instead of or-ing a whole set kept apart from the rest.
    slot_start: Vec<u32>,
    slot_ids: Vec<u32>,
}

impl Literals {
    /// An automaton of `kind` over `long` (literal id, literal) with each
    /// literal's slots; `None` when it cannot be built.
    fn build(
        long: &[(usize, &[u8])],
        per_literal: &[Vec<u32>],
        kind: AhoCorasickKind,
    ) -> Option<Literals> {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(long.iter().map(|(_, l)| l))
            .ok()?;
        let mut slot_start = Vec::with_capacity(long.len() + 1);
        let mut slot_ids = Vec::new();
        for (id, _) in long {
            slot_start.push(u32::try_from(slot_ids.len()).unwrap_or(u32::MAX));
            slot_ids.extend_from_slice(per_literal.get(*id).map_or(&[][..], Vec::as_slice));
        }
        slot_start.push(u32::try_from(slot_ids.len()).unwrap_or(u32::MAX));
        Some(Literals {
            ac,
            slot_start,
            slot_ids,
        })
    }

    /// Sets the bits of the slots whose literals `value` contains, each
    /// literal's slots once however often it occurs.
    fn add(&self, value: &[u8], bits: &mut [u64]) {
        // On the stack for up to 8192 literals.
        let words = self.slot_start.len().div_ceil(64);
        let mut stack = [0u64; 128];
        let mut heap = Vec::new();
        let seen: &mut [u64] = if words <= stack.len() {
            &mut stack[..words]
        } else {
            heap.resize(words, 0);
            &mut heap
        };
        for m in self.ac.find_overlapping_iter(value) {
            let p = m.pattern().as_usize();
            let Some(word) = seen.get_mut(p / 64) else {
                continue;
            };
            if *word & (1 << (p % 64)) != 0 {
                continue;
            }
            *word |= 1 << (p % 64);
            let (Some(&from), Some(&to)) = (self.slot_start.get(p), self.slot_start.get(p + 1))
            else {
                continue;
            };
            for &s in self
                .slot_ids
                .get(from as usize..to as usize)
                .unwrap_or_default()
            {
                if let Some(b) = bits.get_mut(s as usize / 64) {
                    *b |= 1 << (s % 64);
                }
            }
        }
    }
}

impl Prefilter {
    /// A bit per slot: set when the value contains a literal of that slot.
    pub fn candidates(&self, value: &[u8]) -> Vec<u64> {
        let mut bits = vec![0u64; self.words];
        self.add_candidates(value, &mut bits);
        bits
    }

    /// How many words a bit set has.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Whether `slot` is a link's without literals (see `always`).
    pub fn is_always(&self, slot: u32) -> bool {
        has(&self.always, slot)
    }

    /// Sets the bits of the slots whose literals `value` contains. Short
    /// literals (`(`, `=`) occur many times in a value: each literal's
    /// slots are visited once.
    pub fn add_candidates(&self, value: &[u8], bits: &mut [u64]) {
        self.add_candidates_with(&self.literals, value, bits);
    }

    /// The byte table's and `literals`' bits of `value`, and the slots
    /// without literals.
    fn add_candidates_with(&self, literals: &Literals, value: &[u8], bits: &mut [u64]) {
        for (x, y) in bits.iter_mut().zip(&self.always) {
            *x |= y;
        }
        // The set of bytes present first (no branch per byte), then each
        // distinct byte's slots once.
        for (w, &word) in lowercase_byte_set(value).iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                let b = w * 64 + rest.trailing_zeros() as usize;
                rest &= rest - 1;
                if let Some(Some(slots)) = self.bytes.get(b) {
                    for (x, y) in bits.iter_mut().zip(slots) {
                        *x |= y;
                    }
                }
            }
        }
        literals.add(value, bits);
    }

    /// [`Prefilter::add_candidates`] for a value of REQUEST_BODY: only
    /// the bits of links that read REQUEST_BODY are worked out (others
    /// may be left clear, so the bits serve those links only).
    pub fn add_body_candidates(&self, value: &[u8], bits: &mut [u64]) {
        match &self.body {
            Some(body) => {
                self.add_candidates_with(body, value, bits);
            }
            None => self.add_candidates(value, bits),
        }
    }
}

/// The bytes `value` holds, ASCII letters folded to lowercase, as a
/// 256-bit set.
fn lowercase_byte_set(value: &[u8]) -> [u64; 4] {
    let mut seen = [0u64; 4];
    for &b in value {
        seen[usize::from(b >> 6)] |= 1u64 << (b & 63);
    }
    // `A`-`Z` are bits 1-26 of the second word, `a`-`z` the same plus 32.
    let upper = seen[1] & 0x07ff_fffe;
    seen[1] = (seen[1] & !0x07ff_fffe) | (upper << 32);
    seen
}

/// Whether bit `slot` is set.
pub fn has(bits: &[u64], slot: u32) -> bool {
    bits.get(slot as usize / 64)
        .is_some_and(|w| w & (1 << (slot % 64)) != 0)
}

/// Per phase, rule, link: the slot of a prefiltered link.
pub type LinkSlots = [Vec<Vec<Option<u32>>>; 5];

/// Builds the one automaton over every prefiltered link's literals (the
/// bits a value gets depend only on its bytes, so equal transformed values,
/// and most chains leave an ordinary value as it is, share one scan) and
/// the slot of each link it covers; `None` when no link has literals or
/// the automaton cannot be built (then every link runs its operator).
pub fn build(
    rules: &RuleSet,
    chains: &[Vec<Vec<u32>>; 5],
    groups: &crate::engine::layout::PerLink<Option<(u32, u32)>>,
) -> (Option<Prefilter>, LinkSlots) {
    // Literal to id, the slots of each literal, and the next slot.
    let mut ids: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut per_literal: Vec<Vec<u32>> = Vec::new();
    // Whether a link that reads REQUEST_BODY needs the literal.
    let mut body_literal: Vec<bool> = Vec::new();
    let mut next: u32 = 0;
    let mut always: Vec<u32> = Vec::new();
    let mut slots: LinkSlots = Default::default();
    for (p, phase) in rules.phases.iter().enumerate() {
        for (r, rule) in phase.iter().enumerate() {
            let mut row = Vec::with_capacity(rule.links.len());
            for (l, link) in rule.links.iter().enumerate() {
                let chain = chains[p].get(r).and_then(|c| c.get(l));
                let literals = chain.and_then(|_| operator_literals(&link.operator));
                let Some(literals) = literals else {
                    // Only what remembered misses can rule out: a link over
                    // a target list (whose values are remembered) whose
                    // verdicts may be remembered.
                    let listed = groups[p].get(r).and_then(|g| g.get(l)).copied().flatten();
                    let refutable = chain.is_some()
                        && listed.is_some()
                        && !link.negated
                        && !link.operator.needs_expansion()
                        && !link.variables.is_empty();
                    if refutable {
                        always.push(next);
                        row.push(Some(next));
                        next += 1;
                    } else {
                        row.push(None);
                    }
                    continue;
                };
                let slot = next;
                next += 1;
                let reads_body = link.variables.iter().any(|v| v.var == Var::RequestBody);
                for lit in literals {
                    let n = ids.len();
                    let id = *ids.entry(lit).or_insert(n);
                    if id == per_literal.len() {
                        per_literal.push(Vec::new());
                        body_literal.push(false);
                    }
                    if let Some(v) = per_literal.get_mut(id) {
                        v.push(slot);
                    }
                    if let Some(b) = body_literal.get_mut(id) {
                        *b |= reads_body;
                    }
                }
                row.push(Some(slot));
            }
            slots[p].push(row);
        }
    }
    if next == 0 {
        return (None, slots);
    }
    let words = (next as usize).div_ceil(64);
    let bits_of = |list: &[u32]| {
        let mut bits = vec![0u64; words];
        for &s in list {
            if let Some(w) = bits.get_mut(s as usize / 64) {
                *w |= 1 << (s % 64);
            }
        }
        bits
    };
    let mut literals: Vec<(usize, Vec<u8>)> = ids.into_iter().map(|(k, v)| (v, k)).collect();
    literals.sort();
    let mut bytes: Vec<Option<Vec<u64>>> = vec![None; 256];
    let mut long: Vec<(usize, Vec<u8>)> = Vec::new();
    for (id, lit) in literals {
        let list = per_literal.get(id).map_or(&[][..], Vec::as_slice);
        match lit.as_slice() {
            [b] => {
                let entry = bytes[usize::from(b.to_ascii_lowercase())]
                    .get_or_insert_with(|| vec![0u64; words]);
                for (x, y) in entry.iter_mut().zip(bits_of(list)) {
                    *x |= y;
                }
            }
            _ => long.push((id, lit)),
        }
    }
    let all: Vec<(usize, &[u8])> = long.iter().map(|(id, l)| (*id, l.as_slice())).collect();
    // Over every literal, a contiguous NFA: as fast as a DFA through the
    // gateway (measured: the DFA's 44-87 MB fall out of cache between
    // requests) and far smaller. Over the few REQUEST_BODY literals, a DFA
    // (about 0.8 MB for the CRS's 124): long bodies spend most of their
    // scan there, and it takes 14% fewer instructions on a 4 KB JSON POST
    // with no more simulated cache misses.
    let Some(literals) = Literals::build(&all, &per_literal, AhoCorasickKind::ContiguousNFA) else {
        // Too large to build: every link simply runs its operator.
        return (None, Default::default());
    };
    let of_body: Vec<(usize, &[u8])> = all
        .iter()
        .filter(|(id, _)| body_literal.get(*id).copied().unwrap_or(true))
        .copied()
        .collect();
    let body = (of_body.len() < all.len())
        .then(|| Literals::build(&of_body, &per_literal, AhoCorasickKind::DFA))
        .flatten();
    let always = bits_of(&always);
    let filter = Prefilter {
        literals,
        body,
        bytes,
        words,
        always,
    };
    (Some(filter), slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|v| {
            v.into_iter()
                .map(|s| String::from_utf8_lossy(&s).into_owned())
                .collect()
        })
    }

    #[test]
    fn byte_sets_fold_letters_to_lowercase() {
        let naive = |v: &[u8]| {
            let mut set = [0u64; 4];
            for b in v.iter().map(u8::to_ascii_lowercase) {
                set[usize::from(b / 64)] |= 1 << (b % 64);
            }
            set
        };
        let every: Vec<u8> = (0..=255).collect();
        for v in [
            &b"SELECT * FROM t WHERE a=@Z"[..],
            b"",
            b"\xc3\x89t\xc3\xa9 [`{@",
            &every,
        ] {
            assert_eq!(lowercase_byte_set(v), naive(v), "{v:?}");
        }
        for b in 0..=255u8 {
            assert_eq!(lowercase_byte_set(&[b]), naive(&[b]), "{b}");
        }
    }

    #[test]
    fn literals_every_match_must_contain() {
        assert_eq!(lits("(?i)union\\s+select"), Some(vec!["union".into()]));
        // Without Unicode (as the CRS patterns are translated), `(?i)s`
        // is just [Ss]; with it, `s` also matches U+017F and breaks the
        // literal.
        // (The parser factors the common `<` out of the alternation.)
        assert_eq!(
            lits("(?i-u:<script|<iframe)"),
            Some(vec!["iframe".into(), "script".into()])
        );
        assert_eq!(
            lits("(?i:<script|<iframe)"),
            Some(vec!["cript".into(), "iframe".into()])
        );
        // A repeated group is required but ends the literal run.
        assert_eq!(lits("foo(bar)+baz"), Some(vec!["foo".into()]));
        // Optional parts and wide classes give no requirement.
        assert_eq!(lits("a?b?"), None);
        assert_eq!(lits("[a-z]+"), None);
        assert_eq!(lits("x|[0-9]"), None);
        // `(?i)k` also matches U+212A (KELVIN SIGN): not a plain literal.
        assert_eq!(lits("(?i)kk"), None);
        assert_eq!(lits("\\bselect\\b"), Some(vec!["select".into()]));
    }
}
