//! The store against a real `redis-server` (started here on a free
//! loopback port): two stores stand for two gateways sharing it.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../../tests/harness/redis.rs"]
mod redis_server;

use gatehouse_waf::collection::{PersistentStore, SetVar};
use gatehouse_waf_redis::{RedisSettings, RedisStore};
use redis_server::{RedisServer, Reply};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn settings(server: &RedisServer) -> RedisSettings {
    RedisSettings {
        port: server.port,
        timeout: Duration::from_millis(500),
        ..RedisSettings::default()
    }
}

/// A store whose writer runs on `rt`, connected.
fn node(rt: &tokio::runtime::Runtime, settings: RedisSettings) -> Arc<RedisStore> {
    let store = Arc::new(RedisStore::new(settings));
    rt.spawn(store.writer().unwrap().run());
    assert!(
        eventually(|| store.connected()),
        "the writer did not connect"
    );
    store
}

/// Polls every 10 ms, 5 s at most.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

fn add(store: &RedisStore, key: &str, n: u32) {
    let inc = SetVar::parse("ip.login_attempt=+1").unwrap();
    let t = now();
    for _ in 0..n {
        // As the engine runs `setvar:ip.login_attempt=+1`.
        store.add("IP", key, t, "login_attempt", 1, &mut |c| {
            inc.apply(c, "login_attempt", b"1", t)
        });
    }
}

fn local(store: &RedisStore, key: &str) -> Option<String> {
    let t = now();
    store
        .load("ip", key, t)
        .get("login_attempt", t)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn wanted(key: &str) -> Vec<(String, String)> {
    vec![("ip".to_string(), key.to_string())]
}

#[test]
fn increments_from_two_nodes_add_up_even_when_concurrent() {
    let Some(server) = RedisServer::start("increments_from_two_nodes_add_up") else {
        return;
    };
    let rt = runtime();
    let (a, b) = (node(&rt, settings(&server)), node(&rt, settings(&server)));
    let key = "gatehouse:ip:10.0.0.1";

    add(&a, "10.0.0.1", 3);
    assert!(eventually(
        || server.hget(key, "login_attempt").as_deref() == Some("3")
    ));
    assert_eq!(local(&b, "10.0.0.1"), None, "b has not read it yet");
    rt.block_on(b.prefetch(&wanted("10.0.0.1")));
    assert_eq!(local(&b, "10.0.0.1").as_deref(), Some("3"));
    add(&b, "10.0.0.1", 2);
    assert!(eventually(
        || server.hget(key, "login_attempt").as_deref() == Some("5")
    ));

    // Neither node reads the other's changes first: increments still add.
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|s| std::thread::spawn(move || add(&s, "10.0.0.1", 100)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        eventually(|| server.hget(key, "login_attempt").as_deref() == Some("205")),
        "{:?}",
        server.hget(key, "login_attempt")
    );
    let ttl = server.command(&["TTL", key]).unwrap();
    assert!(
        matches!(ttl, Reply::Int(t) if t > 3500 && t <= 3600),
        "the key expires with the collection timeout: {ttl:?}"
    );
    rt.block_on(a.prefetch(&wanted("10.0.0.1")));
    assert_eq!(local(&a, "10.0.0.1").as_deref(), Some("205"));
}

#[test]
fn a_counter_new_to_both_nodes_counts_both_first_increments() {
    let Some(server) = RedisServer::start("a_counter_new_to_both_nodes") else {
        return;
    };
    let rt = runtime();
    let (a, b) = (node(&rt, settings(&server)), node(&rt, settings(&server)));
    let key = "gatehouse:ip:10.0.0.9";
    // Both count a first failure before either has read the other's.
    add(&a, "10.0.0.9", 1);
    add(&b, "10.0.0.9", 1);
    assert_eq!(local(&a, "10.0.0.9").as_deref(), Some("1"));
    assert_eq!(local(&b, "10.0.0.9").as_deref(), Some("1"));
    assert!(
        eventually(|| server.hget(key, "login_attempt").as_deref() == Some("2")),
        "{:?}",
        server.hget(key, "login_attempt")
    );
    // A plain set of a new variable stays a set.
    let t = now();
    a.update("ip", "10.0.0.9", t, &mut |c| c.set("flag", b"7".to_vec()));
    b.update("ip", "10.0.0.9", t, &mut |c| c.set("flag", b"7".to_vec()));
    assert!(eventually(
        || server.hget(key, "flag").as_deref() == Some("7")
    ));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.hget(key, "flag").as_deref(), Some("7"));
}

#[test]
fn expiry_is_shared_and_a_stale_timer_does_not_hide_a_new_value() {
    let Some(server) = RedisServer::start("expiry_is_shared") else {
        return;
    };
    let rt = runtime();
    let (a, b) = (node(&rt, settings(&server)), node(&rt, settings(&server)));
    let key = "gatehouse:ip:10.0.0.2";
    add(&a, "10.0.0.2", 2);
    // (Three seconds: `now` is whole seconds, so a one-second timer could
    // run out a millisecond after it was set, before the next check.)
    let t = now();
    a.update("ip", "10.0.0.2", t, &mut |c| {
        c.expire("login_attempt", 3, t)
    });
    let at = (t + 3).to_string();
    assert!(eventually(|| server
        .hget(key, "__expire_login_attempt")
        .as_deref()
        == Some(at.as_str())));
    rt.block_on(b.prefetch(&wanted("10.0.0.2")));
    assert_eq!(
        local(&b, "10.0.0.2").as_deref(),
        Some("2"),
        "not expired yet"
    );
    assert!(
        eventually(|| {
            rt.block_on(b.prefetch(&wanted("10.0.0.2")));
            local(&b, "10.0.0.2").is_none()
        }),
        "b honours the expiry a set"
    );

    // Redis still holds the expired field; a new count starts from 1 and
    // does not inherit the old timer.
    assert_eq!(server.hget(key, "login_attempt").as_deref(), Some("2"));
    add(&b, "10.0.0.2", 1);
    assert!(eventually(
        || server.hget(key, "login_attempt").as_deref() == Some("1")
    ));
    assert_eq!(server.hget(key, "__expire_login_attempt"), None);
    rt.block_on(a.prefetch(&wanted("10.0.0.2")));
    assert_eq!(local(&a, "10.0.0.2").as_deref(), Some("1"));

    // A deletion removes the variable everywhere.
    let del = SetVar::parse("!ip.login_attempt").unwrap();
    let t = now();
    a.update("ip", "10.0.0.2", t, &mut |c| {
        del.apply(c, "login_attempt", b"", t)
    });
    assert!(eventually(|| server.hget(key, "login_attempt").is_none()));
}

#[test]
fn password_database_and_prefix_are_used() {
    let Some(server) = RedisServer::start_with("password_database_and_prefix", Some("s3cret"))
    else {
        return;
    };
    let rt = runtime();
    let s = RedisSettings {
        password: Some("s3cret".into()),
        database: 3,
        prefix: "edge1/".into(),
        ..settings(&server)
    };
    let a = node(&rt, s);
    a.update("GLOBAL", "global", now(), &mut |c| {
        c.set("mode", b"strict".to_vec())
    });
    assert!(eventually(|| {
        server
            .command_in(3, &["HGET", "edge1/global:global", "mode"])
            .is_ok_and(|r| r == Reply::Bulk(b"strict".to_vec()))
    }));
    assert_eq!(
        server.command_in(0, &["DBSIZE"]).unwrap(),
        Reply::Int(0),
        "nothing in database 0"
    );
}

#[test]
fn without_redis_the_node_keeps_counting_locally_and_counts_failures() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rt = runtime();
    let store = Arc::new(RedisStore::new(RedisSettings {
        port,
        timeout: Duration::from_millis(50),
        ..RedisSettings::default()
    }));
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = failures.clone();
    store.on_failure(move |op| {
        if op == "connect" {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    });
    rt.spawn(store.writer().unwrap().run());
    assert!(store.writer().is_none(), "one writer per store");
    assert!(eventually(|| failures.load(Ordering::Relaxed) > 0));
    let started = Instant::now();
    rt.block_on(store.prefetch(&wanted("10.0.0.3")));
    add(&store, "10.0.0.3", 6);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "never waits"
    );
    assert_eq!(local(&store, "10.0.0.3").as_deref(), Some("6"));
    assert!(!store.connected());
}

/// `connected_clients` as the server counts them (this query's own
/// connection included).
fn clients(server: &RedisServer) -> Option<u32> {
    let info = server.command(&["INFO", "clients"]).ok()?.text()?;
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn a_dropped_store_flushes_its_writes_and_closes_its_connection() {
    let Some(server) = RedisServer::start("a_dropped_store_closes_its_connection") else {
        return;
    };
    let rt = runtime();
    let store = Arc::new(RedisStore::new(settings(&server)));
    let writer = rt.spawn(store.writer().unwrap().run());
    assert!(eventually(|| store.connected()));
    assert_eq!(clients(&server), Some(2), "the store's connection and ours");
    add(&store, "10.0.0.4", 2);
    // A new plan brings its own store; the old one goes with its plan.
    drop(store);
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), writer).await })
        .expect("the writer ends with its store")
        .unwrap();
    assert_eq!(
        server
            .hget("gatehouse:ip:10.0.0.4", "login_attempt")
            .as_deref(),
        Some("2"),
        "queued writes went out first"
    );
    assert!(
        eventually(|| clients(&server) == Some(1)),
        "{:?}",
        clients(&server)
    );
}
