//! Debian 12's packaged OWASP CRS 3.3.4 (`apt-get install modsecurity-crs`)
//! must load: it is what an operator replacing nginx+ModSecurity on Debian
//! already runs. Skipped when the package is not installed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use gatehouse_waf::compile::compile;
use gatehouse_waf::parse::{parse_file, Directive};

const RULES: &str = "/usr/share/modsecurity-crs/rules";
/// Where Debian puts the set-up, then where upstream CRS ships it.
const SETUP: [&str; 2] = [
    "/etc/modsecurity/crs/crs-setup.conf",
    "/usr/share/modsecurity-crs/crs-setup.conf.example",
];

/// Parses one file, panicking with every parse error.
fn parse(path: &Path) -> Vec<Directive> {
    match parse_file(path) {
        Ok(d) => d,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            panic!("{}: {} parse errors", path.display(), errors.len());
        }
    }
}

#[test]
fn debian_crs_3_3_4_compiles() {
    let rules_dir = Path::new(RULES);
    if !rules_dir.is_dir() {
        println!("skipped: Debian modsecurity-crs not installed (apt-get install modsecurity-crs)");
        return;
    }
    let setup = SETUP
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("modsecurity-crs is installed but has no crs-setup.conf");
    let mut files: Vec<PathBuf> = std::fs::read_dir(rules_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "{} rule files", files.len());

    let mut directives = parse(setup);
    for f in &files {
        directives.extend(parse(f));
    }
    let set = match compile(directives, rules_dir) {
        Ok(set) => set,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            panic!("{} compile errors", errors.0.len());
        }
    };
    let counts = set.phases.each_ref().map(Vec::len);
    println!("Debian CRS: rules per phase 1..=5: {counts:?}");
    println!("ignored directives: {:?}", set.ignored);
    for (id, why) in &set.unsupported {
        println!("unsupported rule {id:?}: {why}");
    }

    // What is dropped today, and why. A gateway makes no GeoIP or DNS
    // blocklist lookups per request; the other three are PCRE lookaround
    // (and, in 942130, a backreference) that the linear-time regex engine
    // refuses, so CRS 3.3.4 loses these checks.
    let expected: [(u64, &str); 5] = [
        (910100, "operator `@geoLookup` is not supported"),
        (910140, "operator `@rbl` is not supported"),
        (920120, "unsupported PCRE construct: lookbehind"),
        (942130, "unsupported PCRE construct: lookahead"),
        (953120, "unsupported PCRE construct: lookahead"),
    ];
    let mut unsupported: Vec<u64> = set.unsupported.iter().map(|(id, _)| id.unwrap()).collect();
    unsupported.sort_unstable();
    assert_eq!(unsupported, expected.map(|(id, _)| id));
    for (id, why) in expected {
        let (_, got) = set
            .unsupported
            .iter()
            .find(|(i, _)| *i == Some(id))
            .unwrap();
        assert!(got.contains(why), "rule {id}: {got}");
    }

    for (id, phase) in [
        (901001, 1),
        (920350, 2),
        (930100, 2),
        (941100, 2),
        (942100, 2),
        (949110, 2),
        (959100, 4),
        (980130, 5),
    ] {
        let rule = set
            .rule(id)
            .unwrap_or_else(|| panic!("rule {id} missing after compile"));
        assert_eq!(rule.phase, phase, "rule {id}");
    }
    assert!(counts.iter().sum::<usize>() > 400, "{counts:?}");
}
