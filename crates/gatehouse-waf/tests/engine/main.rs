//! The engine on small rule sets, each asserted on what a request gets:
//! rules as written (`rules`), and the shortcuts that decide rules
//! without evaluating them (`shortcuts`), each against what evaluating
//! them gives.

#![allow(clippy::unwrap_used)]

use gatehouse_waf::collection::MemoryStore;
use gatehouse_waf::compile::compile;
use gatehouse_waf::engine::{Action, Engine, Transaction};
use gatehouse_waf::parse::{parse_str, EngineMode};
use gatehouse_waf::request::RequestInput;
use std::path::Path;
use std::sync::Arc;

fn engine(rules: &str) -> Arc<Engine> {
    engine_with(rules, Arc::new(MemoryStore::new(3600, 100)))
}

fn engine_with(rules: &str, store: Arc<MemoryStore>) -> Arc<Engine> {
    let set = compile(parse_str(rules, "t.conf").unwrap(), Path::new(".")).unwrap();
    Arc::new(Engine::new(set, store))
}

struct Req<'a> {
    method: &'a str,
    uri: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: Option<&'a str>,
    addr: &'a str,
}

fn get(uri: &str) -> Req<'_> {
    Req {
        method: "GET",
        uri,
        headers: vec![("Host", "example.com"), ("User-Agent", "curl/8")],
        body: None,
        addr: "10.0.0.1",
    }
}

/// Runs phases 1 and 2; the transaction for inspection.
fn run(e: &Arc<Engine>, r: &Req) -> Transaction {
    let headers: Vec<(&[u8], &[u8])> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let input = RequestInput {
        method: r.method,
        uri: r.uri.as_bytes(),
        protocol: "HTTP/1.1",
        headers: &headers,
        remote_addr: r.addr,
        remote_port: 5555,
        body: r.body.map(str::as_bytes),
    };
    let mut tx = e.transaction(&input, "id-1");
    if tx.request_headers().is_none() {
        tx.request_body(r.body.map(str::as_bytes));
    }
    tx
}

fn ids(tx: &Transaction) -> Vec<u64> {
    tx.matches().iter().filter_map(|m| m.rule_id).collect()
}

fn status(tx: &Transaction) -> Option<u16> {
    tx.intervention().map(|i| i.status)
}

mod inflight;
mod kept;
mod rules;
mod shortcuts;
