//! The engine on the requests the load tests send: a benign browser GET,
//! a 4 KB JSON POST and an attack, with the OWASP CRS at paranoia level 1
//! (when `../shared` has it) and with the baseline rules in `conf/waf/`.
//!
//!   cargo bench -p gatehouse-waf --bench engine

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_waf::collection::MemoryStore;
use gatehouse_waf::compile::compile;
use gatehouse_waf::engine::Engine;
use gatehouse_waf::load::{crs_directives, CrsSettings};
use gatehouse_waf::parse::{parse_file, Directive};
use gatehouse_waf::request::RequestInput;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The gateway's allocator, so the figures are the gateway's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn engine(directives: Vec<Directive>, base: &Path) -> Option<Engine> {
    let set = compile(directives, base).ok()?;
    Some(Engine::new(set, Arc::new(MemoryStore::new(3600, 1000))))
}

fn engines() -> Vec<(&'static str, Arc<Engine>)> {
    let mut out = Vec::new();
    let crs = root().join("../shared/crs-v4.28.0");
    if crs.is_dir() {
        let crs_engine = || {
            crs_directives(&CrsSettings::new(&crs, 1))
                .ok()
                .and_then(|d| engine(d, &crs.join("rules")))
        };
        if let Some(e) = crs_engine() {
            out.push(("crs-pl1", Arc::new(e)));
        }
        // Every value as if never seen before: the engine keeps nothing
        // from earlier requests (the repeated request above is answered
        // mostly from what the first one taught).
        if let Some(e) = crs_engine() {
            out.push(("crs-pl1-unseen", Arc::new(e.without_recall())));
        }
    } else {
        eprintln!("../shared/crs-v4.28.0 not found: CRS benchmarks skipped");
    }
    let baseline = root().join("conf/waf/baseline.conf");
    if let Some(e) = parse_file(&baseline)
        .ok()
        .and_then(|d| engine(d, &root().join("conf/waf")))
    {
        out.push(("baseline", Arc::new(e)));
    }
    out
}

const BROWSER: [(&[u8], &[u8]); 7] = [
    (b"Host", b"shop.example.com"),
    (
        b"User-Agent",
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    (
        b"Accept",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    (b"Accept-Language", b"en-US,en;q=0.9"),
    (b"Accept-Encoding", b"gzip, deflate, br"),
    (b"Referer", b"https://shop.example.com/catalog?page=2"),
    (b"Cookie", b"session=3f9a8c7d6e5b4a39; theme=dark"),
];

/// Every phase the gateway runs: request headers and body, the response
/// head (a 200 with a JSON body), logging.
fn run(engine: &Arc<Engine>, input: &RequestInput) -> bool {
    let mut tx = engine.transaction(input, "bench");
    let blocked = tx.request_headers().or_else(|| tx.request_body(input.body));
    if blocked.is_none() {
        let response: [(&[u8], &[u8]); 2] = [
            (b"content-type", b"application/json"),
            (b"content-length", b"27"),
        ];
        tx.response_headers(200, "HTTP/1.1", &response);
    }
    tx.logging();
    blocked.is_some()
}

fn benches(c: &mut Criterion) {
    let body = std::fs::read(root().join("load-tests/scenarios/waf-crs-post.json"))
        .unwrap_or_else(|_| br#"{"order":{"items":[{"sku":"A-1","qty":2}]}}"#.to_vec());
    let len = body.len().to_string();
    let mut post_headers = BROWSER.to_vec();
    post_headers.push((b"Content-Type", b"application/json"));
    post_headers.push((b"Content-Length", len.as_bytes()));
    let input = |uri: &'static [u8], method: &'static str, headers, body| RequestInput {
        method,
        uri,
        protocol: "HTTP/1.1",
        headers,
        remote_addr: "192.0.2.10",
        remote_port: 40000,
        body,
    };
    let get = input(b"/api/hello?id=42&q=shoes", "GET", &BROWSER[..], None);
    let attack = input(
        b"/api/hello?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        "GET",
        &BROWSER[..],
        None,
    );
    let post = input(b"/api/orders", "POST", &post_headers[..], Some(&body[..]));
    for (name, engine) in engines() {
        assert!(!run(&engine, &get), "{name}: the benign GET must pass");
        assert!(!run(&engine, &post), "{name}: the benign POST must pass");
        assert!(run(&engine, &attack), "{name}: the attack must be blocked");
        let mut g = c.benchmark_group(name);
        g.bench_function("benign-get", |b| b.iter(|| run(&engine, black_box(&get))));
        g.bench_function("json-post-4k", |b| {
            b.iter(|| run(&engine, black_box(&post)))
        });
        g.bench_function("attack-get", |b| {
            b.iter(|| run(&engine, black_box(&attack)))
        });
        g.finish();
    }
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
