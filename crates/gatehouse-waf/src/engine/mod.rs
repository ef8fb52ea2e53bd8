//! The rule engine: runs a compiled [`RuleSet`] on one request, phase by
//! phase, as libmodsecurity v3 does (variables, transformations once per
//! value, operators, chains, `setvar`, `ctl`, `skip`/`skipAfter`, anomaly
//! scoring by the rules themselves) and reports what matched and whether
//! the request must be stopped.

mod eval;
mod groups;
mod macros;
mod memo;
mod prefilter;
mod targets;

pub use targets::Value;

use crate::collection::{Collection, PersistentStore};
use crate::compile::{AllowScope, CompiledRule, RuleSet, Var, VariableRef};
use crate::parse::{EngineMode, IdRange};
use crate::request::{processor_for, BodyProcessor, Limits, RequestInput, RequestVars};
use regex::Regex;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What stops a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Deny,
    /// Close the connection without an answer.
    Drop,
    /// Answer with a redirect to this (expanded) URL.
    Redirect(String),
}

/// The decision to stop the request, and which rule made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervention {
    pub status: u16,
    pub action: Action,
    pub rule_id: Option<u64>,
    pub phase: u8,
    /// The rule's message, expanded.
    pub msg: Option<String>,
}

/// A rule that matched, for the audit log and metrics: names, never
/// payloads (`logdata` is kept only when the rule itself logs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub rule_id: Option<u64>,
    pub phase: u8,
    pub msg: Option<String>,
    pub severity: Option<u8>,
    /// `MATCHED_VAR_NAME` of every value that matched the rule's links.
    pub variables: Vec<String>,
    /// The rule would stop the request (deny, drop, redirect), whether or
    /// not the engine was allowed to.
    pub disruptive: bool,
}

/// The rules and the settings the configuration gave them.
pub struct Engine {
    rules: RuleSet,
    store: Arc<dyn PersistentStore>,
    limits: Limits,
    body_access: bool,
    /// Persistent collections the rules read or write without `initcol`:
    /// opened for every request (IP by client address, GLOBAL once).
    auto_collections: Vec<&'static str>,
    /// Per phase, rule and link: an id for the link's transformation
    /// chain, equal for equal chains, so a value is transformed once per
    /// chain however many rules use it.
    chains: [Vec<Vec<u32>>; 5],
    /// By chain id: the byte classes the chain acts on, and those a
    /// case-insensitive search would notice.
    chain_triggers: Vec<(u32, u32)>,
    /// Per phase, rule and link: an id for the link's target list when it
    /// reads only request data, equal for equal lists, and one for the
    /// (list, chain) pair. A prefiltered link whose literals appear in
    /// none of the list's values (computed once per pair) is skipped
    /// without looking at each value.
    groups: PerLink<Option<(u32, u32)>>,
    /// Per group: whether it reads `REQUEST_BODY` (see `Groups::body`).
    group_body: Vec<bool>,
    /// Per pair: its group.
    pair_groups: Vec<u32>,
    /// Per group: its variables' ids (see `Groups::refs`).
    group_refs: Vec<Vec<u32>>,
    /// Per variable id: whether it is `REQUEST_BODY`.
    ref_body: Vec<bool>,
    /// Per phase and rule: where its `skipAfter` resumes (the rule after
    /// the marker; the phase's end for a marker in no later place).
    skip_targets: PerLink0<Option<usize>>,
    /// How many TX names the rules may set, to size each transaction's TX.
    tx_names: usize,
    /// The literal prefilter of `@rx`/`@pm` links, and each link's slot.
    prefilter: Option<prefilter::Prefilter>,
    slots: prefilter::LinkSlots,
    /// The tag patterns of `ctl:ruleRemove*ByTag`, compiled once.
    /// (Shared: a cloned `Regex` would start a fresh cache pool.)
    tag_patterns: HashMap<String, Arc<Regex>>,
}

fn tag_patterns(rules: &RuleSet) -> HashMap<String, Arc<Regex>> {
    use crate::compile::Ctl;
    let mut out = HashMap::new();
    for ctl in rules
        .phases
        .iter()
        .flatten()
        .flat_map(|r| &r.links)
        .flat_map(|l| &l.ctls)
    {
        if let Ctl::RuleRemoveByTag(t) | Ctl::RuleRemoveTargetByTag(t, _) = ctl {
            if let Ok(re) = Regex::new(t) {
                out.insert(t.clone(), Arc::new(re));
            }
        }
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
/// `Engine::groups`).
struct Groups {
    per_link: PerLink<Option<(u32, u32)>>,
    /// Per group: whether it reads `REQUEST_BODY`, which exists only from
    /// phase 2 (even empty).
    body: Vec<bool>,
    /// Per (group, chain) pair: its group.
    pairs: Vec<u32>,
    /// Per group: an id per variable (equal for equal variables across
    /// groups), so each variable's values are enumerated once per phase.
    refs: Vec<Vec<u32>>,
    /// Per variable id: whether it is `REQUEST_BODY`.
    ref_body: Vec<bool>,
}

/// Interns target lists made only of request data (see `Engine::groups`),
/// and each (list, chain) pair a link uses: dense ids, so a transaction
/// keeps its unions in plain vectors.
fn target_groups(rules: &RuleSet, chains: &PerLink<u32>) -> Groups {
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
    }
}

/// A value per phase, rule and link.
type PerLink<T> = [Vec<Vec<T>>; 5];

/// A value per phase and rule.
type PerLink0<T> = [Vec<T>; 5];

/// Byte classes and prefilter bits of a target group's values.
type GroupBits = (u32, Vec<u64>);

/// Interns every link's transformation chain; also the byte classes each
/// chain id acts on (see `transform::chain_triggers`).
fn chain_ids(rules: &RuleSet) -> (PerLink<u32>, Vec<(u32, u32)>) {
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

impl Engine {
    /// Reads the body settings (`SecRequestBodyAccess`, limits) from the
    /// rule set; bodies are inspected unless the rules turn that off.
    pub fn new(rules: RuleSet, store: Arc<dyn PersistentStore>) -> Engine {
        let mut limits = Limits::default();
        let mut body_access = true;
        for (name, args) in &rules.settings {
            let arg = args.first().map(String::as_str).unwrap_or_default();
            let n = arg.parse::<usize>().ok();
            match (name.as_str(), n) {
                ("SecRequestBodyAccess", _) => body_access = !arg.eq_ignore_ascii_case("off"),
                ("SecRequestBodyLimit", Some(n)) => limits.max_body = n,
                ("SecRequestBodyNoFilesLimit", Some(n)) => limits.max_body_no_files = n,
                ("SecArgumentsLimit", Some(n)) => limits.max_args = n,
                ("SecRequestBodyJsonDepthLimit", Some(n)) => limits.json_depth = n,
                ("SecUploadFileLimit", Some(n)) => limits.max_files = n,
                _ => {}
            }
        }
        let auto_collections = auto_collections(&rules);
        let (chains, chain_triggers) = chain_ids(&rules);
        let Groups {
            per_link: groups,
            body: group_body,
            pairs: pair_groups,
            refs: group_refs,
            ref_body,
        } = target_groups(&rules, &chains);
        let skip_targets = rules.phases.each_ref().map(|phase| {
            phase
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let marker = rule.skip_after.as_ref()?;
                    let p = usize::from(rule.phase).saturating_sub(1).min(4);
                    let at = rules.markers.get(marker).map_or(phase.len(), |m| m[p]);
                    Some(if at > i { at } else { phase.len() })
                })
                .collect()
        });
        let tx_names = rules
            .phases
            .iter()
            .flatten()
            .flat_map(|r| &r.links)
            .flat_map(|l| &l.setvars)
            .filter(|s| s.collection == "tx")
            .map(|s| s.name.to_ascii_lowercase())
            .collect::<std::collections::HashSet<_>>()
            .len()
            .min(1024);
        let (prefilter, slots) = prefilter::build(&rules, &chains);
        let tag_patterns = tag_patterns(&rules);
        Engine {
            chain_triggers,
            groups,
            group_body,
            pair_groups,
            group_refs,
            ref_body,
            tx_names,
            skip_targets,
            tag_patterns,
            chains,
            prefilter,
            slots,
            rules,
            store,
            limits,
            body_access,
            auto_collections,
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// `SecRequestBodyAccess`: whether phase 2 reads bodies at all.
    pub fn body_access(&self) -> bool {
        self.body_access && self.rules.engine != EngineMode::Off
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts a transaction: the request line, headers and query are read
    /// now; the body comes with [`Transaction::request_body`].
    pub fn transaction(self: &Arc<Self>, input: &RequestInput, unique_id: &str) -> Transaction {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut t = Transaction {
            engine: self.clone(),
            vars: RequestVars::new(input, &self.limits),
            phase: 1,
            tx: Collection::with_capacity(self.tx_names),
            persistent: HashMap::new(),
            mode: self.rules.engine,
            removed: Vec::new(),
            removed_targets: Vec::new(),
            processor: None,
            body_access: self.body_access,
            matched: Vec::new(),
            matches: Vec::new(),
            intervention: None,
            allowed: None,
            response: None,
            now,
            started: Instant::now(),
            unique_id: unique_id.to_string(),
            highest_severity: 255,
            rule: None,
            memo: memo::Memo::default(),
            unions: vec![None; self.pair_groups.len()],
            group_raw: vec![None; self.group_body.len()],
        };
        for name in self.auto_collections.iter().copied() {
            let key = if name == "ip" {
                t.vars.remote_addr.clone()
            } else {
                "global".to_string()
            };
            t.open_collection(name, key);
        }
        t
    }
}

/// Collections referenced as variables or by `setvar` with no `initcol`
/// anywhere: ModSecurity needs `initcol`, but rules such as
/// `SecRule IP:LOGIN_ATTEMPT "@gt 5"` are commonly pasted without it.
fn auto_collections(rules: &RuleSet) -> Vec<&'static str> {
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

/// Which rules a `ctl` removal applies to.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    Ids(Vec<IdRange>),
    Tag(Arc<Regex>),
}

impl Scope {
    pub(crate) fn covers(&self, rule: &CompiledRule) -> bool {
        match self {
            Scope::Ids(ranges) => rule
                .id
                .is_some_and(|id| ranges.iter().any(|r| r.contains(id))),
            Scope::Tag(re) => rule.tags.iter().any(|t| re.is_match(t)),
        }
    }
}

/// The response as phase 3 sees it.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub protocol: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One request's evaluation.
pub struct Transaction {
    engine: Arc<Engine>,
    vars: RequestVars,
    phase: u8,
    tx: Collection,
    /// Opened persistent collections: name to (key, contents).
    persistent: HashMap<String, (String, Collection)>,
    mode: EngineMode,
    removed: Vec<Scope>,
    removed_targets: Vec<(Scope, VariableRef)>,
    /// Set by `ctl:requestBodyProcessor`.
    processor: Option<BodyProcessor>,
    body_access: bool,
    /// MATCHED_VARS of the rule being evaluated: name and value.
    matched: Vec<(String, Vec<u8>)>,
    matches: Vec<Match>,
    intervention: Option<Intervention>,
    allowed: Option<AllowScope>,
    response: Option<Response>,
    now: u64,
    started: Instant,
    unique_id: String,
    highest_severity: u8,
    /// The rule being evaluated (phase, index), for `%{rule.*}` macros.
    rule: Option<(u8, usize)>,
    /// Transformed request values of this phase (see `eval`).
    memo: memo::Memo,
    /// Per (target group, chain) pair: the prefilter bits of all its values.
    unions: Vec<Option<Vec<u64>>>,
    /// Per target group: the byte classes and prefilter bits of all its
    /// values as they are.
    group_raw: Vec<Option<GroupBits>>,
}

/// The cache's keys are three machine words: a multiply-rotate mix is
/// plenty and far cheaper than SipHash.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

impl Transaction {
    /// Phase 1: request line and headers.
    pub fn request_headers(&mut self) -> Option<Intervention> {
        self.run_phase(1)
    }

    /// Whether phase 2 wants the body: body access on, the engine not off,
    /// nothing decided yet.
    pub fn wants_body(&self) -> bool {
        self.body_access && self.mode != EngineMode::Off && self.intervention.is_none()
    }

    /// The processor the body will be parsed with: `ctl` first, then the
    /// Content-Type.
    pub fn body_processor(&self) -> BodyProcessor {
        self.processor.unwrap_or_else(|| {
            self.vars
                .header(b"content-type")
                .map_or(BodyProcessor::None, processor_for)
        })
    }

    /// The rule being evaluated.
    fn current_rule(&self) -> Option<&CompiledRule> {
        let (phase, i) = self.rule?;
        self.engine.rules.phase(phase).get(i)
    }

    fn processor_name(&self) -> &'static str {
        match self.processor {
            Some(p) => p.name(),
            None => self.vars.reqbody_processor,
        }
    }

    /// Phase 2: the body (`None` when there is none or it is not read).
    pub fn request_body(&mut self, body: Option<&[u8]>) -> Option<Intervention> {
        if self.wants_body() {
            let processor = self.body_processor();
            self.vars.process_body(body, processor, &self.engine.limits);
        }
        self.run_phase(2)
    }

    /// Phase 3: the response status and headers (the body is not read).
    pub fn response_headers(
        &mut self,
        status: u16,
        protocol: &str,
        headers: &[(&[u8], &[u8])],
    ) -> Option<Intervention> {
        self.response = Some(Response {
            status,
            protocol: protocol.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
        });
        self.run_phase(3)
    }

    /// Phase 5: logging rules (counters, correlation); never stops anything.
    pub fn logging(&mut self) {
        let decided = self.intervention.clone();
        self.run_phase(5);
        self.intervention = decided;
    }

    /// Rules that matched and log, in order.
    pub fn matches(&self) -> &[Match] {
        &self.matches
    }

    pub fn intervention(&self) -> Option<&Intervention> {
        self.intervention.as_ref()
    }

    pub fn mode(&self) -> EngineMode {
        self.mode
    }

    /// A TX variable, e.g. `blocking_inbound_anomaly_score`.
    pub fn tx(&self, name: &str) -> Option<&[u8]> {
        self.tx.get(name, self.now)
    }

    /// The request variables as parsed (for tests and diagnostics).
    pub fn vars(&self) -> &RequestVars {
        &self.vars
    }

    fn open_collection(&mut self, name: &str, key: String) {
        let c = self.engine.store.load(name, &key, self.now);
        self.persistent.insert(name.to_ascii_lowercase(), (key, c));
    }
}
