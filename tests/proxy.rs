//! The proxy core through the real binary: forwarding headers, client IP
//! trust, request ids, upstream failures, retries, health checks, metrics,
//! and the built-in mock and echo services.

use crate::harness::{
    eventually, free_port, metric_sum, one_service, Gateway, Reply, Request, Upstream,
};
use std::time::Duration;

#[test]
fn forwarding_headers_from_an_untrusted_client_are_replaced() {
    let up = Upstream::start();
    let gw = Gateway::start(&one_service("api", &up, &["/api"]));
    let r = gw.send(
        &Request::get("/api/x")
            .header("Host", "shop.example")
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Real-IP", "6.6.6.6")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Request-Id", "planted-id"),
    );
    assert_eq!(r.status, 200);
    let seen = up.last();
    assert_eq!(seen.headers_all("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.header("x-forwarded-host"), Some("shop.example"));
    assert_eq!(
        seen.header("x-forwarded-port"),
        Some(gw.proxy.port().to_string().as_str())
    );
    let id = r.header("x-request-id").unwrap();
    assert_ne!(
        id, "planted-id",
        "an untrusted client cannot choose the request id"
    );
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        seen.header("x-request-id"),
        Some(id),
        "upstream sees the same id"
    );
}

#[test]
fn trusted_proxy_headers_are_believed_and_extended() {
    let up = Upstream::start();
    let gw = Gateway::start_with(
        "trusted_proxies: [127.0.0.1/32, 10.0.0.0/8]\nreal_ip_recursive: true\n",
        &format!("{}  - name: echo\n    url: echo://\n    routes:\n      - name: echo\n        paths: [/echo]\n", one_service("api", &up, &["/api"])),
    );
    let req = |path: &str| {
        Request::get(path)
            .header("X-Forwarded-For", "203.0.113.7, 10.1.2.3")
            .header("X-Forwarded-Proto", "https")
            .header("X-Request-Id", "edge-4711")
    };
    let r = gw.send(&req("/api/x"));
    assert_eq!(r.header("x-request-id"), Some("edge-4711"));
    let seen = up.last();
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.7, 10.1.2.3, 127.0.0.1")
    );
    assert_eq!(
        seen.header("x-real-ip"),
        Some("203.0.113.7"),
        "recursive: trusted hops skipped"
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-request-id"), Some("edge-4711"));

    let echoed = gw.send(&req("/echo")).json();
    assert_eq!(echoed["client_ip"], "203.0.113.7");

    let bad = gw.send(&Request::get("/api/x").header("X-Request-Id", "has space\"quote"));
    assert_ne!(
        bad.header("x-request-id"),
        Some("has space\"quote"),
        "malformed ids are replaced"
    );
}

#[test]
fn connection_refused_is_502_in_the_common_format() {
    let port = free_port();
    let body = format!(
        "services:\n  - name: down\n    url: http://127.0.0.1:{port}\n    retries: 2\n    routes:\n      - name: down\n        paths: [/down]\n"
    );
    let gw = Gateway::start(&body);
    let r = gw.get("/down");
    assert_eq!(r.status, 502);
    let j = r.json();
    assert_eq!(
        j["message"],
        "An invalid response was received from the upstream server"
    );
    assert_eq!(j["request_id"], r.header("x-request-id").unwrap());
    assert!(
        !r.body_str().contains(&port.to_string()),
        "no upstream address in the body"
    );
    // First attempt plus 2 retries, each counted.
    metric_reaches(
        &gw,
        "gatehouse_upstream_errors_total",
        &[("service", "down"), ("kind", "connect_refused")],
        3.0,
    );
    metric_reaches(
        &gw,
        "gatehouse_http_requests_total",
        &[("route", "down"), ("status_class", "5xx")],
        1.0,
    );
}

/// Metrics are recorded just after the response is written: poll briefly.
fn metric_reaches(gw: &Gateway, name: &str, labels: &[(&str, &str)], expected: f64) {
    let reached = eventually(Duration::from_secs(2), || {
        metric_sum(&gw.metrics(), name, labels) == Some(expected)
    });
    assert!(reached, "{name}{labels:?} != {expected}:\n{}", gw.metrics());
}

#[test]
fn read_timeout_is_504() {
    let up = Upstream::start_with(|_| Reply::ok("late").delay(Duration::from_millis(1500)));
    let body = format!(
        "services:\n  - name: slow\n    url: {}\n    read_timeout: 300\n    routes:\n      - name: slow\n        paths: [/slow]\n",
        up.url()
    );
    let gw = Gateway::start(&body);
    let started = std::time::Instant::now();
    let r = gw.get("/slow");
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["message"], "The upstream server is timing out");
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "answered at the timeout, not after the upstream"
    );
    metric_reaches(
        &gw,
        "gatehouse_upstream_errors_total",
        &[("service", "slow"), ("kind", "read_timeout")],
        1.0,
    );
}

#[test]
fn default_timeouts_come_from_the_gatehouse_section() {
    let up = Upstream::start_with(|_| Reply::ok("late").delay(Duration::from_millis(1500)));
    let gw = Gateway::start_with(
        "timeouts:\n  read: 300ms\n",
        &one_service("slow", &up, &["/slow"]),
    );
    assert_eq!(gw.get("/slow").status, 504);
}

fn two_targets(live: &Upstream, dead_port: u16, retries: u32) -> String {
    format!(
        "upstreams:\n  - name: pool\n    targets:\n      - target: 127.0.0.1:{dead_port}\n      - target: {}\nservices:\n  - name: api\n    host: pool\n    retries: {retries}\n    routes:\n      - name: api\n        paths: [/api]\n",
        live.addr()
    )
}

#[test]
fn connection_failures_are_retried_on_the_next_target() {
    let up = Upstream::start();
    let gw = Gateway::start(&two_targets(&up, free_port(), 5));
    for i in 0..10 {
        let r = gw.get(&format!("/api/{i}"));
        assert_eq!(
            r.status, 200,
            "request {i} must succeed through the live target"
        );
    }
    assert_eq!(up.count(), 10);
    // Round robin sent every other first attempt to the dead target.
    metric_reaches(
        &gw,
        "gatehouse_upstream_errors_total",
        &[("kind", "connect_refused")],
        5.0,
    );
}

#[test]
fn without_retries_the_dead_target_fails_requests() {
    let up = Upstream::start();
    let gw = Gateway::start(&two_targets(&up, free_port(), 0));
    let statuses: Vec<u16> = (0..10)
        .map(|i| gw.get(&format!("/api/{i}")).status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 502).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
}

#[test]
fn active_health_checks_evict_and_restore_a_target() {
    let a = Upstream::start_with(|_| Reply::ok("a"));
    let b = Upstream::start_with(|_| Reply::ok("b"));
    let body = format!(
        "upstreams:\n  - name: pool\n    targets:\n      - target: {}\n      - target: {}\n    healthchecks:\n      active:\n        http_path: /health\n        timeout: 0.5\n        healthy: {{interval: 0.1, successes: 1}}\n        unhealthy: {{interval: 0.1, http_failures: 2}}\nservices:\n  - name: api\n    host: pool\n    routes:\n      - name: api\n        paths: [/api]\n",
        a.addr(),
        b.addr()
    );
    let gw = Gateway::start(&body);
    assert!(
        a.wait_for_probes(1, Duration::from_secs(5)),
        "target a is probed"
    );
    let answered_by = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| gw.get("/api").body_str().to_string())
            .collect()
    };
    let first = answered_by(4);
    assert!(
        first.contains(&"a".to_string()) && first.contains(&"b".to_string()),
        "{first:?}"
    );

    a.set_health_status(500);
    let label = format!("{} ({})", a.addr(), a.addr());
    assert!(
        eventually(Duration::from_secs(5), || metric_sum(
            &gw.metrics(),
            "gatehouse_upstream_target_healthy",
            &[("target", &label)]
        ) == Some(0.0)),
        "target a reported unhealthy"
    );
    a.clear();
    let evicted = answered_by(6);
    assert!(evicted.iter().all(|s| s == "b"), "{evicted:?}");
    assert_eq!(a.count(), 0, "an evicted target gets no traffic");

    a.set_health_status(200);
    assert!(
        eventually(Duration::from_secs(5), || metric_sum(
            &gw.metrics(),
            "gatehouse_upstream_target_healthy",
            &[("target", &label)]
        ) == Some(1.0)),
        "target a restored"
    );
    let restored = answered_by(4);
    assert!(restored.contains(&"a".to_string()), "{restored:?}");
    let probe = &a.health_requests()[0];
    assert_eq!(probe.method, "GET");
    assert_eq!(probe.header("user-agent"), Some("gatehouse-health"));
}

#[test]
fn all_targets_unhealthy_is_503() {
    let a = Upstream::start();
    let body = format!(
        "upstreams:\n  - name: pool\n    targets:\n      - target: {}\n    healthchecks:\n      active:\n        healthy: {{interval: 0.1, successes: 1}}\n        unhealthy: {{interval: 0.1, http_failures: 1}}\nservices:\n  - name: api\n    host: pool\n    routes:\n      - name: api\n        paths: [/api]\n        strip_path: false\n",
        a.addr()
    );
    let gw = Gateway::start(&body);
    a.set_health_path("/");
    a.set_health_status(503);
    let gateway_answered_503 = || {
        let r = gw.get("/api");
        r.status == 503
            && r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json"))
    };
    assert!(eventually(Duration::from_secs(5), gateway_answered_503));
    a.clear();
    let r = gw.get("/api");
    assert_eq!(
        r.json()["message"],
        "failure to get a peer from the ring-balancer"
    );
    assert_eq!(a.count(), 0, "no request reaches an unhealthy target");
}

#[test]
fn mock_and_echo_services() {
    let gw = Gateway::start(
        "services:\n  - name: teapot\n    url: mock://\n    mock:\n      status: 418\n      headers: {x-mock: yes, content-type: text/plain}\n      body: short and stout\n    routes:\n      - paths: [/tea]\n  - name: echo\n    url: echo://\n    routes:\n      - paths: [/echo]\n",
    );
    let r = gw.get("/tea");
    assert_eq!((r.status, r.body_str()), (418, "short and stout"));
    assert_eq!(r.header("x-mock"), Some("yes"));
    assert!(r.header("x-request-id").is_some());

    let r = gw.send(
        &Request::post("/echo/a/../b?x=1")
            .header("X-Custom", "v1")
            .body("payload"),
    );
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["method"], "POST");
    assert_eq!(j["path"], "/b");
    assert_eq!(j["query"], "x=1");
    assert_eq!(j["body"], "payload");
    assert_eq!(j["headers"]["x-custom"], "v1");
    assert_eq!(j["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(j["request_id"], r.header("x-request-id").unwrap());
}

#[test]
fn admin_listener_serves_metrics_and_probes_only() {
    let up = Upstream::start();
    let gw = Gateway::start(&one_service("api", &up, &["/api"]));
    for _ in 0..3 {
        assert_eq!(gw.get("/api/x").status, 200);
    }
    metric_reaches(
        &gw,
        "gatehouse_http_requests_total",
        &[("route", "api"), ("status_class", "2xx")],
        3.0,
    );
    let m = gw.metrics();
    assert_eq!(
        metric_sum(
            &m,
            "gatehouse_http_request_duration_seconds_count",
            &[("route", "api")]
        ),
        Some(3.0)
    );
    assert_eq!(
        metric_sum(
            &m,
            "gatehouse_upstream_response_seconds_count",
            &[("route", "api")]
        ),
        Some(3.0)
    );
    assert_eq!(gw.admin_get("/healthz").status, 200);
    assert_eq!(gw.admin_get("/readyz").status, 200);
    assert_eq!(gw.admin_get("/admin").status, 404);
    assert_eq!(
        gw.get("/metrics").status,
        404,
        "metrics are not on the proxy listener"
    );
}

#[test]
fn graceful_stop_finishes_in_flight_requests() {
    let up = Upstream::start_with(|_| Reply::ok("done").delay(Duration::from_millis(800)));
    let mut gw = Gateway::start_with("grace_period: 2s\n", &one_service("api", &up, &["/api"]));
    let proxy = gw.proxy;
    let in_flight =
        std::thread::spawn(move || crate::harness::send(proxy, &Request::get("/api/slow")));
    assert!(
        up.wait_for(1, Duration::from_secs(5)),
        "request reached the upstream"
    );
    gw.signal("TERM");
    let r = in_flight
        .join()
        .unwrap()
        .expect("in-flight request answered");
    assert_eq!((r.status, r.body_str()), (200, "done"));
    assert!(
        eventually(Duration::from_secs(2), || crate::harness::send(
            proxy,
            &Request::get("/api/x")
        )
        .is_err()),
        "no new connections once stopping"
    );
    let status = gw
        .wait_exit(Duration::from_secs(15))
        .expect("exits after the grace period");
    assert!(status.success(), "{status}");
}
