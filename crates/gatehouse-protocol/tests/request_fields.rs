//! Header field grammar, size limits, Host, Upgrade and Expect.

mod common;

use common::{accepts, check, get_with, rejects};
use gatehouse_protocol::{check_request_head, Limits};

#[test]
fn field_values_are_ows_trimmed_and_may_hold_obs_text() {
    let head = accepts(b"GET / HTTP/1.1\r\nHost:\t a.example \t\r\nX-Y: caf\xc3\xa9 \"q\" \t x\r\nX-Empty:\r\n\r\n");
    assert_eq!(head.host, Some(&b"a.example"[..]));
    assert_eq!(head.header_count, 3);
}

#[test]
fn header_names_are_case_insensitive() {
    let head = accepts(b"GET / HTTP/1.1\r\nhOsT: a\r\nCONTENT-LENGTH: 2\r\n\r\n");
    assert_eq!(head.host, Some(&b"a"[..]));
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n",
        "duplicate_host",
        400,
    );
}

#[test]
fn whitespace_before_colon_is_refused() {
    rejects(
        &get_with("Transfer-Encoding : chunked\r\n"),
        "space_before_colon",
        400,
    );
    rejects(&get_with("X-A\t: 1\r\n"), "space_before_colon", 400);
    rejects(
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "space_before_colon",
        400,
    );
}

#[test]
fn obs_fold_is_refused() {
    rejects(&get_with("X-A: 1\r\n 2\r\n"), "obs_fold", 400);
    rejects(&get_with("X-A: 1\r\n\t2\r\n"), "obs_fold", 400);
    // Whitespace between the request line and the first field (RFC 9112 2.2).
    rejects(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", "obs_fold", 400);
}

#[test]
fn header_name_must_be_a_nonempty_token() {
    rejects(&get_with(": v\r\n"), "empty_header_name", 400);
    rejects(&get_with("X(A): v\r\n"), "invalid_header_name", 400);
    rejects(&get_with("X\x00A: v\r\n"), "invalid_header_name", 400);
    rejects(&get_with("Xé: v\r\n"), "invalid_header_name", 400);
    rejects(&get_with("NoColonHere\r\n"), "missing_colon", 400);
}

#[test]
fn control_bytes_in_values_are_refused() {
    rejects(&get_with("X-A: a\x00b\r\n"), "invalid_header_value", 400);
    rejects(&get_with("X-A: a\x01b\r\n"), "invalid_header_value", 400);
    rejects(&get_with("X-A: a\x7fb\r\n"), "invalid_header_value", 400);
    rejects(&get_with("X-A: a\rb\r\n"), "bare_cr", 400);
    rejects(&get_with("X-A: a\nb\r\n"), "bare_lf", 400);
}

#[test]
fn http11_needs_exactly_one_host() {
    rejects(b"GET / HTTP/1.1\r\n\r\n", "missing_host", 400);
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        "duplicate_host",
        400,
    );
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "duplicate_host",
        400,
    );
}

#[test]
fn host_value_must_be_an_authority() {
    for ok in [
        "a.example",
        "[::1]:8080",
        "192.0.2.1:0",
        "a.example:65535",
        "xn--bcher-kva.example",
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {ok}\r\n\r\n");
        assert_eq!(accepts(raw.as_bytes()).host, Some(ok.as_bytes()));
    }
    for bad in [
        "",
        "a b",
        "a.example:99999",
        "a.example:",
        ":80",
        "a/b",
        "a@b",
        "a, b",
        "a,b",
        "[::1",
        "::1",
        "ex%61mple.com",
        "a:8O",
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        rejects(raw.as_bytes(), "invalid_host", 400);
    }
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\xc3\xa9\r\n\r\n",
        "invalid_host",
        400,
    );
}

#[test]
fn http10_may_omit_host_but_not_send_a_bad_one() {
    assert_eq!(accepts(b"GET / HTTP/1.0\r\n\r\n").host, None);
    assert_eq!(
        accepts(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n").host,
        Some(&b"a"[..])
    );
    rejects(b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n", "invalid_host", 400);
    rejects(
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        "duplicate_host",
        400,
    );
}

#[test]
fn upgrade_h2c_is_detected_in_lists() {
    assert!(accepts(&get_with("Upgrade: h2c\r\n")).upgrade_h2c);
    assert!(accepts(&get_with("upgrade: websocket, H2C \r\n")).upgrade_h2c);
    assert!(!accepts(&get_with("Upgrade: websocket\r\n")).upgrade_h2c);
    assert!(!accepts(&get_with("Upgrade: h2c2\r\nX-H2c: h2c\r\n")).upgrade_h2c);
}

#[test]
fn websocket_handshake_needs_upgrade_connection_get_and_http11() {
    let ws = "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n";
    assert!(accepts(&get_with(ws)).upgrade_websocket);
    assert!(!accepts(&get_with("Upgrade: websocket\r\n")).upgrade_websocket);
    assert!(!accepts(&get_with("Connection: upgrade\r\n")).upgrade_websocket);
    let listed = "Upgrade: websocket, foo\r\nConnection: upgrade\r\n";
    assert!(!accepts(&get_with(listed)).upgrade_websocket);
    let post = format!("POST / HTTP/1.1\r\nHost: a\r\n{ws}\r\n");
    assert!(!accepts(post.as_bytes()).upgrade_websocket);
    let old = format!("GET / HTTP/1.0\r\n{ws}\r\n");
    assert!(!accepts(old.as_bytes()).upgrade_websocket);
}

#[test]
fn connection_options_are_few_tokens_and_never_protected_fields() {
    assert!(
        !accepts(&get_with(
            "Connection: keep-alive, X-Secret, Content-Length, TE\r\n"
        ))
        .upgrade_h2c
    );
    accepts(&get_with("Connection: a,,b, \r\n"));
    for field in [
        "Host",
        "x-forwarded-for",
        "X-Forwarded-Host",
        "X-FORWARDED-PROTO",
    ] {
        rejects(
            &get_with(&format!("Connection: close, {field}\r\n")),
            "protected_connection_option",
            400,
        );
    }
    rejects(
        &get_with("Connection: \"x-a\"\r\n"),
        "invalid_connection_option",
        400,
    );
    rejects(
        &get_with("Connection: a b\r\n"),
        "invalid_connection_option",
        400,
    );
    let nine = (0..9)
        .map(|i| format!("x-{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    accepts(&get_with(&format!("Connection: {nine}\r\n")));
    rejects(
        &get_with(&format!("Connection: {nine}\r\nConnection: x-9\r\n")),
        "invalid_connection_option",
        400,
    );
}

#[test]
fn head_length_stops_at_the_empty_line() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut wire = head.to_vec();
    wire.extend_from_slice(b"GET /next HTTP/1.1\r\n");
    assert_eq!(accepts(&wire).len, head.len());
    let led = b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nxyz";
    assert_eq!(accepts(led).len, led.len() - 3);
}

#[test]
fn partial_heads_are_incomplete_until_a_rule_breaks() {
    let full = b"GET /a HTTP/1.1\r\nHost: a.example\r\nX-Long: vvvv\r\n\r\n";
    for cut in 0..full.len() {
        let v = check(&full[..cut]).unwrap_err();
        assert!(v.is_incomplete(), "cut at {cut}: {v}");
    }
    // A broken line is refused before the head ends.
    let early = check(b"GET /a HTTP/1.1\r\nBad Name: x\r\n").unwrap_err();
    assert_eq!(early.code, "space_before_colon");
    let long = vec![b'a'; 9000];
    let v = check(&[b"GET /".as_slice(), &long].concat()).unwrap_err();
    assert_eq!(v.code, "request_line_too_long");
}

#[test]
fn expect_continue_is_detected_on_http11_only() {
    assert!(accepts(&get_with("Expect: 100-Continue\r\n")).expect_continue);
    assert!(!accepts(&get_with("Expect: 100-continuex\r\n")).expect_continue);
    assert!(!accepts(&get_with("")).expect_continue);
    let head = accepts(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    assert!(!head.expect_continue);
}

fn limits(line: usize, section: usize, count: usize) -> Limits {
    Limits {
        max_header_line: line,
        max_header_section: section,
        max_headers: count,
        ..Limits::default()
    }
}

#[test]
fn header_line_limit_is_inclusive() {
    // "Host: a" = 7, "X: 12345" = 8 bytes before CRLF.
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX: 12345\r\n\r\n";
    assert!(check_request_head(raw, &limits(8, 1000, 10)).is_ok());
    let err = check_request_head(raw, &limits(7, 1000, 10)).unwrap_err();
    assert_eq!((err.status, err.code), (431, "header_line_too_long"));
    // A long name alone is enough; no need to see the colon.
    let raw = b"GET / HTTP/1.1\r\nXXXXXXXXXXXXXXXX";
    let err = check_request_head(raw, &limits(8, 1000, 10)).unwrap_err();
    assert_eq!(err.code, "header_line_too_long");
}

#[test]
fn header_section_limit_is_inclusive() {
    // Field lines with CRLF: 9 + 10 = 19 bytes.
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX: 12345\r\n\r\n";
    assert!(check_request_head(raw, &limits(100, 19, 10)).is_ok());
    let err = check_request_head(raw, &limits(100, 18, 10)).unwrap_err();
    assert_eq!((err.status, err.code), (431, "header_section_too_large"));
}

#[test]
fn header_count_limit_is_inclusive() {
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_eq!(
        check_request_head(raw, &limits(100, 1000, 3))
            .unwrap()
            .header_count,
        3
    );
    let err = check_request_head(raw, &limits(100, 1000, 2)).unwrap_err();
    assert_eq!((err.status, err.code), (431, "too_many_headers"));
}

#[test]
fn default_limits_match_nginx_buffers() {
    let l = Limits::default();
    assert_eq!(
        (
            l.max_request_line,
            l.max_header_line,
            l.max_header_section,
            l.max_headers
        ),
        (8192, 8192, 32768, 100)
    );
    assert!(!l.allow_connect);
}

#[test]
fn default_limits_refuse_a_64k_header() {
    let big = "x".repeat(64 * 1024);
    rejects(
        &get_with(&format!("X-Big: {big}\r\n")),
        "header_line_too_long",
        431,
    );
    let many: String = (0..5)
        .map(|i| format!("X-{i}: {}\r\n", "y".repeat(8000)))
        .collect();
    rejects(&get_with(&many), "header_section_too_large", 431);
    let count: String = (0..100).map(|i| format!("X-{i}: 1\r\n")).collect();
    rejects(&get_with(&count), "too_many_headers", 431);
}
