//! Tests of the recovering deserializer and `Raw` subtrees.
use super::*;
use crate::node::parse;
use crate::raw::Raw;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Svc {
    name: String,
    port: Option<u16>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "yes")]
    strip: bool,
    kind: Option<Kind>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    RoundRobin,
    LeastConnections,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    items: Vec<Raw>,
}

fn run<T: DeserializeOwned>(src: &str) -> (Option<T>, Vec<String>) {
    let report = Report::default();
    let node = parse(&Arc::from("f.yaml"), src, &|_| None, &report).unwrap();
    let v = from_node::<T>(&node, "", &report);
    (v, report.finish().0.iter().map(|d| d.to_string()).collect())
}

#[test]
fn good_struct() {
    let (v, errs) =
        run::<Svc>("name: a\nport: 80\ntags: [x]\nkind: round-robin\nheaders: {a: b}\n");
    assert!(errs.is_empty(), "{errs:?}");
    let v = v.unwrap();
    assert_eq!(v.port, Some(80));
    assert!(v.strip);
    assert_eq!(v.kind, Some(Kind::RoundRobin));
    assert_eq!(v.headers.get("a").map(String::as_str), Some("b"));
}

#[test]
fn every_unknown_key_reported_with_suggestion() {
    let (v, errs) = run::<Svc>("name: a\nprot: 80\nbogus: 1\n");
    assert!(v.is_none());
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(
        errs[0],
        "f.yaml:2:1: prot: unknown key `prot`, did you mean `port`?"
    );
    assert!(
        errs[1].starts_with("f.yaml:3:1: bogus: unknown key `bogus` (expected one of `name`"),
        "{}",
        errs[1]
    );
}

#[test]
fn wrong_type_located_without_echoing_value() {
    let (_, errs) = run::<Svc>("name: a\ntags:\n  - ok\n  - [nested]\n");
    assert_eq!(
        errs,
        vec!["f.yaml:4:5: tags[1]: expected a string, found a list"]
    );
    let (_, errs) = run::<Svc>("name: supersecret\nport: hello\n");
    assert_eq!(
        errs,
        vec!["f.yaml:2:7: port: expected an integer from 0 to 65535, found a string"]
    );
    let (_, errs) = run::<Svc>("name: a\nport: 70000\n");
    assert_eq!(
        errs,
        vec!["f.yaml:2:7: port: invalid value 70000, expected an integer from 0 to 65535"]
    );
}

#[test]
fn missing_field_and_bad_enum() {
    let (_, errs) = run::<Svc>("port: 1\n");
    assert_eq!(errs, vec!["f.yaml:1:1: missing required key `name`"]);
    let (_, errs) = run::<Svc>("name: a\nkind: random\n");
    assert_eq!(
        errs,
        vec!["f.yaml:2:7: kind: unknown value `random`, expected one of `round-robin`, `least-connections`"]
    );
}

#[test]
fn raw_items_are_independent() {
    let (doc, errs) = run::<Doc>("items:\n  - name: a\n    bad: 1\n  - name: b\n    port: x\n");
    assert!(errs.is_empty());
    let doc = doc.unwrap();
    assert_eq!(doc.items[1].path, "items[1]");
    let report = Report::default();
    let parsed: Vec<Option<Svc>> = doc.items.iter().map(|r| r.parse(&report)).collect();
    assert!(parsed.iter().all(Option::is_none));
    let errs: Vec<String> = report.finish().0.iter().map(|d| d.to_string()).collect();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("f.yaml:3:5: items[0].bad: unknown key"));
    assert!(errs[1].starts_with("f.yaml:5:11: items[1].port: expected an integer"));
}

#[test]
fn raw_locations() {
    let (doc, _) = run::<Doc>("items:\n  - name: a\n    tags: [p, q]\n");
    let raw = &doc.unwrap().items[0];
    assert_eq!(raw.at("name").1, "items[0].name");
    let (m, p) = raw.at_index("tags", 1);
    assert_eq!((m.line, m.col, p.as_str()), (3, 15, "items[0].tags[1]"));
    assert_eq!(raw.at("absent").1, "items[0]");
}

#[test]
fn null_struct_is_a_type_error() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Svc,
    }
    let (_, errs) = run::<Outer>("inner:\n");
    assert_eq!(
        errs,
        vec!["f.yaml:1:1: inner: expected a mapping, found null"]
    );
}
