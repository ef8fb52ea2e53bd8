//! `@detectSQLi`: a benign corpus that must pass, an attack corpus that
//! must be caught, and the OWASP CRS regression tests of rules
//! 942100/942101 (read from `../shared` when present, never copied here).
#![allow(clippy::unwrap_used)]

use gatehouse_waf::operator::Operator;
use gatehouse_waf::transform::{apply_chain, Transform};
use std::path::Path;

/// The transformations of rules 942100 and 942101.
const CHAIN: [Transform; 3] = [
    Transform::Utf8ToUnicode,
    Transform::UrlDecodeUni,
    Transform::RemoveNulls,
];

fn detector() -> Operator {
    Operator::compile("detectSQLi", "", Path::new(".")).unwrap()
}

/// What the CRS rules do: transform, then detect.
fn flags(op: &Operator, value: &[u8]) -> bool {
    op.matches(&apply_chain(&CHAIN, value), None)
}

/// The fingerprint the operator leaves in TX:0, if it matches.
fn fingerprint(op: &Operator, value: &str) -> Option<String> {
    let mut captures = Vec::new();
    op.matches(value.as_bytes(), Some(&mut captures))
        .then(|| String::from_utf8_lossy(&captures[0]).into_owned())
}

mod corpus;

use corpus::{ATTACKS, BENIGN, MISSED};

#[test]
fn benign_corpus_passes() {
    assert!(BENIGN.len() >= 150, "only {} benign values", BENIGN.len());
    let op = detector();
    let flagged: Vec<(&str, Option<String>)> = BENIGN
        .iter()
        .copied()
        .filter(|v| op.matches(v.as_bytes(), None) || flags(&op, v.as_bytes()))
        .map(|v| (v, fingerprint(&op, v)))
        .collect();
    println!("benign values flagged: {}/{}", flagged.len(), BENIGN.len());
    assert!(flagged.is_empty(), "benign values flagged: {flagged:#?}");
}

#[test]
fn attack_corpus_is_caught() {
    assert!(ATTACKS.len() >= 100, "only {} attacks", ATTACKS.len());
    let op = detector();
    let missed: Vec<&str> = ATTACKS
        .iter()
        .copied()
        .filter(|v| !op.matches(v.as_bytes(), None))
        .collect();
    let expected: Vec<&str> = MISSED.iter().map(|&(v, _)| v).collect();
    let rate = 100.0 * (ATTACKS.len() - missed.len()) as f64 / ATTACKS.len() as f64;
    println!(
        "attacks caught: {}/{} ({rate:.1}%)",
        ATTACKS.len() - missed.len(),
        ATTACKS.len()
    );
    assert_eq!(
        missed, expected,
        "attacks missed (left) vs listed exceptions (right)"
    );
    assert!(rate >= 95.0, "attack rate {rate:.1}%");
}

/// Percent-encoding every byte and letting the CRS chain decode it gives
/// the same verdict as the raw payload.
#[test]
fn attacks_survive_crs_decoding() {
    let op = detector();
    for &attack in ATTACKS {
        let encoded: String = attack.bytes().map(|b| format!("%{b:02x}")).collect();
        let raw = op.matches(attack.as_bytes(), None);
        assert_eq!(flags(&op, encoded.as_bytes()), raw, "{attack:?} encoded");
    }
}

/// TX:0 carries a short fingerprint in libinjection's alphabet.
#[test]
fn fingerprints_in_tx0() {
    let op = detector();
    for (value, expected) in [
        ("1 OR 1=1", "1&1o1"),
        ("1' or '1'='1", "s&sos"),
        ("1 union all select null,null", "1UE1,"),
        ("admin'--", "sc"),
        ("1;drop table users", "1;Ekn"),
        ("sleep(20)", "f(1)"),
    ] {
        assert_eq!(
            fingerprint(&op, value).as_deref(),
            Some(expected),
            "{value:?}"
        );
    }
    assert_eq!(fingerprint(&op, "O'Reilly"), None);
}

#[path = "../support/crs_stages.rs"]
mod crs_stages;

use crs_stages::{crs_tests, stages, yaml_files, Stage};

/// Rule 942100's targets: cookies and their names, the User-Agent and
/// Referer, ARGS_NAMES and ARGS (XML values included).
fn targets_942100(stage: &Stage) -> Vec<Vec<u8>> {
    stage.targets(&["User-Agent", "Referer"])
}

/// Rule 942101's targets: REQUEST_FILENAME (the decoded path) and
/// REQUEST_BASENAME (its last segment).
fn targets_942101(stage: &Stage) -> Vec<Vec<u8>> {
    let filename = stage.filename();
    let base_start = filename
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |i| i + 1);
    let basename = filename[base_start..].to_vec();
    vec![filename, basename]
}

/// Whether the rule's targets of `stage` are flagged.
fn rule_flags(op: &Operator, rule: i64, stage: &Stage) -> bool {
    let targets = if rule == 942100 {
        targets_942100(stage)
    } else {
        targets_942101(stage)
    };
    targets.iter().any(|v| flags(op, v))
}

/// Known CRS expectations we do not meet: (test, reason). None so far.
const CRS_MISSED: &[(&str, &str)] = &[];

#[test]
fn crs_942100_942101_regression() {
    let Some(dir) = crs_tests() else {
        return;
    };
    let op = detector();
    let sqli = dir.join("REQUEST-942-APPLICATION-ATTACK-SQLI");
    let (mut expected, mut detected, mut clean_expected, mut clean) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for rule in [942100, 942101] {
        for stage in stages(&sqli.join(format!("{rule}.yaml"))) {
            let hit = rule_flags(&op, rule, &stage);
            if stage.expect.contains(&rule) {
                expected += 1;
                if hit {
                    detected += 1;
                } else if !CRS_MISSED.iter().any(|&(n, _)| n == stage.name) {
                    wrong.push(format!("{} not detected", stage.name));
                }
            }
            if stage.no_expect.contains(&rule) {
                clean_expected += 1;
                if hit {
                    wrong.push(format!("{} flagged", stage.name));
                } else {
                    clean += 1;
                }
            }
        }
    }
    println!("942100/942101 expect_ids detected: {detected}/{expected}");
    println!("942100/942101 no_expect_ids clean: {clean}/{clean_expected}");
    assert!(expected > 0, "no tests read from {}", sqli.display());
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The CRS authors' false-positive guard: wherever any test says 942100
/// (or 942101) must not fire, its targets pass.
#[test]
fn crs_no_expect_anywhere() {
    let Some(dir) = crs_tests() else {
        return;
    };
    let op = detector();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let (mut checked, mut flagged) = (0, Vec::new());
    for file in &files {
        for stage in stages(file) {
            for rule in [942100, 942101] {
                if stage.no_expect.contains(&rule) {
                    checked += 1;
                    if rule_flags(&op, rule, &stage) {
                        flagged.push(format!("{} ({rule})", stage.name));
                    }
                }
            }
        }
    }
    println!(
        "no_expect guards checked: {checked} in {} files",
        files.len()
    );
    assert!(
        flagged.is_empty(),
        "flagged despite no_expect_ids: {flagged:#?}"
    );
}

/// Informational: how many positive tests of the other 942xxx rules our
/// detector flags on their ARGS, and how many stages outside the SQLi
/// family it flags on 942100's targets (a false-positive signal).
#[test]
fn crs_other_rules_informational() {
    let Some(dir) = crs_tests() else {
        return;
    };
    let op = detector();
    let sqli = dir.join("REQUEST-942-APPLICATION-ATTACK-SQLI");
    let mut files = Vec::new();
    yaml_files(&sqli, &mut files);
    let (mut total, mut hits) = (0, 0);
    for file in &files {
        let stem = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Ok(rule) = stem.parse::<i64>() else {
            continue;
        };
        if rule == 942100 || rule == 942101 {
            continue;
        }
        let (mut t, mut h) = (0, 0);
        for stage in stages(file).iter().filter(|s| s.expect.contains(&rule)) {
            t += 1;
            let args = stage.args();
            if args.iter().any(|(n, v)| flags(&op, n) || flags(&op, v)) {
                h += 1;
            } else if std::env::var_os("SQLI_SHOW_MISSES").is_some() {
                for (n, v) in &args {
                    let n = String::from_utf8_lossy(&apply_chain(&CHAIN, n)).into_owned();
                    let v = String::from_utf8_lossy(&apply_chain(&CHAIN, v)).into_owned();
                    println!("    miss {}: {n:?} = {v:?}", stage.name);
                }
            }
        }
        println!("  {rule}: {h}/{t}");
        total += t;
        hits += h;
    }
    println!("other 942xxx expect_ids tests flagged on ARGS: {hits}/{total}");

    let mut all = Vec::new();
    yaml_files(&dir, &mut all);
    let (mut stages_seen, mut other_hits) = (0, Vec::new());
    for file in all.iter().filter(|f| !f.to_string_lossy().contains("942-")) {
        for stage in stages(file) {
            stages_seen += 1;
            if let Some(v) = targets_942100(&stage).iter().find(|v| flags(&op, v)) {
                let v = String::from_utf8_lossy(&apply_chain(&CHAIN, v)).into_owned();
                let short: String = v.chars().take(100).collect();
                other_hits.push(format!("{}: {short:?}", stage.name));
            }
        }
    }
    println!(
        "stages outside 942 flagged on 942100 targets: {}/{stages_seen}: {other_hits:#?}",
        other_hits.len()
    );
}
