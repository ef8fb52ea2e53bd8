//! Upstream response heads: framing and 502 violations.

mod common;

use common::assert_violation;
use gatehouse_protocol::{check_response_head, ResponseFraming};

fn resp(status_line: &str, fields: &str) -> Vec<u8> {
    format!("{status_line}\r\n{fields}\r\n").into_bytes()
}

fn framing(status_line: &str, fields: &str, method: &str) -> ResponseFraming {
    let raw = resp(status_line, fields);
    match check_response_head(&raw, method.as_bytes()) {
        Ok(f) => f,
        Err(v) => panic!("rejected {}: {v}", raw.escape_ascii()),
    }
}

#[track_caller]
fn refused(status_line: &str, fields: &str, method: &str, code: &str) {
    let raw = resp(status_line, fields);
    assert_violation(
        check_response_head(&raw, method.as_bytes()),
        code,
        502,
        &raw,
    );
}

#[test]
fn framing_follows_the_headers() {
    use ResponseFraming::*;
    assert_eq!(
        framing("HTTP/1.1 200 OK", "Content-Length: 12\r\n", "GET"),
        ContentLength(12)
    );
    assert_eq!(
        framing("HTTP/1.1 200 OK", "Transfer-Encoding: Chunked \r\n", "GET"),
        Chunked
    );
    assert_eq!(
        framing("HTTP/1.1 200 OK", "Server: x\r\n", "GET"),
        UntilClose
    );
    assert_eq!(framing("HTTP/1.0 200 OK", "", "GET"), UntilClose);
    assert_eq!(
        framing("HTTP/1.0 200 OK", "Content-Length: 0\r\n", "POST"),
        ContentLength(0)
    );
}

#[test]
fn bodiless_responses_have_no_framing() {
    use ResponseFraming::None;
    for status in [
        "100 Continue",
        "101 Switching Protocols",
        "103 Early Hints",
        "204 No Content",
        "304 Not Modified",
    ] {
        let line = format!("HTTP/1.1 {status}");
        assert_eq!(framing(&line, "", "GET"), None, "{status}");
        assert_eq!(
            framing(&line, "Content-Length: 10\r\n", "GET"),
            None,
            "{status}"
        );
    }
    assert_eq!(
        framing("HTTP/1.1 200 OK", "Content-Length: 10\r\n", "HEAD"),
        None
    );
    assert_eq!(
        framing("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n", "HEAD"),
        None
    );
    assert_eq!(framing("HTTP/1.1 200 OK", "", "HEAD"), None);
    assert_eq!(
        framing("HTTP/1.1 200 Connection established", "", "CONNECT"),
        None
    );
    assert_eq!(
        framing("HTTP/1.1 407 Auth", "Content-Length: 3\r\n", "CONNECT"),
        ResponseFraming::ContentLength(3)
    );
}

#[test]
fn reason_phrase_may_be_empty_or_missing() {
    assert_eq!(
        framing("HTTP/1.1 200 ", "", "GET"),
        ResponseFraming::UntilClose
    );
    assert_eq!(
        framing("HTTP/1.1 200", "", "GET"),
        ResponseFraming::UntilClose
    );
    assert_eq!(
        framing("HTTP/1.1 404 Not \tFound é", "", "GET"),
        ResponseFraming::UntilClose
    );
}

#[test]
fn malformed_status_lines_are_refused() {
    let code = "upstream_invalid_status_line";
    for line in [
        "HTTP/1.1  200 OK",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 2x0 OK",
        "HTTP/1.1 099 Low",
        "HTTP/1.1 600 High",
        "HTTP/2.0 200 OK",
        "HTTP/1.2 200 OK",
        "http/1.1 200 OK",
        " HTTP/1.1 200 OK",
        "HTTP/1.1 200 O\x01K",
        "HTTP/1.1",
        "",
    ] {
        refused(line, "", "GET", code);
    }
}

#[test]
fn line_grammar_matches_requests() {
    refused(
        "HTTP/1.1 200 OK",
        "X: 1\r\n 2\r\n",
        "GET",
        "upstream_obs_fold",
    );
    refused(
        "HTTP/1.1 200 OK",
        "X : 1\r\n",
        "GET",
        "upstream_invalid_header",
    );
    refused(
        "HTTP/1.1 200 OK",
        "X: a\x00b\r\n",
        "GET",
        "upstream_invalid_header",
    );
    refused(
        "HTTP/1.1 200 OK",
        ": v\r\n",
        "GET",
        "upstream_invalid_header",
    );
    refused("HTTP/1.1 200 OK", "X: a\rb\r\n", "GET", "upstream_bare_cr");
    let raw = b"HTTP/1.1 200 OK\nContent-Length: 1\n\n";
    assert_violation(
        check_response_head(raw, b"GET"),
        "upstream_bare_lf",
        502,
        raw,
    );
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n";
    assert_violation(
        check_response_head(raw, b"GET"),
        "upstream_incomplete_head",
        502,
        raw,
    );
}

#[test]
fn content_length_must_be_single_and_numeric() {
    let dup = "upstream_duplicate_content_length";
    refused(
        "HTTP/1.1 200 OK",
        "Content-Length: 1\r\nContent-Length: 1\r\n",
        "GET",
        dup,
    );
    refused("HTTP/1.1 200 OK", "Content-Length: 1, 1\r\n", "GET", dup);
    for bad in ["+1", "0x1", "", "1 1", "99999999999999999999999"] {
        let field = format!("Content-Length: {bad}\r\n");
        refused(
            "HTTP/1.1 200 OK",
            &field,
            "GET",
            "upstream_invalid_content_length",
        );
    }
    // Validated even where the value is ignored.
    refused(
        "HTTP/1.1 304 Not Modified",
        "Content-Length: x\r\n",
        "GET",
        "upstream_invalid_content_length",
    );
}

#[test]
fn transfer_encoding_must_be_a_lone_chunked() {
    let code = "upstream_invalid_transfer_encoding";
    for v in [
        "gzip",
        "gzip, chunked",
        "chunked, chunked",
        "chunked;x=1",
        "xchunked",
        "",
    ] {
        refused(
            "HTTP/1.1 200 OK",
            &format!("Transfer-Encoding: {v}\r\n"),
            "GET",
            code,
        );
    }
    let two = "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n";
    refused("HTTP/1.1 200 OK", two, "GET", code);
    // Also on HEAD, where it frames nothing: we relay it, so it must be sane.
    refused(
        "HTTP/1.1 200 OK",
        "Transfer-Encoding: gzip\r\n",
        "HEAD",
        code,
    );
}

#[test]
fn te_with_cl_or_on_http10_or_bodiless_is_refused() {
    let both = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n";
    refused(
        "HTTP/1.1 200 OK",
        both,
        "GET",
        "upstream_content_length_with_transfer_encoding",
    );
    let te = "Transfer-Encoding: chunked\r\n";
    refused(
        "HTTP/1.0 200 OK",
        te,
        "GET",
        "upstream_transfer_encoding_http10",
    );
    for status in [
        "HTTP/1.1 204 No Content",
        "HTTP/1.1 304 Not Modified",
        "HTTP/1.1 101 Switching",
    ] {
        refused(status, te, "GET", "upstream_transfer_encoding_without_body");
    }
}

#[test]
fn body_bytes_after_the_head_are_ignored() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\n\n";
    assert_eq!(
        check_response_head(raw, b"GET"),
        Ok(ResponseFraming::ContentLength(2))
    );
}

#[test]
fn framing_of_an_already_parsed_response() {
    use gatehouse_protocol::check_response_framing;
    let none: [&[u8]; 0] = [];
    let check = |status, cl: &[&[u8]], te: &[&[u8]]| {
        check_response_framing(
            status,
            false,
            b"GET",
            cl.iter().copied(),
            te.iter().copied(),
        )
    };
    assert_eq!(
        check(200, &[b"12"], &none),
        Ok(ResponseFraming::ContentLength(12))
    );
    assert_eq!(
        check(200, &none, &[b"chunked"]),
        Ok(ResponseFraming::Chunked)
    );
    assert_eq!(check(200, &none, &none), Ok(ResponseFraming::UntilClose));
    assert_eq!(check(204, &none, &none), Ok(ResponseFraming::None));
    let code = |r: Result<ResponseFraming, gatehouse_protocol::Violation>| r.unwrap_err().code;
    assert_eq!(
        code(check(200, &[b"1", b"1"], &none)),
        "upstream_duplicate_content_length"
    );
    assert_eq!(
        code(check(200, &[b"1, 1"], &none)),
        "upstream_duplicate_content_length"
    );
    assert_eq!(
        code(check(200, &[b"-1"], &none)),
        "upstream_invalid_content_length"
    );
    assert_eq!(
        code(check(200, &[b"3"], &[b"chunked"])),
        "upstream_content_length_with_transfer_encoding"
    );
    assert_eq!(
        code(check(200, &none, &[b"gzip"])),
        "upstream_invalid_transfer_encoding"
    );
    assert_eq!(
        code(check(200, &none, &[b"chunked", b"chunked"])),
        "upstream_invalid_transfer_encoding"
    );
    assert_eq!(
        code(check(304, &none, &[b"chunked"])),
        "upstream_transfer_encoding_without_body"
    );
    let http10 = check_response_framing(
        200,
        true,
        b"GET",
        none.iter().copied(),
        [b"chunked".as_slice()].into_iter(),
    );
    assert_eq!(code(http10), "upstream_transfer_encoding_http10");
}
