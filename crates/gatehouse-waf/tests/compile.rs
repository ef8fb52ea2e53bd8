#![allow(clippy::unwrap_used)]

use gatehouse_waf::compile::{compile, AllowScope, Ctl, Disruptive, Key, RuleSet, Var};
use gatehouse_waf::parse::{parse_file, parse_str, EngineMode};
use gatehouse_waf::transform::Transform;
use std::path::Path;

fn build(text: &str) -> RuleSet {
    compile(parse_str(text, "t.conf").unwrap(), Path::new(".")).unwrap()
}

fn errors(text: &str) -> Vec<String> {
    compile(parse_str(text, "t.conf").unwrap(), Path::new("."))
        .unwrap_err()
        .0
}

#[test]
fn defaults_apply_to_following_rules_only() {
    let set = build(
        "SecRule ARGS \"@rx a\" \"id:1,phase:2,t:lowercase\"\n\
         SecDefaultAction \"phase:2,nolog,deny,status:403,t:urlDecode\"\n\
         SecRule ARGS \"@rx a\" \"id:2,phase:2,t:lowercase\"\n\
         SecRule ARGS \"@rx a\" \"id:3,phase:2,t:none,t:lowercase,pass,log\"\n\
         SecRule ARGS \"@rx a\" \"id:4,phase:1\"\n",
    );
    assert_eq!(set.engine, EngineMode::On);
    let r1 = set.rule(1).unwrap();
    assert_eq!(r1.disruptive, Disruptive::Pass);
    assert_eq!(r1.links[0].transforms, vec![Transform::Lowercase]);
    assert!(r1.log);
    let r2 = set.rule(2).unwrap();
    assert_eq!(r2.disruptive, Disruptive::Deny);
    assert_eq!(r2.status, Some(403));
    assert!(!r2.log && !r2.auditlog);
    let t = &r2.links[0].transforms;
    assert_eq!(t, &vec![Transform::UrlDecode, Transform::Lowercase]);
    let r3 = set.rule(3).unwrap();
    assert_eq!(r3.links[0].transforms, vec![Transform::Lowercase]);
    assert_eq!(r3.disruptive, Disruptive::Pass);
    assert!(r3.log);
    // Phase 1 has its own (empty) defaults.
    assert_eq!(set.rule(4).unwrap().disruptive, Disruptive::Pass);
    assert_eq!(set.phase(1).len(), 1);
    assert_eq!(set.phase(2).len(), 3);
}

#[test]
fn block_chains_and_severity() {
    let set = build(
        "SecDefaultAction \"phase:2,log,deny,status:403\"\n\
         SecRule ARGS \"@rx a\" \"id:1,phase:2,block,msg:'m',severity:CRITICAL,tag:x,chain\"\n\
         SecRule MATCHED_VAR \"!@streq b\" \"t:lowercase,capture,setvar:tx.s=+1,chain\"\n\
         SecRule TX:S \"@gt 0\" \"multiMatch\"\n\
         SecAction \"id:2,phase:2,allow:phase,severity:4\"\n",
    );
    let r = set.rule(1).unwrap();
    assert_eq!(r.disruptive, Disruptive::Block);
    assert_eq!(r.block_action, Disruptive::Deny);
    assert_eq!(r.severity, Some(2));
    assert_eq!(r.msg.as_deref(), Some("m"));
    assert_eq!(r.tags, vec!["x"]);
    assert_eq!(r.links.len(), 3);
    assert!(r.links[1].negated && r.links[1].capture);
    assert_eq!(r.links[1].setvars.len(), 1);
    assert_eq!(r.links[1].variables[0].var, Var::MatchedVar);
    assert!(r.links[2].multi_match);
    let a = set.rule(2).unwrap();
    assert_eq!(a.disruptive, Disruptive::Allow(AllowScope::Phase));
    assert_eq!(a.severity, Some(4));
}

#[test]
fn markers_and_skip_after() {
    let set = build(
        "SecRule ARGS \"@rx a\" \"id:1,phase:1,skipAfter:END\"\n\
         SecRule ARGS \"@rx a\" \"id:2,phase:2,skipAfter:END\"\n\
         SecRule ARGS \"@rx a\" \"id:3,phase:2\"\n\
         SecMarker END\n\
         SecRule ARGS \"@rx a\" \"id:4,phase:2\"\n",
    );
    assert_eq!(set.markers["END"], [1, 2, 0, 0, 0]);
    assert_eq!(set.rule(1).unwrap().skip_after.as_deref(), Some("END"));
    let e = errors("SecRule ARGS \"@rx a\" \"id:1,phase:1,skipAfter:NOPE\"\n");
    assert_eq!(e, vec!["t.conf:1: skipAfter: no SecMarker `NOPE`"]);
}

#[test]
fn ctl_and_exclusions() {
    let set = build(
        "SecRule REQUEST_URI \"@beginsWith /a\" \"id:1,phase:1,pass,nolog,\
         ctl:ruleRemoveTargetById=942100;ARGS:q,ctl:ruleRemoveById=10-20,\
         ctl:ruleEngine=DetectionOnly,ctl:requestBodyProcessor=JSON,ctl:ruleRemoveByTag=attack-sqli\"\n\
         SecRule ARGS|!ARGS:foo|!ARGS:/^x/|REQUEST_HEADERS:User-Agent \"@rx a\" \"id:2,phase:2\"\n",
    );
    let ctls = &set.rule(1).unwrap().links[0].ctls;
    assert_eq!(ctls.len(), 5);
    match &ctls[0] {
        Ctl::RuleRemoveTargetById(r, t) => {
            assert_eq!((r.start, r.end), (942100, 942100));
            assert_eq!(t.var, Var::Args);
            assert!(matches!(&t.selector, Some(Key::Name(n)) if n == "q"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&ctls[1], Ctl::RuleRemoveById(r) if r[0].start == 10 && r[0].end == 20));
    assert!(matches!(
        ctls[2],
        Ctl::RuleEngine(EngineMode::DetectionOnly)
    ));
    assert!(matches!(&ctls[3], Ctl::RequestBodyProcessor(p) if p == "JSON"));
    let vars = &set.rule(2).unwrap().links[0].variables;
    assert_eq!(vars.len(), 2);
    assert_eq!(vars[0].exclusions.len(), 2);
    assert!(vars[0].exclusions[0].matches("FOO"));
    assert!(vars[0].exclusions[1].matches("xy"));
    assert!(vars[1].selector.as_ref().unwrap().matches("user-agent"));
}

#[test]
fn removal_and_updates() {
    let set = build(
        "SecRule ARGS \"@rx a\" \"id:1,phase:2,tag:attack-sqli,msg:'SQL thing'\"\n\
         SecRule ARGS \"@rx a\" \"id:2,phase:2,tag:attack-xss\"\n\
         SecRule ARGS \"@rx a\" \"id:3,phase:2,msg:'Remove me'\"\n\
         SecRule ARGS \"@rx a\" \"id:4,phase:2,pass,t:lowercase,msg:old\"\n\
         SecRule ARGS \"@rx a\" \"id:5,phase:2\"\n\
         SecRuleRemoveByTag attack-sql\n\
         SecRuleRemoveByMsg ^Remove\n\
         SecRuleRemoveById 5-6\n\
         SecRuleUpdateTargetById 2 \"!ARGS:foo|REQUEST_BODY\"\n\
         SecRuleUpdateTargetByMsg old \"!ARGS:bar\"\n\
         SecRuleUpdateActionById 4 \"deny,status:403,t:urlDecode,msg:new,severity:WARNING\"\n\
         SecRule ARGS \"@rx a\" \"id:6,phase:2\"\n",
    );
    let ids: Vec<_> = set.phase(2).iter().filter_map(|r| r.id).collect();
    // Removal only reaches rules already loaded: 6 stays.
    assert_eq!(ids, vec![2, 4, 6]);
    let r2 = set.rule(2).unwrap();
    assert_eq!(r2.links[0].variables.len(), 2);
    assert!(r2.links[0].variables[0].exclusions[0].matches("foo"));
    assert_eq!(r2.links[0].variables[1].var, Var::RequestBody);
    let r4 = set.rule(4).unwrap();
    assert_eq!(r4.disruptive, Disruptive::Deny);
    assert_eq!(r4.status, Some(403));
    assert_eq!(r4.msg.as_deref(), Some("new"));
    assert_eq!(r4.severity, Some(4));
    let t = &r4.links[0].transforms;
    assert_eq!(t, &vec![Transform::Lowercase, Transform::UrlDecode]);
    assert!(r4.links[0].variables[0].exclusions[0].matches("bar"));
}

#[test]
fn unsupported_operator_drops_rule_only() {
    let set = build(
        "SecRule ARGS \"@rsub s/a/b/\" \"id:1,phase:2\"\n\
         SecRule ARGS \"@rx a\" \"id:2,phase:2\"\n",
    );
    assert_eq!(set.unsupported.len(), 1);
    assert_eq!(set.unsupported[0].0, Some(1));
    assert!(set.rule(2).is_some() && set.rule(1).is_none());
}

#[test]
fn crs_v4() {
    let root = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if !root.is_dir() {
        println!("SKIPPED");
        return;
    }
    let mut files = vec![root.join("crs-setup.conf.example")];
    let mut rules: Vec<_> = std::fs::read_dir(root.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    rules.sort();
    files.extend(rules);
    let mut directives = Vec::new();
    for f in &files {
        directives.extend(parse_file(f).unwrap());
    }
    let set = compile(directives, &root.join("rules")).unwrap();
    for p in 1..=5u8 {
        println!("phase {p}: {} rules", set.phase(p).len());
    }
    for (id, why) in &set.unsupported {
        println!("unsupported {id:?}: {why}");
    }
    assert!(set.phase(2).iter().any(|r| r.id == Some(949110)));
    assert_eq!(set.rule(949110).unwrap().disruptive, Disruptive::Deny);
    assert!(set.rule(942200).is_some_and(|r| r.phase == 2));
    assert!(set
        .markers
        .contains_key("END-REQUEST-949-BLOCKING-EVALUATION"));
    assert!(set.unsupported.is_empty(), "{:?}", set.unsupported);
}
