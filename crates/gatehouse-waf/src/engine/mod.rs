//! The rule engine: runs a compiled [`RuleSet`] on one request, phase by
//! phase, as libmodsecurity v3 does (variables, transformations once per
//! value, operators, chains, `setvar`, `ctl`, `skip`/`skipAfter`, anomaly
//! scoring by the rules themselves) and reports what matched and whether
//! the request must be stopped.

mod actions;
mod capture_chain;
mod collections_ahead;
mod eval;
mod generations;
mod groups;
mod layout;
mod lists;
mod macros;
mod memo;
mod phase_memo;
mod prefilter;
mod prefix;
mod recall;
mod settled;
mod shapes;
mod targets;

pub use collections_ahead::CollectionsAhead;
pub(crate) use prefilter::required_literals;
pub use targets::Value;

use eval::CAPTURE_NAMES;
use layout::{
    auto_collections, chain_ids, tag_patterns, target_groups, Groups, LinkTable, PerLink0,
};

use crate::collection::{Collection, PersistentStore};
use crate::compile::{AllowScope, CompiledRule, RuleSet, VariableRef};
use crate::parse::{EngineMode, IdRange};
use crate::request::{processor_for, BodyProcessor, Limits, RequestInput, RequestVars};
use regex::Regex;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Room for the TX names a request writes after the opening rules (the
/// CRS's scores and the variables its matching rules set).
const TX_WRITES: usize = 16;

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
    /// Per phase, rule and link: its transformation chain (an id, equal
    /// for equal chains, so a value is transformed once per chain however
    /// many rules use it), its literal slot, and its target list (an id
    /// when it reads only request data, equal for equal lists, and one for
    /// the (list, chain) pair: a prefiltered link whose literals appear in
    /// none of the list's values, computed once per pair, is skipped
    /// without looking at each value). Also whether a rule keeps matches
    /// (see `layout::keeps_matches`).
    table: LinkTable,
    /// By chain id: the byte classes the chain acts on, and those a
    /// case-insensitive search would notice.
    chain_triggers: Vec<(u32, u32)>,
    /// Per group: whether it reads `REQUEST_BODY` (see `Groups::body`).
    group_body: Vec<bool>,
    /// Per pair: its group.
    pair_groups: Vec<u32>,
    /// Per group: its variables' ids (see `Groups::refs`).
    group_refs: Vec<Vec<u32>>,
    /// Per variable id: whether it is `REQUEST_BODY`.
    ref_body: Vec<bool>,
    /// Per group: the request data it reads (see `shapes`).
    group_sources: Vec<Option<u32>>,
    /// Per phase and rule: where its `skipAfter` resumes (the rule after
    /// the marker; the phase's end for a marker in no later place).
    skip_targets: PerLink0<Option<usize>>,
    /// What the request-free rules opening phase 1 leave (see `prefix`),
    /// computed on the first transaction.
    prefix: OnceLock<Option<prefix::Prefix>>,
    /// How many TX names the rules may set, to size each transaction's TX.
    tx_names: usize,
    /// Per phase and rule: for one that captures values into TX names only
    /// its chain reads, how to test them directly (see `capture_chain`).
    capture_chains: [Vec<Option<capture_chain::Shape>>; 5],
    /// The literal prefilter of `@rx`/`@pm` links, and each link's slot.
    prefilter: Option<prefilter::Prefilter>,
    /// The tag patterns of `ctl:ruleRemove*ByTag`, compiled once.
    tag_patterns: HashMap<String, TagScope>,
    /// Per chain id: the prefilter slots of the links with that chain.
    chain_slots: Vec<Vec<u64>>,
    /// What earlier requests taught about values (see `recall`).
    recall: Option<Arc<recall::Recall>>,
    /// And about target lists (see `shapes`), with the recall.
    shapes: Option<Arc<shapes::Shapes>>,
}

impl Engine {
    /// Reads the body settings (`SecRequestBodyAccess`, limits) from the
    /// rule set; bodies are inspected unless the rules turn that off.
    pub fn new(mut rules: RuleSet, store: Arc<dyn PersistentStore>) -> Engine {
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
            sources: group_sources,
        } = target_groups(&rules, &chains);
        let keeps = rules
            .phases
            .each_ref()
            .map(|phase| phase.iter().map(layout::keeps_matches).collect());
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
        let (prefilter, slots) = prefilter::build(&rules, &chains, &groups);
        let chain_slots =
            layout::chain_slots(&rules, &chains, &slots, chain_triggers.len(), &prefilter);
        let tag_patterns = tag_patterns(&mut rules);
        let table = LinkTable::new(&chains, &slots, &groups, &keeps);
        Engine {
            chain_triggers,
            table,
            group_body,
            pair_groups,
            group_refs,
            ref_body,
            group_sources,
            tx_names,
            capture_chains: capture_chain::find(&rules),
            prefix: OnceLock::new(),
            skip_targets,
            tag_patterns,
            prefilter,
            recall: Some(Arc::new(recall::Recall::new())),
            shapes: Some(Arc::new(shapes::Shapes::new())),
            chain_slots,
            rules,
            store,
            limits,
            body_access,
            auto_collections,
        }
    }

    /// The same engine without memory of earlier requests' values: each
    /// request is worked out from scratch (to compare with, in tests and
    /// benchmarks).
    pub fn without_recall(mut self) -> Engine {
        self.recall = None;
        self.shapes = None;
        self
    }

    /// Whether the engine keeps what requests teach it (see `recall`).
    fn remembers(&self) -> bool {
        self.recall.is_some()
    }

    /// How many values earlier requests taught the engine about.
    pub fn recalled_values(&self) -> usize {
        self.recall.as_ref().map_or(0, |r| r.len())
    }

    /// How many target lists' excluded sets earlier requests left (see
    /// `shapes`).
    pub fn kept_target_lists(&self) -> usize {
        self.shapes.as_ref().map_or(0, |s| s.len())
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
        match self.prefix.get_or_init(|| self.run_prefix()) {
            // TX reads through to the prefix's until a rule writes a name.
            Some(p) => {
                let mut tx = Collection::over(p.tx.clone(), TX_WRITES);
                tx.track_additions();
                let mut t = self.bare_transaction(input, unique_id, tx);
                t.highest_severity = p.highest_severity;
                t.capture_high = p.capture_high;
                t
            }
            None => self.bare_transaction(input, unique_id, self.new_tx()),
        }
    }

    /// A TX with room for the names rules write, and for a few whose name
    /// a macro makes (the CRS's 920450 adds one per header).
    fn new_tx(&self) -> Collection {
        Collection::with_capacity(self.tx_names + 32)
    }

    /// A transaction that starts at the first rule, with `tx`.
    fn bare_transaction(
        self: &Arc<Self>,
        input: &RequestInput,
        unique_id: &str,
        tx: Collection,
    ) -> Transaction {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut memo = memo::Memo::take(self.recall.clone());
        let mut t = Transaction {
            engine: self.clone(),
            vars: RequestVars::new(input, &self.limits),
            phase: 1,
            tx,
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
            capture_high: CAPTURE_NAMES.len(),
            rule: None,
            unions: memo.table(self.pair_groups.len()),
            group_raw: memo.table(self.group_body.len()),
            group_excluded: memo.table(self.group_body.len()),
            serials: shapes::Serials::default(),
            memo: Some(memo),
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

impl Drop for Transaction {
    fn drop(&mut self) {
        self.give_back_memo();
    }
}

/// Which rules a `ctl` removal applies to.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    Ids(Vec<IdRange>),
    Tag(TagScope),
}

/// A `ctl:...ByTag` pattern, compiled once. (Shared: a cloned `Regex`
/// would start a fresh cache pool.)
#[derive(Debug, Clone)]
pub(crate) struct TagScope {
    /// Its bit in each rule's `tag_scopes` (the first 64 patterns).
    bit: Option<u32>,
    re: Arc<Regex>,
}

impl Scope {
    pub(crate) fn covers(&self, rule: &CompiledRule) -> bool {
        match self {
            Scope::Ids(ranges) => rule
                .id
                .is_some_and(|id| ranges.iter().any(|r| r.contains(id))),
            Scope::Tag(TagScope { bit: Some(b), .. }) => rule.tag_scopes >> b & 1 == 1,
            Scope::Tag(TagScope { re, .. }) => rule.tags.iter().any(|t| re.is_match(t)),
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
    /// TX:0..this may hold captures (or digits a `setvar` wrote); the
    /// rest are known absent, so a new capture removes no more.
    capture_high: usize,
    /// The rule being evaluated (phase, index), for `%{rule.*}` macros.
    rule: Option<(u8, usize)>,
    /// Transformed request values of this phase (see `eval`); `None` once
    /// given back to the thread's spares (see `Transaction::give_back_memo`).
    memo: Option<Box<memo::Memo>>,
    /// Per (target group, chain) pair: the prefilter bits of all its values
    /// (a set in the memo).
    unions: Vec<Option<u32>>,
    /// Per target group: the byte classes of all its values as they are.
    group_raw: Vec<Option<u32>>,
    /// Per target group: the slots every one of its remembered values
    /// refutes (a set in the memo; see `memo::ValueState::excluded`); its
    /// values not remembered are set aside beside their variables' lists
    /// in the memo (see `Transaction::group_refuted`).
    group_excluded: Vec<Option<u32>>,
    /// The serials of the request data read so far (see `shapes`).
    serials: shapes::Serials,
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

    /// Phase 5: logging rules (counters, correlation); runs after a block
    /// too, and never stops anything.
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

    /// A TX variable, e.g. `blocking_inbound_anomaly_score`. (The names a
    /// rule captures values into for its own chain alone, as 920450's
    /// `header_name_920450_*`, exist only when it matched: see
    /// `capture_chain`.)
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
