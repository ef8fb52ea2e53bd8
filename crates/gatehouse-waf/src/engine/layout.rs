//! Tables fixed when the rules load: interned transformation chains and
//! target lists, `ctl` tag patterns, the collections opened for every
//! request.

use super::TagScope;
use crate::compile::{CompiledRule, RuleSet, Var, VariableRef};
use regex::Regex;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn tag_patterns(rules: &mut RuleSet) -> HashMap<String, TagScope> {
    use crate::compile::Ctl;
    let mut out: HashMap<String, TagScope> = HashMap::new();
    for ctl in rules
        .phases
        .iter()
        .flatten()
        .flat_map(|r| &r.links)
        .flat_map(|l| &l.ctls)
    {
        if let Ctl::RuleRemoveByTag(t) | Ctl::RuleRemoveTargetByTag(t, _) = ctl {
            if out.contains_key(t) {
                continue;
            }
            if let Ok(re) = Regex::new(t) {
                let bit = u32::try_from(out.len()).ok().filter(|b| *b < u64::BITS);
                out.insert(
                    t.clone(),
                    TagScope {
                        bit,
                        re: Arc::new(re),
                    },
                );
            }
        }
    }
    for rule in rules.phases.iter_mut().flatten() {
        rule.tag_scopes = out
            .values()
            .filter(|s| rule.tags.iter().any(|t| s.re.is_match(t)))
            .filter_map(|s| s.bit)
            .fold(0, |mask, b| mask | 1 << b);
    }
    out
}

/// Variables whose values stay put for a phase: request data.
fn request_stable(v: &VariableRef) -> bool {
    use Var::*;
    !v.count
        && matches!(
            v.var,
            Args | ArgsGet
                | ArgsPost
                | ArgsNames
                | ArgsGetNames
                | ArgsPostNames
                | RequestUri
                | RequestUriRaw
                | RequestFilename
                | RequestBasename
                | RequestLine
                | RequestMethod
                | RequestProtocol
                | QueryString
                | RequestHeaders
                | RequestHeadersNames
                | RequestCookies
                | RequestCookiesNames
                | RequestBody
                | Files
                | FilesNames
                | MultipartPartHeaders
                | RemoteAddr
                | Xml
        )
}

/// Target lists made only of request data, interned (see
/// `Engine::table`).
pub(super) struct Groups {
    pub per_link: PerLink<Option<(u32, u32)>>,
    /// Per group: whether it reads `REQUEST_BODY`, which exists only from
    /// phase 2 (even empty).
    pub body: Vec<bool>,
    /// Per (group, chain) pair: its group.
    pub pairs: Vec<u32>,
    /// Per group: an id per variable (equal for equal variables across
    /// groups), so each variable's values are enumerated once per phase.
    pub refs: Vec<Vec<u32>>,
    /// Per variable id: whether it is `REQUEST_BODY`.
    pub ref_body: Vec<bool>,
    /// Per group: the request data its variables read (see
    /// `shapes::sources_of`).
    pub sources: Vec<Option<u32>>,
}

/// Interns target lists made only of request data (see `Engine::table`),
/// and each (list, chain) pair a link uses: dense ids, so a transaction
/// keeps its unions in plain vectors.
pub(super) fn target_groups(rules: &RuleSet, chains: &PerLink<u32>) -> Groups {
    use crate::compile::Key;
    let key_text = |k: &Key| match k {
        Key::Name(n) => format!("={n}"),
        Key::Regex(r) => format!("/{}", r.as_str()),
    };
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
    let mut body = Vec::new();
    let mut pair_groups = Vec::new();
    let mut refs: HashMap<String, u32> = HashMap::new();
    let mut ref_body = Vec::new();
    let mut group_refs = Vec::new();
    let mut sources = Vec::new();
    let mut per_link: PerLink<Option<(u32, u32)>> = Default::default();
    for (p, phase) in rules.phases.iter().enumerate() {
        for (r, rule) in phase.iter().enumerate() {
            let mut row = Vec::with_capacity(rule.links.len());
            for (l, link) in rule.links.iter().enumerate() {
                let chain = chains[p].get(r).and_then(|c| c.get(l)).copied();
                let (Some(chain), false) = (
                    chain,
                    link.variables.is_empty() || !link.variables.iter().all(request_stable),
                ) else {
                    row.push(None);
                    continue;
                };
                let text: Vec<String> = link
                    .variables
                    .iter()
                    .map(|v| {
                        let ex: Vec<String> = v.exclusions.iter().map(key_text).collect();
                        format!(
                            "{}{}!{}",
                            v.var.name(),
                            v.selector.as_ref().map(key_text).unwrap_or_default(),
                            ex.join("!")
                        )
                    })
                    .collect();
                let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                let group = *ids.entry(text.join("|")).or_insert(next);
                if group as usize == body.len() {
                    body.push(link.variables.iter().any(|v| v.var == Var::RequestBody));
                    sources.push(super::shapes::sources_of(&link.variables));
                    let list = text
                        .iter()
                        .zip(&link.variables)
                        .map(|(t, v)| {
                            let next = u32::try_from(refs.len()).unwrap_or(u32::MAX);
                            let id = *refs.entry(t.clone()).or_insert(next);
                            if id as usize == ref_body.len() {
                                ref_body.push(v.var == Var::RequestBody);
                            }
                            id
                        })
                        .collect();
                    group_refs.push(list);
                }
                let next = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
                let pair = *pairs.entry((group, chain)).or_insert(next);
                if pair as usize == pair_groups.len() {
                    pair_groups.push(group);
                }
                row.push(Some((group, pair)));
            }
            per_link[p].push(row);
        }
    }
    Groups {
        per_link,
        body,
        pairs: pair_groups,
        refs: group_refs,
        ref_body,
        sources,
    }
}

/// A value per phase, rule and link.
pub(super) type PerLink<T> = [Vec<Vec<T>>; 5];

/// A value per phase and rule.
pub(super) type PerLink0<T> = [Vec<T>; 5];

/// What evaluation needs to know of one link.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LinkInfo {
    /// Its transformation chain's id.
    pub chain: Option<u32>,
    /// Its literal slot in the prefilter.
    pub slot: Option<u32>,
    /// Its (target list, list and chain pair) ids.
    pub group: Option<(u32, u32)>,
    /// Unique among the engine's links: names its verdicts in the memo.
    pub key: u32,
}

/// `LinkInfo` of every link, one flat table per phase in rule order, so
/// a rule visit reads neighbouring memory instead of a list per rule and
/// table (which, between requests, leave the caches).
pub(super) struct LinkTable {
    /// Per phase and rule: its first entry, and whether it keeps matches.
    rules: [Vec<(u32, bool)>; 5],
    links: [Vec<LinkInfo>; 5],
}

impl LinkTable {
    pub fn new(
        chains: &PerLink<u32>,
        slots: &crate::engine::prefilter::LinkSlots,
        groups: &PerLink<Option<(u32, u32)>>,
        keeps: &PerLink0<bool>,
    ) -> LinkTable {
        let mut rules: [Vec<(u32, bool)>; 5] = Default::default();
        let mut links: [Vec<LinkInfo>; 5] = Default::default();
        for p in 0..5 {
            for (at, chain) in chains[p].iter().enumerate() {
                let start = u32::try_from(links[p].len()).unwrap_or(u32::MAX);
                rules[p].push((start, keeps[p].get(at).copied().unwrap_or(true)));
                for (i, c) in chain.iter().enumerate() {
                    let key = u32::try_from(p << 28 | links[p].len()).unwrap_or(u32::MAX);
                    links[p].push(LinkInfo {
                        key,
                        chain: Some(*c),
                        slot: slots[p].get(at).and_then(|s| s.get(i)).copied().flatten(),
                        group: groups[p].get(at).and_then(|g| g.get(i)).copied().flatten(),
                    });
                }
            }
        }
        LinkTable { rules, links }
    }

    /// Rule `at` of phase index `p`: its links' entries and whether it
    /// keeps matches.
    pub fn rule(&self, p: usize, at: usize) -> (&[LinkInfo], bool) {
        let (Some(rules), Some(links)) = (self.rules.get(p), self.links.get(p)) else {
            return (&[], true);
        };
        let Some(&(start, keeps)) = rules.get(at) else {
            return (&[], true);
        };
        let end = rules.get(at + 1).map_or(links.len(), |r| r.0 as usize);
        (links.get(start as usize..end).unwrap_or_default(), keeps)
    }
}

/// Interns every link's transformation chain; also the byte classes each
/// chain id acts on (see `transform::chain_triggers`).
pub(super) fn chain_ids(rules: &RuleSet) -> (PerLink<u32>, Vec<(u32, u32)>) {
    let mut ids: HashMap<Vec<crate::transform::Transform>, u32> = HashMap::new();
    let per_link = rules.phases.each_ref().map(|phase| {
        phase
            .iter()
            .map(|rule| {
                rule.links
                    .iter()
                    .map(|l| {
                        let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                        *ids.entry(l.transforms.clone()).or_insert(next)
                    })
                    .collect()
            })
            .collect()
    });
    let mut triggers =
        vec![(crate::transform::class::ALL, crate::transform::class::ALL); ids.len()];
    for (chain, id) in &ids {
        if let Some(t) = triggers.get_mut(*id as usize) {
            *t = (
                crate::transform::chain_triggers(chain),
                crate::transform::chain_search_triggers(chain),
            );
        }
    }
    (per_link, triggers)
}

/// Collections referenced as variables or by `setvar` with no `initcol`
/// anywhere: ModSecurity needs `initcol`, but rules such as
/// `SecRule IP:LOGIN_ATTEMPT "@gt 5"` are commonly pasted without it.
pub(super) fn auto_collections(rules: &RuleSet) -> Vec<&'static str> {
    let mut used = Vec::new();
    let mut initcol = Vec::new();
    for link in rules.phases.iter().flatten().flat_map(|r| &r.links) {
        for v in &link.variables {
            match v.var {
                Var::Ip => used.push("ip"),
                Var::Global => used.push("global"),
                _ => {}
            }
        }
        for s in &link.setvars {
            match s.collection.as_str() {
                "ip" => used.push("ip"),
                "global" => used.push("global"),
                _ => {}
            }
        }
        for (name, _) in &link.initcols {
            initcol.push(name.to_ascii_lowercase());
        }
    }
    used.sort_unstable();
    used.dedup();
    used.retain(|c| !initcol.iter().any(|i| i == c));
    used
}

/// Whether a rule reads what its links matched (`MATCHED_VAR*` as a
/// target or in a macro) or logs the matched names: otherwise the engine
/// only counts the matches (actions run once per matched value) and keeps
/// neither names nor values.
pub(super) fn keeps_matches(rule: &CompiledRule) -> bool {
    use crate::compile::Disruptive;
    let mentions = |t: &str| t.to_ascii_lowercase().contains("matched_var");
    let redirect = |d: &Disruptive| matches!(d, Disruptive::Redirect(url) if mentions(url));
    rule.log
        || rule.msg.as_deref().is_some_and(mentions)
        || rule.logdata.as_deref().is_some_and(mentions)
        || redirect(&rule.disruptive)
        || redirect(&rule.block_action)
        || rule.links.iter().any(|l| {
            l.variables.iter().any(|v| {
                matches!(
                    v.var,
                    Var::MatchedVar
                        | Var::MatchedVarName
                        | Var::MatchedVars
                        | Var::MatchedVarsNames
                )
            }) || mentions(&l.argument)
                || l.setvars
                    .iter()
                    .any(|s| mentions(&s.name) || mentions(s.operand()))
                || l.expirevars.iter().any(|(a, b)| mentions(a) || mentions(b))
                || l.initcols.iter().any(|(a, b)| mentions(a) || mentions(b))
        })
}

/// Per chain id, the prefilter slots of the links that use it: what a
/// value's bits through that chain can rule out. Not `multiMatch` links:
/// they test every form on the way, and the last form lacking a literal
/// says nothing of the others; only a remembered miss rules them out.
pub(super) fn chain_slots(
    rules: &RuleSet,
    chains: &PerLink<u32>,
    slots: &crate::engine::prefilter::LinkSlots,
    n: usize,
    prefilter: &Option<crate::engine::prefilter::Prefilter>,
) -> Vec<Vec<u64>> {
    let Some(f) = prefilter else {
        return Vec::new();
    };
    let mut out = vec![vec![0u64; f.words()]; n];
    for (p, phase) in chains.iter().enumerate() {
        for (r, rule) in phase.iter().enumerate() {
            for (l, chain) in rule.iter().enumerate() {
                let multi = rules
                    .phases
                    .get(p)
                    .and_then(|rs| rs.get(r))
                    .and_then(|rule| rule.links.get(l))
                    .is_none_or(|link| link.multi_match);
                if multi {
                    continue;
                }
                let slot = slots[p].get(r).and_then(|s| s.get(l)).copied().flatten();
                let word = out
                    .get_mut(*chain as usize)
                    .zip(slot)
                    .and_then(|(m, s)| m.get_mut(s as usize / 64).map(|w| (w, s)));
                if let Some((w, s)) = word {
                    *w |= 1 << (s % 64);
                }
            }
        }
    }
    out
}
