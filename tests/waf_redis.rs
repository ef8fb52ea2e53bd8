//! The WAF's persistent collections shared through Redis: two gateways
//! and one real `redis-server`, failed logins counted across both.

use crate::harness::redis::RedisServer;
use crate::harness::{eventually, metric_sum, Gateway, Reply, Request, Upstream};
use crate::waf::{assert_refused, config, rules, SEED_RULES};
use std::time::Duration;

/// Where the gateways count the test client's failed logins.
const KEY: &str = "gatehouse:ip:127.0.0.1";
const CONNECTED: &str = "waf collections: shared through redis";

/// An upstream refusing every login.
fn login_service() -> Upstream {
    Upstream::start_with(|req| {
        if req.target.starts_with("/login") {
            Reply::status(401)
        } else {
            Reply::ok("ok")
        }
    })
}

fn redis_block(port: u16) -> String {
    format!("redis:\n  port: {port}\n  timeout: 500ms\n")
}

/// A gateway on the shared Redis, once its writer is connected.
fn node(redis: &RedisServer, body: &str) -> Gateway {
    let gw = Gateway::start_with(&redis_block(redis.port), body);
    assert!(
        gw.wait_for_log(CONNECTED, Duration::from_secs(10)),
        "{}",
        gw.logs()
    );
    gw
}

/// Fails a login on `gw`, then waits for the count to reach Redis.
fn fail_login(gw: &Gateway, redis: &RedisServer, count: usize) {
    let r = gw.send(&Request::post("/login").body("user=a&pass=b"));
    assert_eq!(r.status, 401, "failure {count}");
    let want = count.to_string();
    assert!(
        eventually(Duration::from_secs(5), || {
            redis.hget(KEY, "login_attempt").as_deref() == Some(want.as_str())
        }),
        "failure {count} not counted in redis: {:?}",
        redis.hget(KEY, "login_attempt")
    );
}

#[test]
fn failed_logins_on_two_gateways_add_up_and_expire_everywhere() {
    let Some(redis) = RedisServer::start("failed_logins_on_two_gateways_add_up") else {
        return;
    };
    // The seed's rules, with the count kept 3 s instead of 10 minutes.
    let short = SEED_RULES.replace(
        "expirevar:ip.login_attempt=600",
        "expirevar:ip.login_attempt=3",
    );
    assert_ne!(short, SEED_RULES);
    let up = login_service();
    let body = config(&up, &rules(&short));
    let (a, b) = (node(&redis, &body), node(&redis, &body));

    // Three failures on each node: each alone would allow more.
    for i in 1..=6 {
        fail_login(if i % 2 == 1 { &a } else { &b }, &redis, i);
    }
    assert_eq!(up.count(), 6);
    assert_refused(&a.send(&Request::post("/login").body("user=a&pass=c")), 429);
    assert_refused(&b.send(&Request::post("/login").body("user=a&pass=c")), 429);
    assert_refused(&b.get("/products"), 429);
    assert_eq!(up.count(), 6, "refused attempts never reach the service");
    let expiry = redis.hget(KEY, "__expire_login_attempt");
    assert!(
        expiry
            .as_deref()
            .and_then(|e| e.parse::<u64>().ok())
            .is_some(),
        "the expiry is stored with the count: {expiry:?}"
    );
    for gw in [&a, &b] {
        let blocked = metric_sum(
            &gw.metrics(),
            "gatehouse_waf_rule_matches_total",
            &[("rule", "1002"), ("action", "blocked")],
        );
        assert!(blocked.is_some_and(|n| n >= 1.0), "{blocked:?}");
    }

    // expirevar: once the count expires, both nodes let the client in.
    assert!(
        eventually(Duration::from_secs(8), || b.get("/products").status == 200),
        "node b still refuses after the expiry"
    );
    assert_eq!(a.get("/products").status, 200, "node a honours it too");
    assert_eq!(up.count(), 8);
}

#[test]
fn without_redis_reachable_a_gateway_counts_on_its_own() {
    // A port nothing listens on.
    let port = crate::harness::free_port();
    let up = login_service();
    let extra = format!("{}  password: not-in-any-log\n", redis_block(port));
    let gw = Gateway::start_with(&extra, &config(&up, &rules(SEED_RULES)));
    for i in 1..=6 {
        let r = gw.send(&Request::post("/login").body("user=a&pass=b"));
        assert_eq!(r.status, 401, "failure {i}");
    }
    assert_refused(
        &gw.send(&Request::post("/login").body("user=a&pass=c")),
        429,
    );
    assert_eq!(up.count(), 6);
    assert!(
        eventually(Duration::from_secs(5), || {
            metric_sum(
                &gw.metrics(),
                "gatehouse_waf_store_errors_total",
                &[("op", "connect")],
            )
            .is_some_and(|n| n >= 1.0)
        }),
        "connection failures are counted"
    );
    let logs = gw.logs();
    assert!(logs.contains("redis connect failed"), "{logs}");
    assert!(
        !logs.contains("not-in-any-log"),
        "the password leaked: {logs}"
    );
}
