//! Request line, request target and line endings.

mod common;

use common::{accepts, check, rejects};
use gatehouse_protocol::{check_request_head, Framing, HttpVersion, Limits, TargetForm};

#[test]
fn plain_get_is_parsed() {
    let head = accepts(b"GET /a/b?c=d HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(head.method, b"GET");
    assert_eq!(head.target, b"/a/b?c=d");
    assert_eq!(head.version, HttpVersion::Http11);
    assert_eq!(head.target_form, TargetForm::Origin);
    assert_eq!(head.host, Some(&b"a.example"[..]));
    assert_eq!(head.framing, Framing::None);
    assert_eq!(head.header_count, 1);
    assert!(!head.upgrade_h2c && !head.expect_continue);
}

#[test]
fn bytes_after_the_empty_line_are_body_and_ignored() {
    let head = accepts(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nx\n\0");
    assert_eq!(head.framing, Framing::ContentLength(3));
}

#[test]
fn head_must_be_complete() {
    rejects(b"", "incomplete_head", 400);
    rejects(b"GET / HTTP/1.1", "incomplete_head", 400);
    rejects(b"GET / HTTP/1.1\r\nHost: a\r\n", "incomplete_head", 400);
    rejects(b"GET / HTTP/1.1\r\nHost: a\r\n\r", "incomplete_head", 400);
    rejects(b"GET / HTTP/1.1\r\nHost: a", "incomplete_head", 400);
}

#[test]
fn one_leading_crlf_is_ignored_two_are_not() {
    let head = accepts(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.method, b"GET");
    rejects(
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "leading_empty_lines",
        400,
    );
    rejects(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "bare_lf", 400);
    rejects(b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "bare_lf", 400);
}

#[test]
fn lf_only_line_endings_are_refused_everywhere() {
    rejects(b"GET / HTTP/1.1\nHost: a\n\n", "bare_lf", 400);
    rejects(b"GET / HTTP/1.1\r\nHost: a\n\r\n", "bare_lf", 400);
    rejects(b"GET / HTTP/1.1\r\nHost: a\r\n\n", "bare_lf", 400);
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n",
        "bare_lf",
        400,
    );
}

#[test]
fn stray_cr_is_refused() {
    rejects(b"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", "bare_cr", 400);
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\n\rX: 1\r\n\r\n",
        "bare_cr",
        400,
    );
    rejects(
        b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
        "invalid_version",
        400,
    );
}

#[test]
fn request_line_needs_exactly_single_spaces() {
    rejects(
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_request_line",
        400,
    );
    rejects(
        b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_request_line",
        400,
    );
    rejects(
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        "invalid_request_line",
        400,
    );
    rejects(
        b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_request_line",
        400,
    );
    rejects(b"GET /\r\nHost: a\r\n\r\n", "invalid_request_line", 400);
    rejects(b"GET\r\nHost: a\r\n\r\n", "invalid_request_line", 400);
    rejects(b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", "invalid_method", 400);
    rejects(
        b"GET /\tHTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_request_line",
        400,
    );
}

#[test]
fn target_with_space_is_refused() {
    rejects(
        b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_request_line",
        400,
    );
}

#[test]
fn method_must_be_a_token() {
    accepts(b"M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n");
    rejects(b"G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", "invalid_method", 400);
    rejects(
        b"GE\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_method",
        400,
    );
}

#[test]
fn version_must_be_1_0_or_1_1() {
    let head = accepts(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(head.version, HttpVersion::Http10);
    for other in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
        let raw = format!("GET / {other}\r\nHost: a\r\n\r\n");
        rejects(raw.as_bytes(), "unsupported_version", 505);
    }
    for garbage in [
        "http/1.1",
        "HTTP/1.10",
        "HTTP/1",
        "HTTP/11",
        "HTTPS/1.1",
        "HTTP/1.x",
    ] {
        let raw = format!("GET / {garbage}\r\nHost: a\r\n\r\n");
        rejects(raw.as_bytes(), "invalid_version", 400);
    }
}

#[test]
fn request_line_limit_is_inclusive() {
    let limits = Limits {
        max_request_line: 20,
        ..Limits::default()
    };
    // "GET /" + path + " HTTP/1.1" is exactly 20 bytes.
    let at = b"GET /123456 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert!(check_request_head(at, &limits).is_ok());
    let over = b"GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n";
    let err = check_request_head(over, &limits).unwrap_err();
    assert_eq!((err.status, err.code), (414, "request_line_too_long"));
    // Decided without waiting for the rest of the head.
    let err = check_request_head(b"GET /1234567890123456", &limits).unwrap_err();
    assert_eq!(err.code, "request_line_too_long");
}

#[test]
fn origin_form_accepts_rfc3986_characters() {
    accepts(b"GET /a-._~!$&'()*+,;=:@/%2F%c3%A9?q=/?&x HTTP/1.1\r\nHost: a\r\n\r\n");
    accepts(b"GET //double/slash HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn origin_form_refuses_other_bytes() {
    for bad in [
        &b"/a\"b"[..],
        b"/<x>",
        b"/{x}",
        b"/a|b",
        b"/a^b",
        b"/a`b",
        b"/[x]",
        b"/a\x01",
        b"/a\x7f",
        b"/a\xc3\xa9",
        b"/a%zz",
        b"/a%4",
        b"/?q=%",
    ] {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(bad);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        rejects(&raw, "invalid_target", 400);
    }
}

#[test]
fn fragment_and_backslash_have_their_own_codes() {
    rejects(
        b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
        "fragment_in_target",
        400,
    );
    rejects(
        b"GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n",
        "backslash_in_target",
        400,
    );
    rejects(
        b"GET \\\\evil HTTP/1.1\r\nHost: a\r\n\r\n",
        "backslash_in_target",
        400,
    );
    rejects(
        b"GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "backslash_in_target",
        400,
    );
    rejects(
        b"GET http://a/#x HTTP/1.1\r\nHost: a\r\n\r\n",
        "fragment_in_target",
        400,
    );
}

#[test]
fn garbage_targets_are_refused() {
    rejects(b"GET ! HTTP/1.1\r\nHost: a\r\n\r\n", "invalid_target", 400);
    rejects(
        b"GET abc HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_target",
        400,
    );
    rejects(b"GET *x HTTP/1.1\r\nHost: a\r\n\r\n", "invalid_target", 400);
    rejects(
        b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "invalid_target",
        400,
    );
}

#[test]
fn absolute_form_authority_must_match_host() {
    let head = accepts(b"GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(head.target_form, TargetForm::Absolute);
    assert_eq!(head.host, Some(&b"a.example"[..]));
    for host in ["other.example", "A.example", "a.example:80"] {
        let raw = format!("GET http://a.example/x HTTP/1.1\r\nHost: {host}\r\n\r\n");
        rejects(raw.as_bytes(), "host_authority_mismatch", 400);
    }
    let head = accepts(b"GET HTTPS://[::1]:8443?q HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    assert_eq!(head.host, Some(&b"[::1]:8443"[..]));
    let head = accepts(b"GET http://a.example HTTP/1.0\r\n\r\n");
    assert_eq!(head.host, Some(&b"a.example"[..]));
}

#[test]
fn absolute_form_still_needs_a_valid_host_header_on_1_1() {
    rejects(
        b"GET http://a.example/x HTTP/1.1\r\n\r\n",
        "missing_host",
        400,
    );
    rejects(
        b"GET http://a.example/x HTTP/1.1\r\nHost: a b\r\n\r\n",
        "invalid_host",
        400,
    );
}

#[test]
fn absolute_form_authority_must_be_valid() {
    for bad in [
        "http:///x",
        "http://",
        "http://user@a.example/",
        "http://a.example:99999/",
        "http://a.example:/",
        "http://a,b/",
        "http://[::1/",
    ] {
        let raw = format!("GET {bad} HTTP/1.1\r\nHost: a\r\n\r\n");
        rejects(raw.as_bytes(), "invalid_target", 400);
    }
}

#[test]
fn asterisk_form_only_with_options() {
    let head = accepts(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(head.target_form, TargetForm::Asterisk);
    rejects(
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        "asterisk_target_not_options",
        400,
    );
}

#[test]
fn connect_is_refused_unless_allowed() {
    rejects(b"CONNECT a:443 HTTP/1.1\r\n\r\n", "connect_refused", 405);
    rejects(
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        "connect_refused",
        405,
    );
    let allow = Limits {
        allow_connect: true,
        ..Limits::default()
    };
    let raw = b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
    let head = check_request_head(raw, &allow).unwrap();
    assert_eq!(head.target_form, TargetForm::Authority);
    assert_eq!(head.host, Some(&b"a.example:443"[..]));
    for bad in ["a.example", "/", "http://a:443/", "*", "a:99999"] {
        let raw = format!("CONNECT {bad} HTTP/1.1\r\nHost: a\r\n\r\n");
        let err = check_request_head(raw.as_bytes(), &allow).unwrap_err();
        assert_eq!(err.code, "invalid_target", "{bad}");
    }
}

#[test]
fn authority_form_only_with_connect() {
    rejects(
        b"GET a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n",
        "authority_target_not_connect",
        400,
    );
    rejects(
        b"OPTIONS [::1]:80 HTTP/1.1\r\nHost: a\r\n\r\n",
        "authority_target_not_connect",
        400,
    );
}

#[test]
fn methods_are_case_sensitive() {
    // "connect" is an extension method, not CONNECT, so its authority
    // target is refused as such rather than slipping past the gate.
    rejects(
        b"connect a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
        "authority_target_not_connect",
        400,
    );
    rejects(
        b"options * HTTP/1.1\r\nHost: a\r\n\r\n",
        "asterisk_target_not_options",
        400,
    );
    assert!(check(b"get / HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
}
