//! The OWASP CRS v4.28.0 regression suite (`../shared/crs-v4.28.0/tests`,
//! read in place, never copied) played through the engine at paranoia
//! levels 1 and 2 (blocking = detection = the level).
//!
//! Setup, as the suite's README and a ModSecurity install give it:
//! `modsecurity.conf-recommended`'s engine and body settings first (rules
//! 200002/200003 are not CRS and are left out; the body processors the
//! recommended rules 200000/200001/200006 select are the engine's own
//! `request::processor_for`), then crs-setup, the gateway's settings
//! SecAction 900008 with the README's rule 900005 values, the README's
//! rule 900005 itself (`ctl:ruleEngine=DetectionOnly`,
//! `ctl:ruleRemoveById=910000`), then `rules/*.conf`.
//!
//! Requests are built as go-ftw (coreruleset/go-ftw, `ftwhttp/request.go`)
//! builds them: with `autocomplete_headers` (the default) and a non-empty
//! `data`, a missing Content-Type becomes `application/x-www-form-urlencoded`
//! and such a body is form-encoded pair by pair when it holds no `%` or `+`;
//! a `multipart/form-data;` body gets CRLF line ends; `Connection: close`
//! and `Content-Length` are added when missing. `encoded_request` is sent
//! as is. Each stage is its own transaction; phases 1 and 2 run.
//!
//! Counted per rule family (rule id / 1000): `expect_ids` stages whose
//! rule (`rule_id` of the file) is at or below the level, detected when
//! every expected id matched; `no_expect_ids` stages where a named rule
//! matched (false positives). Stages the suite expects the HTTP server to
//! refuse with a 400 and no log expectation are not run. Misses that the
//! gateway's protocol layer (`gatehouse-protocol`) refuses before the WAF
//! are counted apart ([`PROTOCOL`]). RESPONSE-* files need an upstream's
//! response and are skipped. The report is printed (`--nocapture`) and
//! written to `target/crs-regression.md` (and `-plN.md`).

#![allow(clippy::unwrap_used)]

use gatehouse_waf::collection::MemoryStore;
use gatehouse_waf::compile::{compile, RuleSet};
use gatehouse_waf::engine::{Engine, Intervention, Transaction};
use gatehouse_waf::load::{crs_directives, CrsSettings};
use gatehouse_waf::parse::{parse_str, Directive};
use gatehouse_waf::request::RequestInput;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Families whose in-level detection must reach 99%, with no false
/// positive of the named rule.
const REQUIRED: [u64; 9] = [913, 921, 930, 931, 932, 933, 941, 942, 944];

/// Tests of the required families allowed to miss, with why: only what
/// the threshold needs, each with a real reason. `(rule, test_id, reason)`.
const KNOWN: &[(u64, u32, &str)] = &[];

/// `no_expect_ids` tests of the required families allowed to match.
/// Also marks expected matches in the other families.
const KNOWN_FP: &[(u64, u32, &str)] = &[(
    920620,
    1,
    "httpd-only expectation: httpd joins repeated Content-Type headers into \
     one; the gateway, like nginx, hands both to the WAF, which is what \
     920620 is for",
)];

/// Stages the gateway's HTTP/1.1 front end (`gatehouse-protocol`'s
/// `check_request_head`) answers itself before the WAF sees them, with the
/// violation. They are not counted as detected by the WAF.
const PROTOCOL: &[(u64, u32, &str)] = &[(
    920430,
    5,
    "invalid_version: `GET / ` has no HTTP version (HTTP/0.9), answered 400; \
     Apache takes it as HTTP/0.9, which 920430 then flags",
)];

/// `modsecurity.conf-recommended` as far as the suite relies on it.
const RECOMMENDED: &str = "\
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
";

/// The README's rule 900005, minus the `setvar`s given as settings.
const RULE_900005: &str = "SecAction \"id:900005,phase:1,nolog,pass,\
ctl:ruleEngine=DetectionOnly,ctl:ruleRemoveById=910000\"\n";

fn crs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/crs-v4.28.0 not found");
        None
    }
}

mod ftw;

use ftw::{load_cases, Stage};

fn engine(dir: &Path, pl: u8) -> Arc<Engine> {
    let mut settings = CrsSettings::new(dir, pl);
    settings.variables = [
        ("crs_validate_utf8_encoding", "1"),
        ("arg_name_length", "100"),
        ("arg_length", "400"),
        ("total_arg_length", "64000"),
        ("max_num_args", "255"),
        ("max_file_size", "64100"),
        ("combined_file_sizes", "65535"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    let mut directives = parse_str(RECOMMENDED, "modsecurity.conf-recommended").unwrap();
    let mut crs = crs_directives(&settings).unwrap();
    // Right after crs-setup and the settings rule 900008.
    let at = crs
        .iter()
        .position(|d| matches!(d, Directive::Action(r) if r.id() == Some(900008)))
        .unwrap()
        + 1;
    let rules = crs.split_off(at);
    directives.extend(crs);
    directives.extend(parse_str(RULE_900005, "crs-setup:900005").unwrap());
    directives.extend(rules);
    let set = compile(directives, &dir.join("rules")).unwrap();
    Arc::new(Engine::new(set, Arc::new(MemoryStore::new(3600, 10_000))))
}

/// `tag:'paranoia-level/N'` of the rule; untagged rules count as PL1.
fn rule_pl(set: &RuleSet, id: u64) -> u8 {
    set.rule(id)
        .and_then(|r| {
            r.tags
                .iter()
                .find_map(|t| t.strip_prefix("paranoia-level/")?.parse().ok())
        })
        .unwrap_or(1)
}

/// A stage through phases 1 and 2 (phase 2 does nothing once phase 1
/// stopped the request): the transaction and its decision.
fn play_stage(engine: &Arc<Engine>, s: &Stage) -> (Transaction, Option<Intervention>) {
    let headers: Vec<(&[u8], &[u8])> = s
        .headers
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let input = RequestInput {
        method: &s.method,
        uri: &s.uri,
        protocol: &s.version,
        headers: &headers,
        remote_addr: "127.0.0.1",
        remote_port: 40000,
        body: s.body.as_deref(),
    };
    let mut tx = engine.transaction(&input, "crs-test");
    let stopped = tx
        .request_headers()
        .or_else(|| tx.request_body(s.body.as_deref()));
    (tx, stopped)
}

/// Rule ids that matched (and log) for a stage, phases 1 and 2.
fn run(engine: &Arc<Engine>, s: &Stage) -> Vec<u64> {
    let (tx, _) = play_stage(engine, s);
    let mut ids: Vec<u64> = tx.matches().iter().filter_map(|m| m.rule_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[derive(Default)]
struct Tally {
    /// In-level `expect_ids` stages.
    expect: usize,
    detected: usize,
    /// Misses the protocol layer refuses before the WAF.
    protocol: usize,
    /// Misses tolerated by [`KNOWN`].
    known: usize,
    /// `expect_ids` stages above the level (not counted).
    above: usize,
    no_expect: usize,
    false_positives: usize,
    /// Stages the suite expects a 400 from the HTTP server for.
    refused: usize,
}

fn listed(list: &[(u64, u32, &'static str)], rule: u64, test: u32) -> Option<&'static str> {
    list.iter()
        .find(|k| k.0 == rule && k.1 == test)
        .map(|k| k.2)
}

fn play(pl: u8) {
    let Some(dir) = crs_dir() else { return };
    let started = Instant::now();
    let engine = engine(&dir, pl);
    let set = engine.rules();
    let cases = load_cases(&dir.join("tests/regression/tests"));
    let mut families: BTreeMap<u64, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut fps = Vec::new();
    let mut protocol = Vec::new();
    let mut skipped = 0;
    for case in &cases {
        let family = case.rule / 1000;
        if family >= 950 {
            skipped += case.stages.len();
            continue;
        }
        let rule_level = rule_pl(set, case.rule);
        for s in &case.stages {
            let tally = families.entry(family).or_default();
            if s.refused {
                tally.refused += 1;
                continue;
            }
            let matched = run(&engine, s);
            if !s.expect.is_empty() && rule_level > pl {
                tally.above += 1;
            } else if !s.expect.is_empty() {
                tally.expect += 1;
                let missing: Vec<u64> = s
                    .expect
                    .iter()
                    .copied()
                    .filter(|id| !matched.contains(id))
                    .collect();
                if missing.is_empty() {
                    tally.detected += 1;
                } else {
                    let hint = format!(
                        "{}-{} (PL{rule_level}): missing {missing:?} of {:?}; matched {matched:?}; {}",
                        case.rule,
                        case.test,
                        s.expect,
                        s.summary()
                    );
                    if let Some(why) = listed(PROTOCOL, case.rule, case.test) {
                        tally.protocol += 1;
                        protocol.push(format!("{hint}; refused: {why}"));
                    } else if let Some(why) = listed(KNOWN, case.rule, case.test) {
                        tally.known += 1;
                        misses.push(format!("{hint}; known: {why}"));
                    } else {
                        misses.push(hint);
                    }
                }
            }
            if !s.no_expect.is_empty() {
                tally.no_expect += 1;
                let wrong: Vec<u64> = s
                    .no_expect
                    .iter()
                    .copied()
                    .filter(|id| matched.contains(id))
                    .collect();
                if !wrong.is_empty() {
                    let mut hint = format!(
                        "{}-{} (PL{rule_level}): {wrong:?} matched; all matched {matched:?}; {}",
                        case.rule,
                        case.test,
                        s.summary()
                    );
                    if let Some(why) = listed(PROTOCOL, case.rule, case.test) {
                        tally.protocol += 1;
                        protocol.push(format!("{hint}; refused: {why}"));
                    } else if let Some(why) = listed(KNOWN_FP, case.rule, case.test) {
                        let _ = write!(hint, "; known: {why}");
                        fps.push(hint);
                    } else {
                        fps.push(hint);
                        tally.false_positives += 1;
                    }
                }
            }
        }
    }

    let mut report = String::new();
    let _ = writeln!(report, "# CRS v4.28.0 regression, paranoia level {pl}\n");
    let _ = writeln!(
        report,
        "| family | in-level expect_ids detected | % | protocol layer | known | above PL{pl} | no_expect_ids false positives | expected 400, not run |"
    );
    let _ = writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut failures = Vec::new();
    for (family, t) in &families {
        let pct = if t.expect == 0 {
            100.0
        } else {
            100.0 * t.detected as f64 / t.expect as f64
        };
        let required = REQUIRED.contains(family);
        let _ = writeln!(
            report,
            "| {family}{} | {}/{} | {pct:.1} | {} | {} | {} | {}/{} | {} |",
            if required { "*" } else { "" },
            t.detected,
            t.expect,
            t.protocol,
            t.known,
            t.above,
            t.false_positives,
            t.no_expect,
            t.refused
        );
        // KNOWN misses count as detected for the threshold only.
        let tolerated = 100.0 * (t.detected + t.known) as f64 / t.expect.max(1) as f64;
        if required && (tolerated < 99.0 || t.false_positives > 0) {
            failures.push(format!(
                "{family}: {pct:.1}% detected ({tolerated:.1}% with known misses), {} false positives",
                t.false_positives
            ));
        }
    }
    let _ = writeln!(
        report,
        "\n`*`: asserted (≥ 99% with known misses, no false positive). \
         RESPONSE-* stages skipped (need an upstream response): {skipped}; \
         REQUEST-999's 999999.yml tests a user exclusion rule, not CRS: not loaded. \
         Run time: {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    for (title, list) in [
        ("Misses", &misses),
        ("False positives", &fps),
        ("Refused by the protocol layer before the WAF", &protocol),
    ] {
        let _ = writeln!(report, "\n## {title} ({})\n", list.len());
        for m in list {
            let _ = writeln!(report, "- {m}");
        }
    }
    println!("{report}");
    write_report(pl, &report);
    assert!(failures.is_empty(), "below target at PL{pl}: {failures:?}");
}

/// `target/crs-regression-plN.md`, and both levels in
/// `target/crs-regression.md`; the two tests run in parallel threads.
fn write_report(pl: u8, report: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("..");
    std::fs::write(target.join(format!("crs-regression-pl{pl}.md")), report).unwrap();
    let all: Vec<String> = (1..=2)
        .filter_map(|l| {
            std::fs::read_to_string(target.join(format!("crs-regression-pl{l}.md"))).ok()
        })
        .collect();
    std::fs::write(target.join("crs-regression.md"), all.join("\n")).unwrap();
}

#[test]
fn crs_regression_paranoia_level_1() {
    play(1);
}

#[test]
fn crs_regression_paranoia_level_2() {
    play(2);
}

/// Everything a stage did that the gateway acts on: the matched rules,
/// the variables each matched on, and the decision.
fn outcome(engine: &Arc<Engine>, s: &Stage) -> String {
    let (tx, stopped) = play_stage(engine, s);
    format!(
        "{stopped:?} {:?} score={:?}",
        tx.matches()
            .iter()
            .map(|m| (m.rule_id, &m.variables))
            .collect::<Vec<_>>(),
        tx.tx("blocking_inbound_anomaly_score")
    )
}

/// What the engine remembers of values and target lists from earlier
/// requests changes no outcome: every stage of the suite (at PL2, most
/// rules on) played on an engine that forgets, then three times on one
/// that remembers (values and request data are kept from their second
/// sighting, so the third pass recalls nearly every value, and takes the
/// excluded sets of the lists whose data repeats), matches the same rules
/// on the same variables with the same score and decision.
#[test]
fn recalled_values_change_no_outcome() {
    let Some(dir) = crs_dir() else { return };
    let cases = load_cases(&dir.join("tests/regression/tests"));
    let remembering = engine(&dir, 2);
    let forgetting = Arc::new(
        Arc::try_unwrap(engine(&dir, 2))
            .ok()
            .unwrap()
            .without_recall(),
    );
    let stages: Vec<&Stage> = cases
        .iter()
        .filter(|c| c.rule / 1000 < 950)
        .flat_map(|c| &c.stages)
        .filter(|s| !s.refused)
        .collect();
    let expected: Vec<String> = stages.iter().map(|s| outcome(&forgetting, s)).collect();
    assert_eq!(forgetting.recalled_values(), 0);
    for pass in 1..=3 {
        let mut differ = Vec::new();
        for (s, want) in stages.iter().zip(&expected) {
            let got = outcome(&remembering, s);
            if &got != want {
                differ.push(format!(
                    "{}\n  without recall: {want}\n  with recall:    {got}",
                    s.summary()
                ));
            }
        }
        assert!(
            differ.is_empty(),
            "pass {pass}: {} of {} stages differ:\n{}",
            differ.len(),
            stages.len(),
            differ
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            remembering.recalled_values() > 100,
            "pass {pass}: the engine remembered nothing"
        );
        assert!(
            remembering.kept_target_lists() > 100,
            "pass {pass}: the engine kept no target list"
        );
    }
}
