//! The whole OWASP CRS v4.28.0 must load: it is what the gateway runs.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use gatehouse_waf::parse::{parse_file, Directive, Rule, Selector, Variable};

/// `../shared` beside the repository, as CI provides it.
fn crs() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/crs-v4.28.0")
        .display()
        .to_string()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-parse-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn count_actions(rule: &Rule) -> usize {
    rule.actions.len() + rule.chained.iter().map(count_actions).sum::<usize>()
}

#[test]
fn whole_crs_parses() {
    let crs = crs();
    if !Path::new(&crs).exists() {
        println!("SKIPPED: {crs} does not exist");
        return;
    }
    let tmp = TempDir::new("crs");
    let main = tmp.0.join("main.conf");
    std::fs::write(
        &main,
        format!("Include {crs}/crs-setup.conf.example\nInclude {crs}/rules/*.conf\n"),
    )
    .unwrap();
    let directives = match parse_file(&main) {
        Ok(d) => d,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            panic!("{} errors", errors.len());
        }
    };
    let rules: Vec<&Rule> = directives
        .iter()
        .filter_map(|d| match d {
            Directive::Rule(r) | Directive::Action(r) => Some(r),
            _ => None,
        })
        .collect();
    let ids: Vec<u64> = rules.iter().filter_map(|r| r.id()).collect();
    let chains = rules.iter().filter(|r| !r.chained.is_empty()).count();
    let links: usize = rules.iter().map(|r| r.chained.len()).sum();
    let markers = directives
        .iter()
        .filter(|d| matches!(d, Directive::Marker(_)))
        .count();
    let actions: usize = rules.iter().map(|r| count_actions(r)).sum();
    let sec_actions = directives
        .iter()
        .filter(|d| matches!(d, Directive::Action(_)))
        .count();
    println!(
        "CRS: {} directives, {} rules with ids ({} SecAction), {} chains with {} links, {} markers, {} actions",
        directives.len(),
        ids.len(),
        sec_actions,
        chains,
        links,
        markers,
        actions
    );
    assert!(ids.len() > 500, "{} rules", ids.len());
    for id in [942100, 941100, 949110, 980170] {
        assert!(ids.contains(&id), "rule {id} missing");
    }
    assert!(chains > 20);
    assert!(markers > 20);
    check_tricky_rules(&rules, &directives);
}

/// Rules whose quoting, continuations or selectors are easy to get wrong.
fn check_tricky_rules(rules: &[&Rule], directives: &[Directive]) {
    let by_id = |id: u64| *rules.iter().find(|r| r.id() == Some(id)).unwrap();
    // `\"` inside the double-quoted actions becomes a plain quote.
    let msg = by_id(942220).action("msg").unwrap();
    assert!(msg.ends_with("is the \"magic number\" crash"), "{msg}");
    // `\'` inside a single-quoted value becomes a plain quote.
    assert_eq!(by_id(955220).action("msg"), Some("lama's'hell web shell"));
    // A message continued over four lines inside single quotes.
    let msg = by_id(980170).action("msg").unwrap();
    assert!(
        msg.starts_with("Anomaly Scores: (Inbound Scores: blocking="),
        "{msg}"
    );
    assert!(msg.contains("threshold=%{tx.inbound_anomaly_score_threshold}) - (Outbound"));
    // The regex keeps its escapes; only `\"` lost its backslash.
    let r = by_id(920120);
    assert!(r.operator.negated);
    assert!(
        r.operator.argument.ends_with("|[^\"';=\\x5c])*$"),
        "{}",
        r.operator.argument
    );
    // Regex selectors and XPath selectors.
    let r = by_id(922110);
    assert_eq!(
        r.variables[0].selector,
        Some(Selector::Regex(
            "MULTIPART_HEADERS_CONTENT_TYPES_*".to_string()
        ))
    );
    let r = by_id(942100);
    assert_eq!(r.operator.name, "detectSQLi");
    assert!(r.variables.contains(&Variable {
        name: "XML".to_string(),
        selector: Some(Selector::Name("/*".to_string())),
        count: false,
        exclude: false,
    }));
    // The set-up's defaults and the exclusions of REQUEST-999.
    let defaults = directives
        .iter()
        .filter(|d| matches!(d, Directive::DefaultAction(_)))
        .count();
    assert_eq!(defaults, 5);
    assert!(directives.iter().any(|d| matches!(
        d,
        Directive::UpdateTargetById { ids, targets, .. }
            if ids[0].start == 942290
                && targets[0].exclude
                && targets[0].selector == Some(Selector::Regex("^_ga(?:_\\w+)?$".to_string()))
    )));
}
