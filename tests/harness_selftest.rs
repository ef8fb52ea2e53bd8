//! Tests of the harness itself: the client and the recording upstream.
//! They never start the gateway binary.

use std::io::BufReader;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::client::{self, parse_responses, read_final_response, read_response};
use crate::harness::gateway::{metric_sum, render_config};
use crate::harness::{send, send_raw, Conn, Reply, Request, Upstream};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn request_is_recorded_with_headers_and_body() {
    let up = Upstream::start();
    let req = Request::post("/api/items?x=1")
        .header("X-Dup", "one")
        .header("x-other", "  spaced  ")
        .header("X-DUP", "two")
        .body("payload-123");
    let resp = send(up.addr(), &req).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.reason, "OK");
    assert_eq!(resp.body_str(), "ok");
    assert_eq!(resp.header("Content-Type"), Some("text/plain"));
    assert_eq!(resp.header("content-length"), Some("2"));

    assert_eq!(up.count(), 1);
    let r = up.last();
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/api/items?x=1");
    assert_eq!(r.path(), "/api/items");
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!(r.body, b"payload-123");
    assert_eq!(r.error, None);
    assert_eq!(r.headers_all("x-dup"), vec!["one", "two"]);
    assert_eq!(r.header("X-Other"), Some("spaced"));
    assert_eq!(r.header("host"), Some(up.addr().to_string().as_str()));
    assert_eq!(r.header("content-length"), Some("11"));
    assert_eq!(r.header("connection"), Some("close"));
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "host",
            "x-dup",
            "x-other",
            "x-dup",
            "connection",
            "content-length"
        ]
    );
    let expected_head = format!(
        "POST /api/items?x=1 HTTP/1.1\r\nHost: {}\r\nX-Dup: one\r\nx-other:   spaced  \r\n\
         X-DUP: two\r\nConnection: close\r\nContent-Length: 11\r\n\r\n",
        up.addr()
    );
    assert_eq!(String::from_utf8_lossy(&r.raw_head), expected_head);
}

#[test]
fn request_serialisation_options() {
    let up = Upstream::start();
    let req = Request::get("/h").no_host().header("Connection", "close");
    send(up.addr(), &req).unwrap();
    let req = Request::get("/h2")
        .header("host", "example.test")
        .header("Transfer-Encoding", "chunked")
        .header("Connection", "close")
        .body("0\r\n\r\n");
    send(up.addr(), &req).unwrap();
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("host"), None);
    assert_eq!(reqs[0].headers.len(), 1, "{:?}", reqs[0]);
    assert_eq!(reqs[1].headers_all("host"), vec!["example.test"]);
    assert_eq!(reqs[1].header("content-length"), None);
    assert!(reqs[1].body.is_empty());
}

#[test]
fn chunked_request_body_is_recorded_decoded() {
    let up = Upstream::start_with(|r| Reply::ok(r.body.clone()));
    let resp = send(
        up.addr(),
        &Request::post("/c").chunked(&[b"hello ", b"chunked ", b"world"]),
    )
    .unwrap();
    assert_eq!(resp.body_str(), "hello chunked world");
    assert_eq!(up.last().body, b"hello chunked world");
    assert_eq!(up.last().header("transfer-encoding"), Some("chunked"));

    // Chunk extensions, upper-case hex and a trailer, written raw.
    let raw = format!(
        "POST /t HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         A;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nX-Trailer: yes\r\n\r\n",
        up.addr()
    );
    let out = send_raw(up.addr(), raw.as_bytes()).unwrap();
    let resp = &parse_responses(&out, false).unwrap()[0];
    assert_eq!(resp.body_str(), "0123456789abc");
    let r = up.last();
    assert_eq!(r.body, b"0123456789abc");
    assert_eq!(
        r.trailers,
        vec![("x-trailer".to_string(), "yes".to_string())]
    );
    assert_eq!(r.error, None);
}

#[test]
fn pipelined_requests_are_answered_in_order_and_recorded() {
    let up = Upstream::start_with(|r| Reply::ok(format!("answer for {}", r.target)));
    let mut conn = Conn::open(up.addr()).unwrap();
    let host = up.addr();
    let bytes = format!(
        "GET /first HTTP/1.1\r\nHost: {host}\r\n\r\n\
         POST /second HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\n\r\nbody\
         HEAD /third HTTP/1.1\r\nHost: {host}\r\n\r\n"
    );
    conn.write_raw(bytes.as_bytes()).unwrap();
    let a = conn.read_response().unwrap();
    let b = conn.read_response().unwrap();
    let c = conn.read_response_to(true).unwrap();
    assert_eq!(a.body_str(), "answer for /first");
    assert_eq!(b.body_str(), "answer for /second");
    assert_eq!(c.header("content-length"), Some("17"));
    assert!(c.body.is_empty());
    // The connection is still usable after the HEAD response.
    let d = conn.send(&Request::get("/fourth")).unwrap();
    assert_eq!(d.body_str(), "answer for /fourth");

    let reqs = up.requests();
    let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["/first", "/second", "/third", "/fourth"]);
    assert_eq!(reqs[1].body, b"body");
    assert!(reqs.iter().all(|r| r.connection == 0 && r.error.is_none()));
    assert_eq!(up.connections(), 1);
}

#[test]
fn reply_delay_is_respected() {
    let up = Upstream::start_with(|r| {
        let ms = if r.path() == "/slow" { 400 } else { 0 };
        Reply::ok("late").delay(Duration::from_millis(ms))
    });
    let started = Instant::now();
    let resp = send(up.addr(), &Request::get("/slow")).unwrap();
    let took = started.elapsed();
    assert_eq!(resp.body_str(), "late");
    assert!(took >= Duration::from_millis(400), "took {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");

    // The request is recorded before the delay ends.
    let addr = up.addr();
    let t = std::thread::spawn(move || send(addr, &Request::get("/slow")).unwrap());
    assert!(up.wait_for(2, Duration::from_millis(300)));
    assert_eq!(t.join().unwrap().status, 200);
}

#[test]
fn health_path_uses_set_status_and_is_not_recorded() {
    let up = Upstream::start();
    assert_eq!(
        send(up.addr(), &Request::get("/health")).unwrap().status,
        200
    );
    up.set_health_status(503);
    let resp = send(up.addr(), &Request::get("/health?probe=1")).unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.reason, "Service Unavailable");
    assert_eq!(up.count(), 0);
    assert_eq!(up.health_probes(), 2);
    assert!(up.wait_for_probes(2, Duration::ZERO));
    assert!(!up.wait_for_probes(3, Duration::from_millis(100)));
    assert_eq!(up.health_requests()[1].target, "/health?probe=1");

    // Other paths are still recorded; a custom path moves the health check.
    assert_eq!(
        send(up.addr(), &Request::get("/healthz")).unwrap().status,
        200
    );
    assert_eq!(up.count(), 1);
    up.set_health_path("/healthz");
    assert_eq!(
        send(up.addr(), &Request::get("/healthz")).unwrap().status,
        503
    );
    assert_eq!(up.count(), 1);
    assert_eq!(up.health_probes(), 3);

    let custom = Upstream::start_with_health("/ping", |_| Reply::status(204));
    assert_eq!(
        send(custom.addr(), &Request::get("/ping")).unwrap().status,
        200
    );
    assert_eq!(
        send(custom.addr(), &Request::get("/health"))
            .unwrap()
            .status,
        204
    );
    assert_eq!((custom.count(), custom.health_probes()), (1, 1));
}

#[test]
fn malformed_requests_do_not_kill_the_upstream() {
    let up = Upstream::start();
    let cases: [&[u8]; 6] = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\xff\xfe binary junk without newline",
        b"GET /partial HTTP/1.1\r\nHost: x\r\n",
    ];
    for (i, case) in cases.iter().enumerate() {
        let out = client::send_raw_for(up.addr(), case, Duration::from_millis(500)).unwrap();
        if i < 4 {
            let text = String::from_utf8_lossy(&out);
            assert!(text.starts_with("HTTP/1.1 400 "), "case {i}: {text:?}");
        }
        // The upstream still serves a fresh connection.
        let ok = send(up.addr(), &Request::get(&format!("/after-{i}"))).unwrap();
        assert_eq!(ok.status, 200, "after case {i}");
    }
    // The partial cases are closed by us; their records land asynchronously.
    assert!(up.wait_for(12, WAIT), "{:#?}", up.requests());
    let reqs = up.requests();
    let bad: Vec<_> = reqs.iter().filter(|r| r.error.is_some()).collect();
    assert_eq!(bad.len(), 6, "{reqs:#?}");
    assert_eq!(bad[0].raw_head, b"GARBAGE\r\n\r\n");
    assert_eq!(bad[1].target, "/");
    let partial = reqs.iter().find(|r| r.target == "/partial").unwrap();
    assert_eq!(partial.error.as_deref(), Some("EOF in head"));
    assert_eq!(partial.header("host"), Some("x"));
    assert_eq!(up.connections(), 12);
}

#[test]
fn read_response_parses_chunked_and_length_back_to_back() {
    let bytes: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n\
        5;name=val\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\nX-More:  2 \r\n\r\n\
        HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nX-A: 1\r\nx-a: 2\r\n\r\nnot found\
        HTTP/1.1 204 No Content\r\nX-Empty: \r\n\r\n\
        HTTP/1.0 200 OK\nContent-Length: 2\n\nhi";
    let mut reader = bytes;
    let a = read_response(&mut reader, false).unwrap();
    assert_eq!((a.status, a.reason.as_str()), (200, "OK"));
    assert_eq!(a.body_str(), "hello, world");
    assert_eq!(
        a.trailers,
        vec![
            ("x-checksum".to_string(), "abc".to_string()),
            ("x-more".to_string(), "2".to_string())
        ]
    );
    let b = read_response(&mut reader, false).unwrap();
    assert_eq!((b.status, b.reason.as_str()), (404, "Not Found"));
    assert_eq!(b.body, b"not found");
    assert_eq!(b.headers_all("X-A"), vec!["1", "2"]);
    let c = read_response(&mut reader, false).unwrap();
    assert_eq!(c.status, 204);
    assert_eq!(c.header("x-empty"), Some(""));
    let d = read_response(&mut reader, false).unwrap();
    assert_eq!((d.version.as_str(), d.body_str()), ("HTTP/1.0", "hi"));
    assert!(reader.is_empty());
    assert!(read_response(&mut reader, false).is_err());

    // Cut-short and malformed inputs are errors, not hangs or panics.
    assert!(parse_responses(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false).is_err());
    assert!(parse_responses(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n",
        false
    )
    .is_err());
    assert!(parse_responses(b"SMTP ready\r\n\r\n", false).is_err());

    // Interim responses, HEAD and close-delimited bodies.
    let mut reader: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
    let e = read_final_response(&mut reader, true).unwrap();
    assert_eq!((e.status, e.body.len()), (200, 0));
    let all = parse_responses(b"HTTP/1.1 200 OK\r\n\r\nuntil close", false).unwrap();
    assert_eq!(all[0].body_str(), "until close");
}

#[test]
fn read_response_over_a_socket_with_raw_upstream_replies() {
    let up = Upstream::start_with(|r| match r.path() {
        "/chunked" => {
            Reply::ok("3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n").header("Transfer-Encoding", "chunked")
        }
        "/raw" => Reply::raw("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad"),
        "/hangup" => Reply::hang_up(),
        _ => Reply::status(200).header("X-Len", "yes").body("plain"),
    });
    let mut conn = Conn::open(up.addr()).unwrap();
    let a = conn.send(&Request::get("/chunked")).unwrap();
    assert_eq!((a.body_str(), a.trailers.len()), ("abc", 1));
    let b = conn.send(&Request::get("/plain")).unwrap();
    assert_eq!((b.body_str(), b.header("x-len")), ("plain", Some("yes")));
    let c = conn.send(&Request::get("/raw")).unwrap();
    assert_eq!((c.status, c.body_str()), (502, "bad"));
    assert!(conn.is_closed_within(Duration::from_secs(2)));
    assert!(send(up.addr(), &Request::get("/hangup")).is_err());

    // A BufReader over a plain TcpStream works the same way.
    let mut stream = TcpStream::connect(up.addr()).unwrap();
    let req = Request::get("/x")
        .header("Connection", "close")
        .to_bytes(up.addr());
    std::io::Write::write_all(&mut stream, &req).unwrap();
    let mut reader = BufReader::new(stream);
    assert_eq!(
        read_response(&mut reader, false).unwrap().body_str(),
        "plain"
    );
}

#[test]
fn keep_alive_connection_close_and_http10() {
    let up = Upstream::start();
    let mut conn = Conn::open(up.addr()).unwrap();
    for _ in 0..3 {
        assert_eq!(conn.send(&Request::get("/ka")).unwrap().status, 200);
    }
    assert_eq!(up.connections(), 1);
    assert!(!conn.is_closed_within(Duration::from_millis(100)));
    assert!(up.requests().iter().all(|r| r.connection == 0));

    // HTTP/1.0 without keep-alive: answered, then closed.
    let mut old = Conn::open(up.addr()).unwrap();
    let r = old.send(&Request::get("/old").version("HTTP/1.0")).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(old.is_closed_within(Duration::from_secs(2)));

    // Expect: 100-continue gets an interim response that send() skips.
    let mut exp = Conn::open(up.addr()).unwrap();
    let r = exp
        .send(
            &Request::put("/e")
                .header("Expect", "100-continue")
                .body("data"),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(up.last().body, b"data");

    // wait_for is bounded; clear forgets; drop closes open connections.
    assert!(!up.wait_for(100, Duration::from_millis(100)));
    up.clear();
    assert_eq!(up.count(), 0);
    let addr = up.addr();
    drop(up);
    assert!(conn.is_closed_within(Duration::from_secs(2)));
    assert!(
        TcpStream::connect(addr).is_err(),
        "listener open after drop"
    );
}

#[test]
fn send_raw_returns_when_the_peer_closes() {
    let up = Upstream::start();
    let started = Instant::now();
    let out = send_raw(
        up.addr(),
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let responses = parse_responses(&out, false).unwrap();
    assert_eq!(responses.len(), 2);
    assert!(responses.iter().all(|r| r.body_str() == "ok"));

    // A silent keep-alive peer: bounded by the wait.
    let started = Instant::now();
    let out = client::send_raw_for(
        up.addr(),
        b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_millis(300),
    )
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(parse_responses(&out, false).unwrap().len(), 1);
}

#[test]
fn response_helpers() {
    let up = Upstream::start_with(|r| Reply::echo(r).header("X-Multi", "a").header("x-multi", "b"));
    let resp = send(
        up.addr(),
        &Request::post("/echo?q").header("X-In", "v").body("b"),
    )
    .unwrap();
    let json = resp.json();
    assert_eq!(json["method"], "POST");
    assert_eq!(json["target"], "/echo?q");
    assert_eq!(json["body"], "b");
    assert!(json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "x-in" && h[1] == "v"));
    assert_eq!(resp.headers_all("X-MULTI"), vec!["a", "b"]);
    let not_json = Upstream::start_with(|_| Reply::ok(vec![b'o', b'k', 0xff]));
    let r = send(not_json.addr(), &Request::get("/")).unwrap();
    assert_eq!(r.body_str(), "ok");
    assert_eq!(r.body_lossy(), "ok\u{fffd}");
    let panic = std::panic::catch_unwind(|| r.json()).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("not JSON") && msg.contains("ok"), "{msg}");
}

#[test]
fn config_rendering_and_metric_parsing() {
    let proxy = "127.0.0.1:1000".parse().unwrap();
    let admin = "127.0.0.1:2000".parse().unwrap();
    let dir = Path::new("/tmp/gh");
    let cfg = render_config(
        "trusted_proxies: [127.0.0.1/32]\nworkers: 2\nlog:\n  file: \"{{dir}}/a.log\"\n",
        "services: []\n# {{proxy}} {{admin}}",
        proxy,
        admin,
        dir,
    );
    assert_eq!(
        cfg,
        "gatehouse:\n  listeners:\n    - address: 127.0.0.1:1000\n  admin:\n    address: 127.0.0.1:2000\n  \
         pid_file: /tmp/gh/gatehouse.pid\n  upgrade_sock: /tmp/gh/upgrade.sock\n  \
         trusted_proxies: [127.0.0.1/32]\n  workers: 2\n  log:\n    file: \"/tmp/gh/a.log\"\n\
         services: []\n# 127.0.0.1:1000 127.0.0.1:2000\n"
    );

    let text = "# HELP x_total demo\n# TYPE x_total counter\n\
        x_total{route=\"api\",code=\"200\"} 3\n\
        x_total{route=\"api\",code=\"502\"} 2\n\
        x_total{route=\"a,\\\"b\",code=\"200\"} 7\n\
        x_total_other 100\nx_gauge 1.5\n";
    assert_eq!(metric_sum(text, "x_total", &[("route", "api")]), Some(5.0));
    assert_eq!(metric_sum(text, "x_total", &[("code", "200")]), Some(10.0));
    assert_eq!(
        metric_sum(text, "x_total", &[("route", "a,\"b")]),
        Some(7.0)
    );
    assert_eq!(metric_sum(text, "x_total", &[("route", "none")]), None);
    assert_eq!(metric_sum(text, "x_gauge", &[]), Some(1.5));
}

#[test]
fn large_bodies_round_trip() {
    let up = Upstream::start_with(|r| Reply::ok(r.body.clone()));
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let resp = send(up.addr(), &Request::put("/big").body(big.clone())).unwrap();
    assert_eq!(resp.body.len(), big.len());
    assert!(resp.body == big);
    let chunks: Vec<&[u8]> = big.chunks(70_000).collect();
    let resp = send(up.addr(), &Request::put("/big").chunked(&chunks)).unwrap();
    assert!(resp.body == big);
    assert!(up.requests().iter().all(|r| r.body == big));
}
