//! End-to-end test harness: a raw-capable HTTP/1.x client, a recording
//! upstream server and a wrapper that runs the `gatehouse` binary.
//!
//! Everything is blocking std code (no async runtime); every socket and wait
//! is bounded so a broken gateway fails a test instead of hanging it.

// Not every helper is used by every test module.
#![allow(dead_code)]

pub mod cli;
pub mod client;
pub mod gateway;
pub mod recorded;
pub mod redis;
pub mod upstream;
pub mod wire;

use std::time::Duration;

#[allow(unused_imports)]
pub use client::{get, read_response, send, send_raw, Conn, Request, Response};
#[allow(unused_imports)]
pub use gateway::{check, free_port, metric_sum, run_binary, CheckOutput, Gateway};
#[allow(unused_imports)]
pub use upstream::{Recorded, Reply, Upstream};

/// `services:` YAML with one service `name` pointing at `upstream` and one
/// route (also called `name`) for the given path prefixes.
pub fn one_service(name: &str, upstream: &Upstream, paths: &[&str]) -> String {
    format!(
        "services:\n  - name: {name}\n    url: {}\n    routes:\n      - name: {name}\n        paths: [{}]\n",
        upstream.url(),
        paths.join(", ")
    )
}

/// Polls `cond` every 25 ms until it holds; false after `timeout`.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
