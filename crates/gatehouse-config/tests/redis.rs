//! The `gatehouse.redis` block: defaults, every field, located errors, and
//! what it changes for the WAF.

use gatehouse_config::{load_str, Diagnostics, Plan};
use gatehouse_waf_redis::RedisSettings;
use std::time::Duration;

fn load(yaml: &str) -> Result<Plan, Vec<String>> {
    load_str("g.yaml", yaml, &|_| None)
        .map_err(|Diagnostics(d)| d.iter().map(ToString::to_string).collect())
}

fn ok(yaml: &str) -> Plan {
    load(yaml).unwrap_or_else(|e| panic!("unexpected errors: {e:#?}"))
}

fn errors(yaml: &str) -> Vec<String> {
    match load(yaml) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

fn settings(plan: &Plan) -> RedisSettings {
    match &plan.waf_redis {
        Some(store) => store.settings().clone(),
        None => panic!("no redis store"),
    }
}

/// One route `/` with a waf plugin running `rules`.
fn with_waf(section: &str, rules: &str) -> String {
    format!(
        "{section}services:\n  - name: api\n    url: http://127.0.0.1:9000\n    routes:\n      - name: all\n        paths: [/]\n        plugins:\n          - name: waf\n            config:\n              rules: '{rules}'\n"
    )
}

#[test]
fn an_empty_block_takes_the_defaults_and_no_block_means_no_redis() {
    assert!(ok("services: []\n").waf_redis.is_none());
    let s = settings(&ok("gatehouse:\n  redis: {}\n"));
    assert_eq!(s, RedisSettings::default());
    assert_eq!(
        (s.host.as_str(), s.port, s.database, s.prefix.as_str()),
        ("127.0.0.1", 6379, 0, "gatehouse:")
    );
    assert_eq!(s.timeout, Duration::from_millis(50));
    assert_eq!(s.password, None);
}

#[test]
fn every_field_is_read() {
    let s = settings(&ok(
        "gatehouse:\n  redis:\n    host: redis.internal\n    port: 6380\n    password: s3cret\n    database: 2\n    timeout: 200ms\n    prefix: 'edge:'\n",
    ));
    assert_eq!(
        s,
        RedisSettings {
            host: "redis.internal".into(),
            port: 6380,
            password: Some("s3cret".into()),
            database: 2,
            timeout: Duration::from_millis(200),
            prefix: "edge:".into(),
        }
    );
    let empty = settings(&ok("gatehouse:\n  redis:\n    password: ''\n"));
    assert_eq!(empty.password, None, "an empty password is none");
}

#[test]
fn unknown_keys_and_bad_values_are_located() {
    let errs = errors("gatehouse:\n  redis:\n    hots: redis.internal\n");
    assert_eq!(
        errs,
        ["g.yaml:3:5: gatehouse.redis.hots: unknown key `hots`, did you mean `host`?"]
    );
    let errs = errors(
        "gatehouse:\n  redis:\n    host: ''\n    port: 0\n    timeout: 0\n    database: -1\n",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    for (line, key) in [(3, "host"), (4, "port"), (5, "timeout"), (6, "database")] {
        let prefix = format!("g.yaml:{line}:");
        let path = format!("gatehouse.redis.{key}: ");
        assert!(
            errs.iter()
                .any(|e| e.starts_with(&prefix) && e.contains(&path)),
            "{key} at line {line}: {errs:#?}"
        );
    }
    let errs = errors("gatehouse:\n  redis:\n    port: 70000\n    timeout: 5 minutes\n");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(
        errs[0].starts_with("g.yaml:3:11: gatehouse.redis.port: "),
        "{errs:#?}"
    );
    assert!(
        errs[1].contains("gatehouse.redis.timeout: unknown duration unit"),
        "{errs:#?}"
    );
}

#[test]
fn the_password_is_not_in_any_error() {
    let errs = errors("gatehouse:\n  redis:\n    password: hunter2\n    port: 0\n");
    assert!(errs.iter().all(|e| !e.contains("hunter2")), "{errs:#?}");
}

#[test]
fn the_waf_reads_ahead_only_when_its_rules_use_persistent_collections() {
    let redis = "gatehouse:\n  redis: {}\n";
    let counting = r#"SecRule IP:LOGIN_ATTEMPT "@gt 5" "id:1,deny,status:429""#;
    let plain = r#"SecRule ARGS "@rx <script" "id:2,deny""#;
    let waf = |yaml: &str| {
        let plan = ok(yaml);
        let route = &plan.routes[0];
        route.waf.as_ref().map(|w| w.shared.is_some())
    };
    assert_eq!(waf(&with_waf(redis, counting)), Some(true));
    assert_eq!(waf(&with_waf(redis, plain)), Some(false));
    assert_eq!(waf(&with_waf("", counting)), Some(false), "no redis block");
}
