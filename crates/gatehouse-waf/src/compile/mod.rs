//! Compiles parsed directives into an immutable, evaluation-ready rule set:
//! defaults merged, chains flattened into links, operators, transformations
//! and targets compiled, removals and updates applied. Nothing evaluates.

mod actions;
mod modify;
mod variables;

use crate::collection::SetVar;
use crate::operator::Operator;
use crate::parse::{Action, Directive, EngineMode, Rule, Source};
use crate::transform::Transform;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use actions::{id_ranges, severity, AllowScope, Ctl, Disruptive};
pub use variables::{compile_variables, parse_target, Key, KeyRegex, Var, VariableRef};

/// Everything the engine needs, in evaluation order per phase.
#[derive(Debug)]
pub struct RuleSet {
    /// The last `SecRuleEngine`; `On` when the configuration says nothing,
    /// because loading rules into the gateway is the request to enforce.
    pub engine: EngineMode,
    /// Phases 1..=5 at indices 0..=4.
    pub phases: [Vec<CompiledRule>; 5],
    /// `SecMarker` name to, for each phase, the index of the first rule
    /// after it: markers are not phase-bound, a `skipAfter` jumps there in
    /// its own phase.
    pub markers: HashMap<String, [usize; 5]>,
    /// Directives the engine may honour (`SecRequestBodyAccess`...), in order.
    pub settings: Vec<(String, Vec<String>)>,
    /// Names of accepted-but-ignored directives, once each.
    pub ignored: Vec<String>,
    /// Rules dropped because an operator or action is not available, with
    /// why (`file:line: message`), so the caller can report them.
    pub unsupported: Vec<(Option<u64>, String)>,
}

impl RuleSet {
    /// The rules of phase `1..=5`.
    pub fn phase(&self, phase: u8) -> &[CompiledRule] {
        let i = usize::from(phase.clamp(1, 5)) - 1;
        &self.phases[i]
    }

    /// Finds a rule by id in any phase.
    pub fn rule(&self, id: u64) -> Option<&CompiledRule> {
        self.phases.iter().flatten().find(|r| r.id == Some(id))
    }
}

/// A rule and its chain. Metadata comes from the chain starter.
#[derive(Debug)]
pub struct CompiledRule {
    pub id: Option<u64>,
    pub phase: u8,
    pub source: Source,
    /// The starter then its chained rules; all must match.
    pub links: Vec<Link>,
    /// The rule's own disruptive action, else the phase default's.
    pub disruptive: Disruptive,
    /// What `block` means here: the phase's `SecDefaultAction` when the rule
    /// was loaded (never `Block`).
    pub block_action: Disruptive,
    pub status: Option<u16>,
    pub msg: Option<String>,
    pub logdata: Option<String>,
    pub tags: Vec<String>,
    pub severity: Option<u8>,
    pub ver: Option<String>,
    pub skip: Option<u32>,
    pub skip_after: Option<String>,
    pub log: bool,
    pub auditlog: bool,
    /// Bit `i`: the engine's `i`-th `ctl:...ByTag` pattern matches one of
    /// `tags` (set by the engine, so a removal by tag costs no regex per
    /// rule visit).
    pub tag_scopes: u64,
}

/// One link of a chain with its own non-disruptive actions.
#[derive(Debug)]
pub struct Link {
    pub variables: Vec<VariableRef>,
    pub operator: Operator,
    /// The operator's argument as written, for macro expansion.
    pub argument: String,
    pub negated: bool,
    /// Defaults' transformations then the link's; `t:none` clears.
    pub transforms: Vec<Transform>,
    pub multi_match: bool,
    pub capture: bool,
    pub setvars: Vec<SetVar>,
    pub expirevars: Vec<(String, String)>,
    pub initcols: Vec<(String, String)>,
    pub ctls: Vec<Ctl>,
    pub source: Source,
}

/// Every structural problem, as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileErrors(pub Vec<String>);

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for CompileErrors {}

/// A loaded rule before compilation, with the defaults of its phase as
/// they stood at that point in the file.
pub(crate) struct Pending {
    pub rule: Rule,
    pub defaults: Vec<Action>,
    pub removed: bool,
}

pub(crate) enum Entry {
    Rule(Pending),
    Marker(String),
}

/// Compiles directives in order. `base_dir` resolves data files of rules
/// whose own file directory is unknown.
pub fn compile(directives: Vec<Directive>, base_dir: &Path) -> Result<RuleSet, CompileErrors> {
    let mut errors = Vec::new();
    let mut engine = EngineMode::On;
    let mut settings = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    let mut defaults: [Vec<Action>; 5] = Default::default();
    let mut entries = Vec::new();
    let mut updates = Vec::new();
    for d in directives {
        match d {
            Directive::Rule(rule) | Directive::Action(rule) => {
                let defaults = defaults[phase_index(&rule)].clone();
                entries.push(Entry::Rule(Pending {
                    rule,
                    defaults,
                    removed: false,
                }));
            }
            Directive::Marker(name) => entries.push(Entry::Marker(name)),
            Directive::DefaultAction(list) => {
                let phase = list
                    .iter()
                    .find(|a| a.name == "phase")
                    .and_then(|a| a.value.as_deref())
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(2);
                defaults[phase.clamp(1, 5) - 1] = list;
            }
            Directive::RuleEngine(mode) => engine = mode,
            d @ (Directive::RemoveById(_)
            | Directive::RemoveByTag(_)
            | Directive::RemoveByMsg(_)) => {
                if let Err(e) = modify::remove(&mut entries, &d) {
                    errors.push(e);
                }
            }
            d @ (Directive::UpdateTargetById { .. }
            | Directive::UpdateTargetByTag { .. }
            | Directive::UpdateTargetByMsg { .. }
            | Directive::UpdateActionById { .. }) => updates.push(d),
            Directive::ComponentSignature(s) => {
                settings.push(("SecComponentSignature".to_string(), vec![s]));
            }
            Directive::Setting { name, args } => settings.push((name, args)),
            Directive::Ignored { name } => {
                if !ignored.contains(&name) {
                    ignored.push(name);
                }
            }
        }
    }
    for u in &updates {
        errors.extend(modify::update(&mut entries, u));
    }

    let mut set = RuleSet {
        engine,
        phases: Default::default(),
        markers: HashMap::new(),
        settings,
        ignored,
        unsupported: Vec::new(),
    };
    for entry in entries {
        match entry {
            Entry::Marker(name) => {
                let at = set.phases.each_ref().map(Vec::len);
                set.markers.entry(name).or_insert(at);
            }
            Entry::Rule(p) if p.removed => {}
            Entry::Rule(p) => match compile_rule(&p.rule, &p.defaults, base_dir) {
                Ok(Ok(rule)) => set.phases[usize::from(rule.phase) - 1].push(rule),
                Ok(Err(why)) => set.unsupported.push((p.rule.id(), why)),
                Err(mut e) => errors.append(&mut e),
            },
        }
    }
    for rule in set.phases.iter().flatten() {
        if let Some(m) = &rule.skip_after {
            if !set.markers.contains_key(m) {
                errors.push(at(&rule.source, &format!("skipAfter: no SecMarker `{m}`")));
            }
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(CompileErrors(errors))
    }
}

fn at(source: &Source, message: &str) -> String {
    format!("{}:{}: {message}", source.file, source.line)
}

fn phase_index(rule: &Rule) -> usize {
    rule.action("phase")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2)
        .clamp(1, 5)
        - 1
}

/// The directory of the rule's file, where its data files live.
fn rule_dir(source: &Source, base_dir: &Path) -> PathBuf {
    match Path::new(&source.file).parent() {
        Some(p) if !p.as_os_str().is_empty() && p.is_dir() => p.to_path_buf(),
        _ => base_dir.to_path_buf(),
    }
}

/// `Ok(Err(_))`: unsupported, drop the rule; `Err(_)`: configuration errors.
fn compile_rule(
    rule: &Rule,
    defaults: &[Action],
    base_dir: &Path,
) -> Result<Result<CompiledRule, String>, Vec<String>> {
    let mut errors = Vec::new();
    let src = &rule.source;
    let mut block_action = Disruptive::Pass;
    let mut disruptive = None;
    let (mut log, mut auditlog) = (true, true);
    let mut status = None;
    let mut out = CompiledRule {
        id: rule.id(),
        phase: u8::try_from(phase_index(rule) + 1).unwrap_or(2),
        source: src.clone(),
        links: Vec::new(),
        disruptive: Disruptive::Pass,
        block_action: Disruptive::Pass,
        status: None,
        msg: None,
        logdata: None,
        tags: Vec::new(),
        severity: None,
        ver: None,
        skip: None,
        skip_after: None,
        log: true,
        auditlog: true,
        tag_scopes: 0,
    };
    for (is_default, a) in defaults
        .iter()
        .map(|a| (true, a))
        .chain(rule.actions.iter().map(|a| (false, a)))
    {
        let v = a.value.as_deref();
        match Disruptive::from_action(&a.name, v) {
            Ok(Some(d)) if is_default => block_action = d,
            Ok(Some(d)) => disruptive = Some(d),
            Ok(None) => {}
            Err(e) => return Ok(Err(at(src, &e))),
        }
        match (a.name.as_str(), v) {
            ("log", _) => log = true,
            ("nolog", _) => (log, auditlog) = (false, false),
            ("auditlog", _) => auditlog = true,
            ("noauditlog", _) => auditlog = false,
            ("status", Some(v)) => status = v.parse().ok(),
            _ if is_default => {}
            ("msg", v) => out.msg = v.map(str::to_string),
            ("logdata", v) => out.logdata = v.map(str::to_string),
            ("tag", Some(v)) => out.tags.push(v.to_string()),
            ("ver", v) => out.ver = v.map(str::to_string),
            ("skip", Some(v)) => out.skip = v.parse().ok(),
            ("skipAfter", Some(v)) => out.skip_after = Some(v.to_string()),
            ("severity", Some(v)) => match severity(v) {
                Ok(s) => out.severity = Some(s),
                Err(e) => errors.push(at(src, &e)),
            },
            _ => {}
        }
    }
    if block_action == Disruptive::Block {
        block_action = Disruptive::Pass;
    }
    out.disruptive = disruptive.unwrap_or_else(|| block_action.clone());
    out.block_action = block_action;
    (out.status, out.log, out.auditlog) = (status, log, auditlog);

    let default_t: Vec<&Action> = defaults.iter().filter(|a| a.name == "t").collect();
    for link in std::iter::once(rule).chain(&rule.chained) {
        match compile_link(link, &default_t, base_dir) {
            Ok(Ok(l)) => out.links.push(l),
            Ok(Err(why)) => return Ok(Err(why)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(Ok(out))
    } else {
        Err(errors)
    }
}

fn compile_link(
    rule: &Rule,
    default_t: &[&Action],
    base_dir: &Path,
) -> Result<Result<Link, String>, Vec<String>> {
    let src = &rule.source;
    let mut errors = Vec::new();
    let operator = match Operator::compile(
        &rule.operator.name,
        &rule.operator.argument,
        &rule_dir(src, base_dir),
    ) {
        Ok(op) => op,
        Err(e) => return Ok(Err(at(src, &e.0))),
    };
    let variables = compile_variables(&rule.variables).unwrap_or_else(|e| {
        errors.push(at(src, &e));
        Vec::new()
    });
    let mut link = Link {
        variables,
        operator,
        argument: rule.operator.argument.clone(),
        negated: rule.operator.negated,
        transforms: Vec::new(),
        multi_match: false,
        capture: false,
        setvars: Vec::new(),
        expirevars: Vec::new(),
        initcols: Vec::new(),
        ctls: Vec::new(),
        source: src.clone(),
    };
    for a in default_t.iter().copied().chain(&rule.actions) {
        let v = a.value.as_deref().unwrap_or_default();
        match a.name.as_str() {
            "t" if v.eq_ignore_ascii_case("none") => link.transforms.clear(),
            "t" => match Transform::from_name(v) {
                Some(t) => link.transforms.push(t),
                None => errors.push(at(src, &format!("unknown transformation `{v}`"))),
            },
            "multiMatch" => link.multi_match = true,
            "capture" => link.capture = true,
            "setvar" => match SetVar::parse(v) {
                Ok(s) => link.setvars.push(s),
                Err(e) => errors.push(at(src, &e.0)),
            },
            "expirevar" | "initcol" => {
                let (k, val) = v.split_once('=').unwrap_or((v, ""));
                let pair = (k.trim().to_string(), val.trim().to_string());
                if a.name == "expirevar" {
                    link.expirevars.push(pair);
                } else {
                    link.initcols.push(pair);
                }
            }
            "ctl" => match Ctl::parse(v) {
                Ok(c) => link.ctls.push(c),
                Err(e) => errors.push(at(src, &e)),
            },
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(Ok(link))
    } else {
        Err(errors)
    }
}
