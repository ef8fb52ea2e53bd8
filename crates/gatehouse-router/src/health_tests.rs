use super::*;
use crate::balancer::TargetSpec;
use std::sync::atomic::{AtomicU16, AtomicUsize};
use std::sync::Mutex;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const TICK: Duration = Duration::from_millis(50);

fn one_target_pool(addr: SocketAddr) -> Arc<Pool> {
    Arc::new(Pool::new(vec![TargetSpec {
        addr,
        host: "localhost".to_string(),
        weight: 1,
    }]))
}

fn fast_check() -> ActiveCheck {
    ActiveCheck {
        http_path: "/health".to_string(),
        timeout: Duration::from_millis(300),
        healthy_interval: TICK,
        unhealthy_interval: TICK,
        ..ActiveCheck::default()
    }
}

/// Polls `cond` every 10ms for at most 3s.
async fn wait_until(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// Runs the checker alongside `scenario`, then shuts it down; the whole test
/// is bounded so a checker that ignores shutdown fails instead of hanging.
async fn with_checker<F: Future<Output = ()>>(pool: Arc<Pool>, check: ActiveCheck, scenario: F) {
    let (tx, rx) = oneshot::channel::<()>();
    let checker = run_active_checks("svc".to_string(), pool, check, async {
        let _ = rx.await;
    });
    let driver = async {
        scenario.await;
        let _ = tx.send(());
    };
    let both = async { tokio::join!(checker, driver) };
    tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("checker did not stop after shutdown");
}

/// HTTP server answering every request with the current `status`; counts
/// connections and keeps the first request for inspection.
struct TestServer {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicUsize>,
    first_request: Arc<Mutex<Vec<u8>>>,
}

async fn http_server(status: u16) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer {
        addr: listener.local_addr().unwrap(),
        status: Arc::new(AtomicU16::new(status)),
        hits: Arc::new(AtomicUsize::new(0)),
        first_request: Arc::new(Mutex::new(Vec::new())),
    };
    let (status, hits, first) = (
        Arc::clone(&server.status),
        Arc::clone(&server.hits),
        Arc::clone(&server.first_request),
    );
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let code = status.load(Ordering::SeqCst);
            hits.fetch_add(1, Ordering::SeqCst);
            let first = Arc::clone(&first);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1024];
                let mut len = 0;
                while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                    match sock.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => len += n,
                    }
                }
                {
                    let mut first = first.lock().unwrap();
                    if first.is_empty() {
                        *first = buf[..len].to_vec();
                    }
                }
                let reply = format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\n\r\n");
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    server
}

#[tokio::test]
async fn http_failures_then_recovery() {
    let server = http_server(500).await;
    let pool = one_target_pool(server.addr);
    let check = ActiveCheck {
        unhealthy_http_failures: 3,
        healthy_successes: 2,
        ..fast_check()
    };
    let target_pool = Arc::clone(&pool);
    with_checker(pool, check, async {
        let target = &target_pool.targets()[0];
        assert!(target.is_healthy(), "targets start healthy");
        assert!(
            wait_until(|| !target.is_healthy()).await,
            "never became unhealthy"
        );
        assert!(server.hits.load(Ordering::SeqCst) >= 3);

        let before = server.hits.load(Ordering::SeqCst);
        server.status.store(200, Ordering::SeqCst);
        assert!(wait_until(|| target.is_healthy()).await, "never recovered");
        assert!(server.hits.load(Ordering::SeqCst) - before >= 2);
    })
    .await;
    let req = String::from_utf8(server.first_request.lock().unwrap().clone()).unwrap();
    assert!(req.starts_with("GET /health HTTP/1.1\r\n"), "{req}");
    assert!(req.contains(&format!("\r\nHost: localhost:{}\r\n", server.addr.port())));
    assert!(req.contains("\r\nConnection: close\r\n"));
    assert!(req.contains("\r\nUser-Agent: gatehouse-health\r\n"));
}

#[tokio::test]
async fn custom_host_header_is_sent() {
    let server = http_server(200).await;
    let check = ActiveCheck {
        host_header: Some("health.internal".to_string()),
        ..fast_check()
    };
    let hits = Arc::clone(&server.hits);
    with_checker(one_target_pool(server.addr), check, async {
        assert!(wait_until(|| hits.load(Ordering::SeqCst) > 0).await);
    })
    .await;
    let req = String::from_utf8(server.first_request.lock().unwrap().clone()).unwrap();
    assert!(req.contains("\r\nHost: health.internal\r\n"), "{req}");
}

#[tokio::test]
async fn closed_port_trips_tcp_failures() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let pool = one_target_pool(addr);
    let check = ActiveCheck {
        unhealthy_tcp_failures: 2,
        // Other kinds disabled: only tcp failures may flip the target.
        unhealthy_timeouts: 0,
        unhealthy_http_failures: 0,
        ..fast_check()
    };
    let target_pool = Arc::clone(&pool);
    with_checker(pool, check, async {
        let target = &target_pool.targets()[0];
        assert!(wait_until(|| !target.is_healthy()).await);
    })
    .await;
}

#[tokio::test]
async fn silent_server_trips_timeouts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Accept and hold connections without ever answering.
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let pool = one_target_pool(addr);
    let check = ActiveCheck {
        timeout: Duration::from_millis(100),
        unhealthy_timeouts: 2,
        unhealthy_tcp_failures: 0,
        ..fast_check()
    };
    let target_pool = Arc::clone(&pool);
    with_checker(pool, check, async {
        let target = &target_pool.targets()[0];
        assert!(wait_until(|| !target.is_healthy()).await);
    })
    .await;
}

#[tokio::test]
async fn split_status_line_over_the_wire() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                for part in [&b"HTT"[..], b"P/1.1 2", b"00 OK\r", b"\n\r\n"] {
                    if sock.write_all(part).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
        }
    });
    let pool = one_target_pool(addr);
    pool.targets()[0].set_healthy(false);
    let check = ActiveCheck {
        healthy_successes: 1,
        ..fast_check()
    };
    let target_pool = Arc::clone(&pool);
    with_checker(pool, check, async {
        assert!(wait_until(|| target_pool.targets()[0].is_healthy()).await);
    })
    .await;
}

#[tokio::test]
async fn zero_interval_and_zero_weight_are_not_probed() {
    let disabled = http_server(500).await;
    let enabled = http_server(500).await;
    let pool = Arc::new(Pool::new(vec![
        TargetSpec {
            addr: disabled.addr,
            host: "a".to_string(),
            weight: 0,
        },
        TargetSpec {
            addr: enabled.addr,
            host: "b".to_string(),
            weight: 1,
        },
    ]));
    let check = ActiveCheck {
        healthy_interval: Duration::ZERO,
        unhealthy_http_failures: 1,
        ..fast_check()
    };
    // Healthy targets are not probed when healthy_interval is zero.
    with_checker(Arc::clone(&pool), check.clone(), async {
        tokio::time::sleep(TICK * 4).await;
    })
    .await;
    assert_eq!(enabled.hits.load(Ordering::SeqCst), 0);

    // Unhealthy ones are, except a weight-0 target, which is never picked.
    for t in pool.targets() {
        t.set_healthy(false);
    }
    let hits = Arc::clone(&enabled.hits);
    with_checker(Arc::clone(&pool), check, async {
        assert!(wait_until(|| hits.load(Ordering::SeqCst) >= 2).await);
    })
    .await;
    assert_eq!(disabled.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn invalid_check_disables_probing() {
    let server = http_server(200).await;
    let check = ActiveCheck {
        http_path: "/a b".to_string(),
        ..fast_check()
    };
    let hits = Arc::clone(&server.hits);
    with_checker(one_target_pool(server.addr), check, async {
        tokio::time::sleep(TICK * 3).await;
    })
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn read_status_handles_partial_reads() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let writer = async move {
        for part in [
            &b"H"[..],
            b"TTP/1.0 3",
            b"02",
            b" Found\r\nLocation: /x\r\n",
        ] {
            server.write_all(part).await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    let (status, ()) = tokio::join!(read_status(&mut client), writer);
    assert_eq!(status, Some(302));

    // EOF before a complete line is not a status.
    let (mut client, mut server) = tokio::io::duplex(64);
    server.write_all(b"HTTP/1.1 200").await.unwrap();
    drop(server);
    assert_eq!(read_status(&mut client).await, None);

    // A line longer than the limit is refused rather than buffered forever.
    let (mut client, mut server) = tokio::io::duplex(4096);
    server.write_all(&[b'x'; 1000]).await.unwrap();
    assert_eq!(read_status(&mut client).await, None);
}

#[test]
fn parse_status_line_cases() {
    assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
    assert_eq!(parse_status_line(b"HTTP/1.0 404\r\n"), Some(404));
    assert_eq!(parse_status_line(b"HTTP/1.1 503 \n"), Some(503));
    assert_eq!(
        parse_status_line(b"HTTP/1.1 302 Found\r\nLocation: /\r\n"),
        Some(302)
    );
    let full = b"HTTP/1.1 204 No Content\r\n";
    for end in 0..full.len() - 1 {
        assert_eq!(
            parse_status_line(&full[..end]),
            None,
            "prefix of {end} bytes"
        );
    }
    for bad in [
        &b"HTTP/1.1 20 OK\r\n"[..],
        b"HTTP/1.1 2000\r\n",
        b"HTTP/1.1 099 X\r\n",
        b"HTTP/1.1 2x0 X\r\n",
        b"HTTP/11 200 OK\r\n",
        b"HTTPS/1.1 200 OK\r\n",
        b"http/1.1 200 OK\r\n",
        b"SSH-2.0-OpenSSH\r\n",
        b"\r\n",
    ] {
        assert_eq!(
            parse_status_line(bad),
            None,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

fn counters(t: &Target) -> [u32; 4] {
    let c = &t.counters;
    [&c.successes, &c.http_failures, &c.tcp_failures, &c.timeouts]
        .map(|a| a.load(Ordering::Relaxed))
}

#[test]
fn thresholds_flip_exactly_and_counters_reset() {
    let pool = one_target_pool(SocketAddr::from(([127, 0, 0, 1], 1)));
    let t = &pool.targets()[0];
    let check = ActiveCheck {
        unhealthy_http_failures: 3,
        unhealthy_tcp_failures: 2,
        healthy_successes: 2,
        ..ActiveCheck::default()
    };
    let rec = |o| record("svc", t, o, &check);
    assert_eq!(rec(Outcome::HttpFailure), None);
    assert_eq!(rec(Outcome::HttpFailure), None);
    // A success breaks the run.
    assert_eq!(rec(Outcome::Success), None);
    assert_eq!(counters(t), [1, 0, 0, 0]);
    assert_eq!(rec(Outcome::HttpFailure), None);
    assert_eq!(rec(Outcome::HttpFailure), None);
    // Neutral statuses and other failure kinds do not break it.
    assert_eq!(rec(Outcome::Neutral), None);
    assert_eq!(rec(Outcome::TcpFailure), None);
    assert_eq!(counters(t), [0, 2, 1, 0]);
    assert_eq!(rec(Outcome::HttpFailure), Some(false));
    assert!(!t.is_healthy());
    assert_eq!(counters(t), [0, 0, 0, 0]);

    // More failures while unhealthy change nothing; recovery needs 2 in a row.
    assert_eq!(rec(Outcome::HttpFailure), None);
    assert_eq!(rec(Outcome::Success), None);
    assert_eq!(rec(Outcome::Timeout), None);
    assert_eq!(rec(Outcome::Success), None);
    assert_eq!(rec(Outcome::Success), Some(true));
    assert!(t.is_healthy());

    assert_eq!(rec(Outcome::TcpFailure), None);
    assert_eq!(rec(Outcome::TcpFailure), Some(false));
}

#[test]
fn zero_thresholds_never_flip() {
    let pool = one_target_pool(SocketAddr::from(([127, 0, 0, 1], 1)));
    let t = &pool.targets()[0];
    let check = ActiveCheck {
        healthy_successes: 0,
        ..ActiveCheck::default()
    };
    for o in [Outcome::HttpFailure, Outcome::TcpFailure, Outcome::Timeout] {
        for _ in 0..10 {
            assert_eq!(record("svc", t, o, &check), None);
        }
    }
    assert!(t.is_healthy());
    t.set_healthy(false);
    for _ in 0..10 {
        assert_eq!(record("svc", t, Outcome::Success, &check), None);
    }
    assert!(!t.is_healthy());
}

#[test]
fn classify_uses_status_lists() {
    let check = ActiveCheck::default();
    assert_eq!(classify(Ok(200), &check), Outcome::Success);
    assert_eq!(classify(Ok(302), &check), Outcome::Success);
    assert_eq!(classify(Ok(503), &check), Outcome::HttpFailure);
    assert_eq!(classify(Ok(429), &check), Outcome::HttpFailure);
    assert_eq!(classify(Ok(301), &check), Outcome::Neutral);
    assert_eq!(classify(Err(ProbeError::Io), &check), Outcome::TcpFailure);
    assert_eq!(classify(Err(ProbeError::Timeout), &check), Outcome::Timeout);
}

#[test]
fn validate_rejects_malformed_requests() {
    assert!(ActiveCheck::default().validate().is_ok());
    let bad = [
        ActiveCheck {
            http_path: "health".into(),
            ..ActiveCheck::default()
        },
        ActiveCheck {
            http_path: "/a\r\nX: y".into(),
            ..ActiveCheck::default()
        },
        ActiveCheck {
            host_header: Some("a b".into()),
            ..ActiveCheck::default()
        },
        ActiveCheck {
            host_header: Some(String::new()),
            ..ActiveCheck::default()
        },
        ActiveCheck {
            timeout: Duration::ZERO,
            ..ActiveCheck::default()
        },
    ];
    for c in bad {
        assert!(c.validate().is_err(), "{c:?}");
    }
}

#[test]
fn ipv6_target_host_is_bracketed() {
    let pool = Arc::new(Pool::new(vec![TargetSpec {
        addr: "[::1]:8080".parse().unwrap(),
        host: "::1".to_string(),
        weight: 1,
    }]));
    let req = probe_request(&pool.targets()[0], &ActiveCheck::default());
    assert!(String::from_utf8(req)
        .unwrap()
        .contains("\r\nHost: [::1]:8080\r\n"));
}

#[test]
fn checker_future_is_send_for_spawning() {
    fn assert_send<T: Send>(_: &T) {}
    let pool = one_target_pool(SocketAddr::from(([127, 0, 0, 1], 1)));
    let fut = run_active_checks("svc".to_string(), pool, ActiveCheck::default(), async {});
    assert_send(&fut);
}
