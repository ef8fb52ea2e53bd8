//! `@detectXSS`: a benign corpus that must pass, an attack corpus that must
//! be caught, and the OWASP CRS regression tests of rules 941100/941101
//! (read from `../shared` when present, never copied here).
#![allow(clippy::unwrap_used)]

use gatehouse_waf::operator::Operator;
use gatehouse_waf::transform::{apply_chain, Transform};
use std::borrow::Cow;
use std::path::Path;

/// The transformations of rules 941100 and 941101.
const CHAIN: [Transform; 6] = [
    Transform::Utf8ToUnicode,
    Transform::UrlDecodeUni,
    Transform::HtmlEntityDecode,
    Transform::JsDecode,
    Transform::CssDecode,
    Transform::RemoveNulls,
];

fn detector() -> Operator {
    Operator::compile("detectXSS", "", Path::new(".")).unwrap()
}

/// What the CRS rules do: transform, then detect.
fn flags(op: &Operator, value: &[u8]) -> bool {
    op.matches(&apply_chain(&CHAIN, value), None)
}

mod corpus;

use corpus::{ATTACKS, BENIGN, MISSED};

#[test]
fn benign_corpus_passes() {
    assert!(BENIGN.len() >= 150, "only {} benign values", BENIGN.len());
    let op = detector();
    let flagged: Vec<&str> = BENIGN
        .iter()
        .copied()
        .filter(|v| op.matches(v.as_bytes(), None) || flags(&op, v.as_bytes()))
        .collect();
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
    // jsDecode reads `\\65` as an octal escape, so CSS escapes do not
    // survive the chain; those payloads are left out.
    for &attack in ATTACKS.iter().filter(|a| !a.contains('\\')) {
        let encoded: String = attack.bytes().map(|b| format!("%{b:02x}")).collect();
        let raw = op.matches(attack.as_bytes(), None);
        assert_eq!(flags(&op, encoded.as_bytes()), raw, "{attack:?} encoded");
    }
}

#[path = "../support/crs_stages.rs"]
mod crs_stages;
#[path = "../support/detector_crs.rs"]
mod detector_crs;

use crs_stages::{crs_tests, Stage};
use detector_crs::Detector;

/// The values rules 941100 and 941101 read. 941100: cookies and their
/// names, the User-Agent, ARGS_NAMES and ARGS; 941101: REQUEST_FILENAME
/// and the Referer.
fn targets(rule: i64, stage: &Stage) -> Vec<Vec<u8>> {
    if rule == 941100 {
        return stage.targets(&["User-Agent"]);
    }
    let mut out = vec![stage.filename()];
    if let Some(referer) = stage.header("Referer") {
        out.push(referer.to_vec());
    }
    out
}

/// Known CRS expectations we do not meet: (test, reason). None so far.
const CRS_MISSED: &[(&str, &str)] = &[];

fn crs_detector() -> Detector<'static> {
    Detector {
        op: detector(),
        chain: &CHAIN,
        family: "REQUEST-941-APPLICATION-ATTACK-XSS",
        rules: [941100, 941101],
        targets,
        missed: CRS_MISSED,
        show_misses: "XSS_SHOW_MISSES",
    }
}

#[test]
fn crs_941100_941101_regression() {
    if let Some(dir) = crs_tests() {
        crs_detector().regression(&dir);
    }
}

#[test]
fn crs_no_expect_anywhere() {
    if let Some(dir) = crs_tests() {
        crs_detector().no_expect_anywhere(&dir);
    }
}

#[test]
fn crs_other_rules_informational() {
    if let Some(dir) = crs_tests() {
        crs_detector().other_rules_informational(&dir);
    }
}

/// Cheap sanity on what a borrowed chain result looks like.
#[test]
fn chain_output_is_detected() {
    let op = detector();
    let v: Cow<'_, [u8]> = apply_chain(&CHAIN, b"%3Cscript%3Ealert(1)%3C/script%3E");
    assert!(op.matches(&v, None));
}

/// The same ordinary values must not read as SQL injection either, except
/// the two that are SQL on purpose (harmless as HTML, a tautology and a
/// complete statement as SQL).
#[test]
fn benign_corpus_is_not_sqli() {
    const SQL: [&str; 2] = ["5 > 4 and 3 < 7", "SELECT * FROM users WHERE id = 1"];
    let sqli = Operator::compile("detectSQLi", "", Path::new(".")).unwrap();
    let flagged: Vec<&str> = BENIGN
        .iter()
        .copied()
        .filter(|v| sqli.matches(v.as_bytes(), None))
        .collect();
    assert_eq!(flagged, SQL);
}
