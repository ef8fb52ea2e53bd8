//! HTTP/1.1 hardening through the real binary, with raw sockets: every
//! ambiguous or malformed request is answered by the gateway in the common
//! error format on a closed connection, and the recording upstream never
//! sees it; what is forwarded is normalised.

use crate::harness::client::parse_responses;
use crate::harness::{
    eventually, metric_sum, one_service, Conn, Gateway, Recorded, Reply, Response, Upstream,
};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(3);

fn gateway() -> (Gateway, Upstream) {
    let up = Upstream::start_with(Reply::echo);
    let gw = Gateway::start(&one_service("api", &up, &["/api"]));
    (gw, up)
}

/// Writes `raw` on a fresh connection and returns the one response plus
/// whether the gateway closed the connection after it.
fn exchange(gw: &Gateway, raw: &[u8]) -> (Response, bool) {
    let mut conn = Conn::open(gw.proxy).expect("connect");
    // The gateway may answer and close before reading everything.
    let _ = conn.write_raw(raw);
    let response = conn
        .read_response()
        .unwrap_or_else(|e| panic!("no response to {}: {e}", raw.escape_ascii()));
    let closed = conn.is_closed_within(WAIT);
    (response, closed)
}

/// Asserts `raw` is refused with `status` in the common format, on a
/// connection the gateway closes, and that no request reached `up`.
#[track_caller]
fn assert_refused(gw: &Gateway, up: &Upstream, raw: &[u8], status: u16) -> Response {
    let (r, closed) = exchange(gw, raw);
    let shown = raw.escape_ascii().to_string();
    assert_eq!(r.status, status, "{shown}: {r:?}");
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{shown}"
    );
    let body = r.json();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{shown}"
    );
    let id = body["request_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 32, "{shown}");
    assert_eq!(r.header("x-request-id"), Some(id.as_str()), "{shown}");
    assert_eq!(r.header("connection"), Some("close"), "{shown}");
    assert!(closed, "{shown}: connection left open");
    assert_eq!(
        up.count(),
        0,
        "{shown} reached the upstream: {:?}",
        up.requests()
    );
    r
}

fn post(fields: &str, body: &str) -> Vec<u8> {
    format!("POST /api/x HTTP/1.1\r\nHost: a.example\r\n{fields}\r\n{body}").into_bytes()
}

#[test]
fn ambiguous_body_framing_is_refused() {
    let (gw, up) = gateway();
    let cases: [(&[u8], u16); 12] = [
        (
            &post("Content-Length: 1\r\nContent-Length: 1\r\n", "x"),
            400,
        ),
        (&post("Content-Length: 1, 1\r\n", "x"), 400),
        (&post("Content-Length: +1\r\n", "x"), 400),
        (&post("Content-Length: 0x1\r\n", "x"), 400),
        (
            &post(
                "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            &post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            &post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            &post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"),
            400,
        ),
        (&post("Transfer-Encoding: gzip\r\n", "x"), 501),
        (
            &post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
            501,
        ),
        (&post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), 501),
        (
            b"POST /api/x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
    ];
    for (raw, status) in cases {
        assert_refused(&gw, &up, raw, status);
    }
    let m = gw.metrics();
    assert_eq!(
        metric_sum(
            &m,
            "gatehouse_rejections_total",
            &[("reason", "duplicate_content_length")]
        ),
        Some(2.0)
    );
    assert_eq!(
        metric_sum(
            &m,
            "gatehouse_rejections_total",
            &[("reason", "unsupported_transfer_coding")]
        ),
        Some(3.0)
    );
}

#[test]
fn malformed_header_lines_are_refused_in_the_common_format() {
    let (gw, up) = gateway();
    let get = |fields: &str| format!("GET /api/x HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes();
    let cases: Vec<Vec<u8>> = vec![
        get("X-A: 1\r\n folded\r\n"),
        get("X-A : 1\r\n"),
        get("X-A\t: 1\r\n"),
        get("X(A): 1\r\n"),
        get(": empty\r\n"),
        get("X-A 1\r\n"),
        get("X-A: a\0b\r\n"),
        get("X-A: a\rb\r\n"),
        get("X-A: a\x01b\r\n"),
        get("X-A: a\x7fb\r\n"),
        b"GET /api/x HTTP/1.1\nHost: a\n\n".to_vec(),
        b"GET /api/x HTTP/1.1\r\nHost: a\n\r\n".to_vec(),
        b"\r\n\r\nGET /api/x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        b"GET  /api/x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        b"G@T /api/x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        b"GET /api/x HTTP/1.1 \r\nHost: a\r\n\r\n".to_vec(),
    ];
    for raw in &cases {
        assert_refused(&gw, &up, raw, 400);
    }
    // What Pingora alone would have answered with an empty plain 400.
    let r = assert_refused(&gw, &up, &get("X-A : 1\r\n"), 400);
    assert_eq!(
        r.json()["message"],
        "Bad Request: whitespace between header name and colon"
    );
    // A single leading CRLF is allowed (RFC 9112 2.2).
    let (r, _) = exchange(&gw, b"\r\nGET /api/x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 200);
}

#[test]
fn request_targets_hosts_and_versions() {
    let (gw, up) = gateway();
    let line = |l: &str| format!("{l}\r\nHost: a.example\r\n\r\n").into_bytes();
    for raw in [
        line("GET ! HTTP/1.1"),
        line("GET api/x HTTP/1.1"),
        line("GET * HTTP/1.1"),
        line("GET a.example:80 HTTP/1.1"),
        line("GET /a b HTTP/1.1"),
        line("GET /a#frag HTTP/1.1"),
        line("GET /a\\b HTTP/1.1"),
        line("GET /a%zz HTTP/1.1"),
        line("GET /api/x HTTP/1"),
        b"GET /api/x HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /api/x HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n".to_vec(),
        b"GET /api/x HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(),
        b"GET /api/x HTTP/1.1\r\nHost: a@b\r\n\r\n".to_vec(),
        b"GET /api/x HTTP/1.1\r\nHost: a:99x\r\n\r\n".to_vec(),
        b"GET /api/x HTTP/1.1\r\nHost: \r\n\r\n".to_vec(),
    ] {
        assert_refused(&gw, &up, &raw, 400);
    }
    assert_refused(&gw, &up, &line("CONNECT a.example:443 HTTP/1.1"), 405);
    assert_refused(&gw, &up, &line("GET /api/x HTTP/2.0"), 505);
    assert_refused(&gw, &up, &line("GET /api/x HTTP/1.2"), 505);
    assert_refused(&gw, &up, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);

    // `OPTIONS *` is about the gateway itself: answered, not forwarded,
    // and the connection stays usable.
    let mut conn = Conn::open(gw.proxy).unwrap();
    conn.write_raw(
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nGET /api/after HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .unwrap();
    let r = conn.read_response().unwrap();
    assert_eq!(r.status, 204);
    assert!(r.header("allow").is_some_and(|a| a.contains("GET")));
    assert_eq!(conn.read_response().unwrap().status, 200);
    assert_eq!(up.count(), 1);
    assert_eq!(up.last().target, "/after");

    // HTTP/1.0 may omit Host.
    let (r, closed) = exchange(&gw, b"GET /api/old HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        closed,
        "HTTP/1.0 without keep-alive is closed after the response"
    );

    // Absolute-form: accepted when Host agrees with its authority, and the
    // service receives origin-form; a different Host is ambiguous.
    up.clear();
    let (r, _) = exchange(
        &gw,
        b"GET http://abs.example/api/x?q=1 HTTP/1.1\r\nHost: abs.example\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let seen = up.last();
    assert_eq!(seen.target, "/x?q=1");
    assert_eq!(seen.header("x-forwarded-host"), Some("abs.example"));
    up.clear();
    let r = assert_refused(
        &gw,
        &up,
        b"GET http://abs.example/api/x HTTP/1.1\r\nHost: other.example\r\n\r\n",
        400,
    );
    assert_eq!(
        r.json()["message"],
        "Bad Request: Host differs from the request-target authority"
    );
}

#[test]
fn head_limits_have_nginx_statuses_and_are_configurable() {
    let (gw, up) = gateway();
    let long_target = format!("/api/{}", "a".repeat(9000));
    assert_refused(
        &gw,
        &up,
        format!("GET {long_target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        414,
    );
    // The issue's example: one 64 KB header.
    let big = format!(
        "GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    assert_refused(&gw, &up, big.as_bytes(), 431);
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_refused(
        &gw,
        &up,
        format!("GET /api/x HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(),
        431,
    );
    let section: String = (0..5)
        .map(|i| format!("X-S{i}: {}\r\n", "s".repeat(7000)))
        .collect();
    assert_refused(
        &gw,
        &up,
        format!("GET /api/x HTTP/1.1\r\nHost: a\r\n{section}\r\n").as_bytes(),
        431,
    );
    // Just under every default limit passes.
    let fits: String = (0..90)
        .map(|i| format!("X-F{i}: {}\r\n", "f".repeat(300)))
        .collect();
    let (r, _) = exchange(
        &gw,
        format!("GET /api/x HTTP/1.1\r\nHost: a\r\n{fits}\r\n").as_bytes(),
    );
    assert_eq!(r.status, 200);
    let m = gw.metrics();
    for reason in [
        "request_line_too_long",
        "header_line_too_long",
        "too_many_headers",
        "header_section_too_large",
    ] {
        assert_eq!(
            metric_sum(&m, "gatehouse_rejections_total", &[("reason", reason)]),
            Some(1.0),
            "{reason}"
        );
    }

    let up2 = Upstream::start();
    let gw2 = Gateway::start_with(
        "http:\n  max_headers: 5\n  max_request_line: 64\n",
        &one_service("api", &up2, &["/api"]),
    );
    let five: String = (0..4).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (r, _) = exchange(
        &gw2,
        format!("GET /api/x HTTP/1.1\r\nHost: a\r\n{five}\r\n").as_bytes(),
    );
    assert_eq!(r.status, 200);
    let six: String = (0..5).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (r, _) = exchange(
        &gw2,
        format!("GET /api/x HTTP/1.1\r\nHost: a\r\n{six}\r\n").as_bytes(),
    );
    assert_eq!(r.status, 431);
    let (r, _) = exchange(
        &gw2,
        format!("GET /api/{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(60)).as_bytes(),
    );
    assert_eq!(r.status, 414);
    assert_eq!(up2.count(), 1);
}

/// Requests the upstream saw for `path`, as requests of their own.
fn seen_as_request(up: &Upstream, path: &str) -> Vec<Recorded> {
    up.requests()
        .into_iter()
        .filter(|r| r.path().ends_with(path))
        .collect()
}

#[test]
fn cl_te_and_te_cl_desync_attempts_never_smuggle_a_request() {
    let (gw, up) = gateway();
    let hidden = "GET /api/hidden HTTP/1.1\r\nHost: a\r\n\r\n";
    // CL.TE: a front that trusts Content-Length forwards the whole thing, a
    // back end that trusts chunked ends the body at `0` and reads the rest
    // as a second request.
    let cl_te = post(
        &format!(
            "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
            5 + hidden.len()
        ),
        &format!("0\r\n\r\n{hidden}"),
    );
    // TE.CL: the reverse.
    let chunk = format!("{:x}\r\n{hidden}\r\n0\r\n\r\n", hidden.len());
    let te_cl = post(
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
        &chunk,
    );
    // Obfuscated Transfer-Encoding variants that some servers ignore.
    let te_space = post(
        &format!(
            "Content-Length: {}\r\nTransfer-Encoding : chunked\r\n",
            5 + hidden.len()
        ),
        &format!("0\r\n\r\n{hidden}"),
    );
    let te_tab_fold = post(
        &format!(
            "Content-Length: {}\r\nTransfer-Encoding:\r\n\tchunked\r\n",
            5 + hidden.len()
        ),
        &format!("0\r\n\r\n{hidden}"),
    );
    let te_odd = post(
        &format!(
            "Content-Length: {}\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: x\r\n",
            5 + hidden.len()
        ),
        &format!("0\r\n\r\n{hidden}"),
    );
    for raw in [cl_te, te_cl, te_space, te_tab_fold, te_odd] {
        assert_refused(&gw, &up, &raw, 400);
    }

    // A request inside a valid body stays a body: the upstream gets one
    // request carrying it, and nothing for /api/hidden.
    let mut conn = Conn::open(gw.proxy).unwrap();
    let in_length = post(&format!("Content-Length: {}\r\n", hidden.len()), hidden);
    let in_chunks = post("Transfer-Encoding: chunked\r\n", &chunk);
    for raw in [&in_length, &in_chunks] {
        conn.write_raw(raw).unwrap();
        let r = conn.read_response().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["body"], hidden);
    }
    assert_eq!(up.count(), 2);
    assert!(seen_as_request(&up, "/hidden").is_empty());
    assert!(up.requests().iter().all(|r| r.error.is_none()));
}

#[test]
fn broken_chunked_bodies_stop_the_request() {
    let (gw, up) = gateway();
    let hidden = "GET /api/hidden HTTP/1.1\r\nHost: a\r\n\r\n";
    for body in [
        format!("5\nhello\r\n0\r\n\r\n{hidden}"),
        format!("0x5\r\nhello\r\n0\r\n\r\n{hidden}"),
        format!("5\r\nhelloXX\r\n0\r\n\r\n{hidden}"),
        format!("5;a\0b\r\nhello\r\n0\r\n\r\n{hidden}"),
        format!("5\r\nhello\r\n0\r\n X: folded\r\n\r\n{hidden}"),
        format!(" 5\r\nhello\r\n0\r\n\r\n{hidden}"),
    ] {
        up.clear();
        let raw = post("Transfer-Encoding: chunked\r\n", &body);
        let mut conn = Conn::open(gw.proxy).unwrap();
        let _ = conn.write_raw(&raw);
        let got = conn.read_until_close(WAIT).unwrap();
        let responses = parse_responses(&got, false).unwrap_or_default();
        let shown = body.escape_default().to_string();
        assert!(responses.len() <= 1, "{shown}: {responses:?}");
        if let Some(r) = responses.first() {
            assert_eq!(r.status, 400, "{shown}: {r:?}");
            assert!(r.json()["message"].as_str().is_some());
        }
        // The upstream may have seen the head; never a complete request,
        // and never the hidden one.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            up.requests().iter().all(|r| r.error.is_some()),
            "{shown}: {:?}",
            up.requests()
        );
        assert!(seen_as_request(&up, "/hidden").is_empty(), "{shown}");
    }
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let (gw, up) = gateway();
    let mut conn = Conn::open(gw.proxy).unwrap();
    let mut wire = Vec::new();
    wire.extend_from_slice(b"GET /api/1 HTTP/1.1\r\nHost: a\r\n\r\n");
    wire.extend_from_slice(&post("Content-Length: 3\r\n", "two"));
    wire.extend_from_slice(&post(
        "Transfer-Encoding: chunked\r\n",
        "5\r\nthree\r\n0\r\nX-Trailer: t\r\n\r\n",
    ));
    wire.extend_from_slice(b"GET /api/4 HTTP/1.1\r\nHost: a\r\n\r\n");
    wire.extend_from_slice(b"GET /api/5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    conn.write_raw(&wire).unwrap();
    let got = conn.read_until_close(Duration::from_secs(5)).unwrap();
    let responses = parse_responses(&got, false).unwrap();
    let seen: Vec<(String, String)> = responses
        .iter()
        .map(|r| {
            let j = r.json();
            (
                j["target"].as_str().unwrap_or_default().to_string(),
                j["body"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expect = [
        ("/1", ""),
        ("/x", "two"),
        ("/x", "three"),
        ("/4", ""),
        ("/5", ""),
    ];
    assert_eq!(
        seen,
        expect.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    assert_eq!(up.count(), 5);
    // One bad request in a pipeline: the ones before it are answered, the
    // bad one is refused, nothing after it is read.
    up.clear();
    let mut conn = Conn::open(gw.proxy).unwrap();
    conn.write_raw(
        b"GET /api/a HTTP/1.1\r\nHost: a\r\n\r\nGET /api/b HTTP/1.1\r\n\r\nGET /api/c HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .unwrap();
    let got = conn.read_until_close(Duration::from_secs(5)).unwrap();
    let statuses: Vec<u16> = parse_responses(&got, false)
        .unwrap()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 400]);
    let targets: Vec<String> = up.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/a"]);
}

#[test]
fn hop_by_hop_headers_are_removed_and_framing_is_normalised() {
    let (gw, up) = gateway();
    let raw = post(
        "Connection: keep-alive, X-Secret, Content-Length, Transfer-Encoding\r\n\
         Keep-Alive: timeout=5\r\n\
         Proxy-Connection: keep-alive\r\n\
         TE: trailers\r\n\
         Trailer: X-T\r\n\
         Upgrade: foo/2\r\n\
         Proxy-Authorization: Basic cHJveHk6c2VjcmV0\r\n\
         X-Secret: s\r\n\
         X-Kept: k\r\n\
         Content-Length: 005\r\n",
        "hello",
    );
    let mut conn = Conn::open(gw.proxy).unwrap();
    conn.write_raw(&raw).unwrap();
    let r = conn.read_response().unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let seen = up.last();
    for gone in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "x-secret",
    ] {
        assert_eq!(seen.header(gone), None, "{gone} was forwarded: {seen:?}");
    }
    assert_eq!(seen.header("x-kept"), Some("k"));
    assert_eq!(seen.header("host"), Some(up.addr().to_string().as_str()));
    assert_eq!(seen.headers_all("content-length"), vec!["5"]);
    assert_eq!(seen.body_str(), "hello");

    // Chunked in any spelling arrives as one canonical `chunked`; trailers
    // (framing or routing fields included) are not forwarded.
    let raw = post(
        "Transfer-Encoding:  Chunked \r\n",
        "5\r\nhello\r\n0\r\nContent-Length: 99\r\nHost: evil.example\r\nX-T: 1\r\n\r\n",
    );
    conn.write_raw(&raw).unwrap();
    assert_eq!(conn.read_response().unwrap().status, 200);
    let seen = up.last();
    assert_eq!(seen.headers_all("transfer-encoding"), vec!["chunked"]);
    assert_eq!(seen.header("content-length"), None);
    assert_eq!(seen.body_str(), "hello");
    assert!(seen.trailers.is_empty(), "{:?}", seen.trailers);
    assert_eq!(seen.headers_all("host").len(), 1);

    // Options naming what the gateway itself sets are refused up front.
    up.clear();
    for field in ["Host", "X-Forwarded-For", "x-forwarded-proto"] {
        let raw = format!("GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: {field}\r\n\r\n");
        let r = assert_refused(&gw, &up, raw.as_bytes(), 400);
        assert_eq!(
            r.json()["message"],
            "Bad Request: Connection names a field that cannot be removed"
        );
    }
}

#[test]
fn upgrades_h2c_refused_websocket_tunnelled() {
    let (gw, up) = gateway();
    let h2c = b"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    let r = assert_refused(&gw, &up, h2c, 400);
    assert_eq!(
        r.json()["message"],
        "Bad Request: h2c upgrade is not allowed"
    );

    let ws = ws_upstream();
    let gw = Gateway::start(&format!(
        "services:\n  - name: ws\n    url: http://{}\n    routes:\n      - paths: [/ws]\n",
        ws.addr
    ));
    let mut conn = Conn::open(gw.proxy).unwrap();
    conn.write_raw(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let r = conn.read_response().unwrap();
    assert_eq!(r.status, 101, "{r:?}");
    conn.write_raw(b"ping-through-the-tunnel").unwrap();
    let mut echoed = Vec::new();
    let ok = eventually(WAIT, || {
        let mut buf = [0u8; 64];
        conn.stream()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .ok();
        if let Ok(n) = std::io::Read::read(&mut conn, &mut buf) {
            echoed.extend_from_slice(&buf[..n]);
        }
        echoed.as_slice() == b"ping-through-the-tunnel"
    });
    assert!(ok, "tunnel echoed {:?}", String::from_utf8_lossy(&echoed));
    let head = ws.head();
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
}

/// A WebSocket-ish upstream: answers the first request with 101 and then
/// echoes every byte; records the head it received (lowercased).
struct WsUpstream {
    addr: std::net::SocketAddr,
    head: std::sync::Arc<std::sync::Mutex<String>>,
}

impl WsUpstream {
    fn head(&self) -> String {
        self.head.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

fn ws_upstream() -> WsUpstream {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let head = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = head.clone();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        if let Ok(mut h) = seen.lock() {
            *h = String::from_utf8_lossy(&got).to_ascii_lowercase();
        }
        let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    WsUpstream { addr, head }
}

#[test]
fn upstream_responses_with_broken_framing_become_502() {
    let cases: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for raw in cases {
        let up = Upstream::start_with(move |_| Reply::raw(raw.to_vec()));
        let gw = Gateway::start(&one_service("api", &up, &["/api"]));
        let r = gw.get("/api/x");
        let shown = raw.escape_ascii().to_string();
        assert_eq!(r.status, 502, "{shown}: {r:?}");
        assert_eq!(
            r.json()["message"],
            "An invalid response was received from the upstream server"
        );
        let m = gw.metrics();
        assert!(
            eventually(WAIT, || metric_sum(
                &gw.metrics(),
                "gatehouse_upstream_errors_total",
                &[("kind", "bad_response")]
            ) == Some(1.0)),
            "{shown}: {m}"
        );
    }
    // Both framings from upstream: the client gets exactly one.
    let up = Upstream::start_with(|_| {
        Reply::raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec())
    });
    let gw = Gateway::start(&one_service("api", &up, &["/api"]));
    let raw = gw.send_raw(b"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let responses = parse_responses(&raw, false).unwrap();
    let r = &responses[0];
    let framings = r.headers_all("content-length").len() + r.headers_all("transfer-encoding").len();
    if r.status == 200 {
        assert_eq!(framings, 1, "{r:?}");
        assert_eq!(r.body_str(), "abc");
    } else {
        assert_eq!(r.status, 502, "{r:?}");
    }
}

#[test]
fn heads_arriving_slowly_and_timeouts() {
    let up = Upstream::start();
    let gw = Gateway::start_with(
        "timeouts:\n  client_header: 1s\n  keepalive: 1s\n",
        &one_service("api", &up, &["/api"]),
    );
    // A byte at a time, the CRLFs split too, is still one request.
    let mut conn = Conn::open(gw.proxy).unwrap();
    for b in b"GET /api/slow HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n" {
        conn.write_raw(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(conn.read_response().unwrap().status, 200);
    // Idle past the keep-alive timeout: closed without a word.
    let started = std::time::Instant::now();
    assert!(conn.is_closed_within(Duration::from_secs(4)));
    assert!(started.elapsed() >= Duration::from_millis(800));

    // A head that stops half-way: 408 in the common format, then closed.
    let mut conn = Conn::open(gw.proxy).unwrap();
    conn.write_raw(b"GET /api/x HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    let r = conn.read_response().unwrap();
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["message"], "Request Timeout");
    assert!(conn.is_closed_within(WAIT));
    // A client that never sends anything is dropped after the header timeout.
    let mut conn = Conn::open(gw.proxy).unwrap();
    assert!(conn.is_closed_within(Duration::from_secs(4)));
    assert_eq!(up.count(), 1);
    let m = gw.metrics();
    assert_eq!(
        metric_sum(
            &m,
            "gatehouse_rejections_total",
            &[("reason", "client_header_timeout")]
        ),
        Some(1.0)
    );
}

#[test]
fn lenient_upstream_heads_reach_the_client_normalised() {
    // Pingora's response parser takes these; what the client gets is a
    // head the gateway wrote itself: CRLF lines and one framing.
    let cases: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ];
    for raw in cases {
        let up = Upstream::start_with(move |_| Reply::raw(raw.to_vec()));
        let gw = Gateway::start(&one_service("api", &up, &["/api"]));
        let wire = gw.send_raw(b"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let shown = raw.escape_ascii().to_string();
        let head_end = wire
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{shown}: no CRLF head in {}", wire.escape_ascii()));
        let head = &wire[..head_end + 2];
        assert!(
            head.split(|&b| b == b'\n')
                .all(|l| l.is_empty() || l.ends_with(b"\r")),
            "{shown}: bare LF reached the client: {}",
            wire.escape_ascii()
        );
        let r = &parse_responses(&wire, false).unwrap()[0];
        assert_eq!((r.status, r.body_str()), (200, "ok"), "{shown}");
        let framings =
            r.headers_all("content-length").len() + r.headers_all("transfer-encoding").len();
        assert_eq!(framings, 1, "{shown}: {r:?}");
    }
}
