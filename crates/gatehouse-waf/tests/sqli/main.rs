//! `@detectSQLi`: a benign corpus that must pass, an attack corpus that
//! must be caught, and the OWASP CRS regression tests of rules
//! 942100/942101 (read from `../shared` when present, never copied here).
#![allow(clippy::unwrap_used)]

use gatehouse_waf::operator::Operator;
use gatehouse_waf::transform::{apply_chain, Transform};
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

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

/// Typical header-sized benign values stay cheap; printed, not asserted
/// (debug builds and shared CI machines vary too much).
/// `%XX` decoding (invalid escapes kept), with `+` as space for forms.
fn url_decode(s: &[u8], plus: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |j: usize| s.get(j).and_then(|&b| (b as char).to_digit(16));
        match s[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `a=1&b=2` as (name, value) pairs: split at `&` and the first `=`.
fn form_args(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    for pair in s.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        out.push((url_decode(name, true), url_decode(value, true)));
    }
}

/// Rough XML:/* and XML://@* values: attribute values and text nodes.
fn xml_values(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let mut in_tag = false;
    let mut quote = 0u8;
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if quote != 0 {
            if b == quote {
                out.push((b"xml".to_vec(), s[start..i].to_vec()));
                quote = 0;
            }
        } else if in_tag {
            match b {
                b'"' | b'\'' => {
                    quote = b;
                    start = i + 1;
                }
                b'>' => {
                    in_tag = false;
                    start = i + 1;
                }
                _ => {}
            }
        } else if b == b'<' {
            if i > start {
                out.push((b"xml".to_vec(), s[start..i].to_vec()));
            }
            in_tag = true;
        }
    }
}

/// Rough JSON values: every string, paired with the string before it.
fn json_values(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let mut strings = Vec::new();
    let mut i = 0;
    while let Some(d) = s[i..].iter().position(|&b| b == b'"') {
        let start = i + d + 1;
        let mut j = start;
        while j < s.len() && s[j] != b'"' {
            j += if s[j] == b'\\' { 2 } else { 1 };
        }
        strings.push(s[start..j.min(s.len())].to_vec());
        i = (j + 1).min(s.len());
    }
    for pair in strings.chunks(2) {
        out.push((pair[0].clone(), pair.get(1).cloned().unwrap_or_default()));
    }
}

/// One stage of a CRS regression test and what it expects.
struct Stage {
    name: String,
    uri: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    data: Option<Vec<u8>>,
    expect: Vec<i64>,
    no_expect: Vec<i64>,
}

impl Stage {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// ARGS as (name, value): the query string, and a urlencoded, XML or
    /// JSON body.
    fn args(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(q) = self.uri.iter().position(|&b| b == b'?') {
            form_args(&self.uri[q + 1..], &mut out);
        }
        if let Some(data) = &self.data {
            let ct = self.header("Content-Type").unwrap_or(b"");
            let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
            if ct.contains("xml") {
                xml_values(data, &mut out);
            } else if ct.contains("json") {
                json_values(data, &mut out);
            } else if !ct.contains("multipart") {
                form_args(data, &mut out);
            }
        }
        out
    }

    /// Rule 942100's targets: cookies and their names, the User-Agent and
    /// Referer, ARGS_NAMES and ARGS (XML values included).
    fn targets_942100(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(cookie) = self.header("Cookie") {
            for c in cookie.split(|&b| b == b';') {
                let c = c.trim_ascii();
                match c.iter().position(|&b| b == b'=') {
                    Some(i) => {
                        out.push(c[..i].to_vec());
                        out.push(c[i + 1..].to_vec());
                    }
                    None => out.push(c.to_vec()),
                }
            }
        }
        for h in ["User-Agent", "Referer"] {
            if let Some(v) = self.header(h) {
                out.push(v.to_vec());
            }
        }
        for (name, value) in self.args() {
            out.push(name);
            out.push(value);
        }
        out
    }

    /// Rule 942101's targets: REQUEST_FILENAME (the decoded path) and
    /// REQUEST_BASENAME (its last segment).
    fn targets_942101(&self) -> Vec<Vec<u8>> {
        let path_end = self
            .uri
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(self.uri.len());
        let filename = url_decode(&self.uri[..path_end], false);
        let base_start = filename
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        let basename = filename[base_start..].to_vec();
        vec![filename, basename]
    }
}

fn ids(y: &Yaml) -> Vec<i64> {
    match y {
        Yaml::Array(a) => a.iter().filter_map(Yaml::as_i64).collect(),
        Yaml::Integer(i) => vec![*i],
        _ => Vec::new(),
    }
}

fn text(y: &Yaml) -> Option<Vec<u8>> {
    match y {
        Yaml::String(s) => Some(s.as_bytes().to_vec()),
        Yaml::Integer(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The stages of a regression test file (those given as an encoded raw
/// request are left out).
fn stages(file: &Path) -> Vec<Stage> {
    let Ok(src) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let Ok(docs) = YamlLoader::load_from_str(&src) else {
        println!("unreadable YAML: {}", file.display());
        return Vec::new();
    };
    let mut out = Vec::new();
    let stem = file
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for doc in &docs {
        for test in doc["tests"].as_vec().map(Vec::as_slice).unwrap_or(&[]) {
            let id = test["test_id"].as_i64().unwrap_or(0);
            for stage in test["stages"].as_vec().map(Vec::as_slice).unwrap_or(&[]) {
                let input = &stage["input"];
                let Some(uri) = text(&input["uri"]) else {
                    continue;
                };
                let headers = input["headers"]
                    .as_hash()
                    .map(|h| {
                        h.iter()
                            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), text(v)?)))
                            .collect()
                    })
                    .unwrap_or_default();
                let log = &stage["output"]["log"];
                out.push(Stage {
                    name: format!("{stem}-{id}"),
                    uri,
                    headers,
                    data: text(&input["data"]),
                    expect: ids(&log["expect_ids"]),
                    no_expect: ids(&log["no_expect_ids"]),
                });
            }
        }
    }
    out
}

fn crs_tests() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/crs-v4.28.0")
        .join("tests/regression/tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared not found");
        None
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out.sort();
}

/// Whether the rule's targets of `stage` are flagged.
fn rule_flags(op: &Operator, rule: i64, stage: &Stage) -> bool {
    let targets = if rule == 942100 {
        stage.targets_942100()
    } else {
        stage.targets_942101()
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
            if let Some(v) = stage.targets_942100().iter().find(|v| flags(&op, v)) {
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
