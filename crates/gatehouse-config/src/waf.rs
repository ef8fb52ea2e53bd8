//! The `waf` plugin: SecLang rules (inline, as nginx's `modsecurity_rules`,
//! or files), an OWASP CRS install, exclusions, and whether to block.
//! Compiled once into an engine every matching request shares.

use crate::diag::Report;
use crate::raw::Raw;
use crate::section::SizeValue;
use gatehouse_waf::collection::PersistentStore;
use gatehouse_waf::compile::compile;
use gatehouse_waf::engine::{CollectionsAhead, Engine};
use gatehouse_waf::load::{crs_directives, CrsSettings};
use gatehouse_waf::parse::{parse_file, parse_str, Directive, EngineMode, ParseError};
use gatehouse_waf_redis::RedisStore;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Request bodies are inspected up to this size by default; larger ones
/// are refused with 413 in block mode (nginx's `client_max_body_size`).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafConf {
    /// `block` (default) or `detect` (log only, as `DetectionOnly`).
    pub mode: Option<String>,
    /// Inline SecLang, as nginx's `modsecurity_rules`.
    pub rules: Option<String>,
    /// SecLang files (globs allowed in their `Include`s), relative to the
    /// configuration file.
    #[serde(default)]
    pub rules_files: Vec<String>,
    pub crs: Option<CrsConf>,
    #[serde(default)]
    pub exclusions: Vec<ExclusionConf>,
    /// Largest body inspected; larger is refused (413) in block mode.
    pub request_body_limit: Option<SizeValue>,
    /// Whether what the rules made of a value seen before is remembered
    /// across requests (default `true`; answers are the same either way).
    /// `false`: nothing a request carries outlives it, at the CPU cost of
    /// inspecting every value from scratch.
    pub remember_values: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrsConf {
    /// The CRS folder (crs-setup.conf or its .example, and rules/).
    pub path: String,
    pub paranoia_level: Option<u8>,
    pub detection_paranoia_level: Option<u8>,
    pub inbound_anomaly_threshold: Option<u32>,
    pub outbound_anomaly_threshold: Option<u32>,
    /// Other crs-setup variables, e.g. `allowed_methods: GET POST`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// Turns rules off, or some of their targets (CRS's rule exclusions).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionConf {
    #[serde(default)]
    pub rule_ids: Vec<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `ARGS:password`, `REQUEST_COOKIES:/^sess/`; none: the whole rule.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// What a route runs.
pub struct WafPolicy {
    pub engine: Arc<Engine>,
    /// Log only: the rules run, nothing is refused.
    pub detect_only: bool,
    pub body_limit: usize,
    /// When the engine's persistent collections live in Redis and its
    /// rules use some: read them ahead of each request.
    pub shared: Option<SharedCollections>,
}

/// What the gateway reads from Redis before WAF phase 1.
pub struct SharedCollections {
    pub store: Arc<RedisStore>,
    pub ahead: CollectionsAhead,
}

/// Resolves `p` against the configuration file's folder.
fn resolve(config_file: &str, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    Path::new(config_file)
        .parent()
        .map_or_else(|| path.to_path_buf(), |d| d.join(path))
}

fn report_parse(report: &Report, raw: &Raw, key: &str, errors: Vec<ParseError>) {
    for e in errors.into_iter().take(20) {
        raw.error_at(report, key, e.to_string());
    }
}

/// The exclusions as SecLang, after every rule they refer to.
fn exclusion_rules(conf: &WafConf) -> String {
    let mut out = String::new();
    for e in &conf.exclusions {
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let targets: Vec<String> = e.targets.iter().map(|t| format!("!{t}")).collect();
        for id in &e.rule_ids {
            if targets.is_empty() {
                out.push_str(&format!("SecRuleRemoveById {id}\n"));
            } else {
                out.push_str(&format!(
                    "SecRuleUpdateTargetById {id} \"{}\"\n",
                    quote(&targets.join("|"))
                ));
            }
        }
        for tag in &e.tags {
            if targets.is_empty() {
                out.push_str(&format!("SecRuleRemoveByTag \"{}\"\n", quote(tag)));
            } else {
                out.push_str(&format!(
                    "SecRuleUpdateTargetByTag \"{}\" \"{}\"\n",
                    quote(tag),
                    quote(&targets.join("|"))
                ));
            }
        }
    }
    out
}

/// Compiles one `waf` plugin entry; errors name the key and the SecLang
/// file and line.
pub fn compile_waf(
    report: &Report,
    raw: &Raw,
    conf: &WafConf,
    store: &Arc<dyn PersistentStore>,
    redis: Option<&Arc<RedisStore>>,
) -> Option<Arc<WafPolicy>> {
    let config = raw.child("config").unwrap_or_else(|| raw.clone());
    let file = config.mark().file.clone();
    let before = report.len();
    let detect_only = match conf.mode.as_deref() {
        None | Some("block") => false,
        Some("detect") => true,
        Some(other) => {
            config.error_at(
                report,
                "mode",
                format!("unknown mode `{other}` (expected block or detect)"),
            );
            false
        }
    };
    let mut directives: Vec<Directive> = Vec::new();
    if let Some(crs) = &conf.crs {
        let crs_raw = config.child("crs").unwrap_or_else(|| config.clone());
        let pl = crs.paranoia_level.unwrap_or(1);
        for (key, level) in [
            ("paranoia_level", Some(pl)),
            ("detection_paranoia_level", crs.detection_paranoia_level),
        ] {
            if level.is_some_and(|l| !(1..=4).contains(&l)) {
                crs_raw.error_at(report, key, "a paranoia level is 1, 2, 3 or 4");
            }
        }
        let mut settings = CrsSettings::new(resolve(&file, &crs.path), pl);
        settings.detection_paranoia_level = crs.detection_paranoia_level;
        settings.inbound_anomaly_threshold = crs.inbound_anomaly_threshold;
        settings.outbound_anomaly_threshold = crs.outbound_anomaly_threshold;
        settings.variables = crs
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match crs_directives(&settings) {
            Ok(d) => directives.extend(d),
            Err(e) => report_parse(report, &crs_raw, "path", e),
        }
    }
    for (i, f) in conf.rules_files.iter().enumerate() {
        match parse_file(&resolve(&file, f)) {
            Ok(d) => directives.extend(d),
            Err(e) => {
                for err in e.into_iter().take(20) {
                    let (m, p) = config.at_index("rules_files", i);
                    report.error(&m, &p, err.to_string());
                }
            }
        }
    }
    if let Some(text) = &conf.rules {
        let line = config.at("rules").0.line;
        let name = format!("{file}: waf rules (from line {line})");
        match parse_str(text, &name) {
            Ok(d) => directives.extend(d),
            Err(e) => report_parse(report, &config, "rules", e),
        }
    }
    let exclusions = exclusion_rules(conf);
    if !exclusions.is_empty() {
        match parse_str(&exclusions, &format!("{file}: waf exclusions")) {
            Ok(d) => directives.extend(d),
            Err(e) => report_parse(report, &config, "exclusions", e),
        }
    }
    if directives.is_empty() && report.len() == before {
        config.error_at(
            report,
            "rules",
            "the waf plugin needs `rules`, `rules_files` or `crs`",
        );
    }
    if report.len() != before {
        return None;
    }
    let base = Path::new(&*file).parent().unwrap_or(Path::new("."));
    let mut set = match compile(directives, base) {
        Ok(set) => set,
        Err(e) => {
            for msg in e.0.into_iter().take(20) {
                config.error_at(report, "rules", msg);
            }
            return None;
        }
    };
    for (id, why) in &set.unsupported {
        log::warn!(
            "waf: rule {} not loaded: {why}",
            id.map_or_else(|| "-".to_string(), |i| i.to_string())
        );
    }
    if detect_only {
        set.engine = EngineMode::DetectionOnly;
    }
    let engine = Engine::new(set, store.clone());
    let engine = Arc::new(match conf.remember_values {
        Some(false) => engine.without_recall(),
        _ => engine,
    });
    let shared = redis
        .map(|store| SharedCollections {
            store: store.clone(),
            ahead: engine.collections_ahead(),
        })
        .filter(|s| !s.ahead.is_empty());
    Some(Arc::new(WafPolicy {
        engine,
        detect_only,
        body_limit: conf.request_body_limit.map_or(DEFAULT_BODY_LIMIT, |s| s.0),
        shared,
    }))
}
