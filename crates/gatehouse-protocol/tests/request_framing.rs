//! Content-Length / Transfer-Encoding rules: where smuggling happens.

mod common;

use common::{accepts, get_with, rejects};
use gatehouse_protocol::Framing;

fn post_with(fields: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: a.example\r\n{fields}\r\n").into_bytes()
}

#[test]
fn content_length_frames_the_body() {
    assert_eq!(
        accepts(&post_with("Content-Length: 5\r\n")).framing,
        Framing::ContentLength(5)
    );
    assert_eq!(
        accepts(&post_with("Content-Length: 0\r\n")).framing,
        Framing::ContentLength(0)
    );
    assert_eq!(
        accepts(&post_with("Content-Length:  42 \t\r\n")).framing,
        Framing::ContentLength(42)
    );
    assert_eq!(
        accepts(&post_with("Content-Length: 18446744073709551615\r\n")).framing,
        Framing::ContentLength(u64::MAX)
    );
    assert_eq!(accepts(&get_with("")).framing, Framing::None);
}

#[test]
fn repeated_content_length_is_refused_even_when_equal() {
    let code = "duplicate_content_length";
    rejects(
        &post_with("Content-Length: 1\r\nContent-Length: 1\r\n"),
        code,
        400,
    );
    rejects(
        &post_with("Content-Length: 1\r\ncontent-length: 2\r\n"),
        code,
        400,
    );
    rejects(&post_with("Content-Length: 1, 1\r\n"), code, 400);
    rejects(&post_with("Content-Length: 1,2\r\n"), code, 400);
    rejects(&post_with("Content-Length: ,1\r\n"), code, 400);
}

#[test]
fn content_length_must_be_plain_digits() {
    for bad in [
        "+5",
        "-5",
        "0x10",
        "1 0",
        "",
        "5a",
        "1e3",
        "\"5\"",
        "99999999999999999999999",
    ] {
        let raw = post_with(&format!("Content-Length: {bad}\r\n"));
        rejects(&raw, "invalid_content_length", 400);
    }
}

#[test]
fn chunked_frames_the_body() {
    let te = |v: &str| accepts(&post_with(&format!("Transfer-Encoding: {v}\r\n"))).framing;
    assert_eq!(te("chunked"), Framing::Chunked);
    assert_eq!(te("CHUNKED"), Framing::Chunked);
    // Trailing SP / HTAB are OWS, not part of the value.
    assert_eq!(te("chunked "), Framing::Chunked);
    assert_eq!(te("chunked\t"), Framing::Chunked);
    assert_eq!(te(" \tchunked"), Framing::Chunked);
}

#[test]
fn cl_te_smuggling_head_is_refused() {
    // Front end uses CL, back end TE (or vice versa): both lines present.
    let code = "content_length_with_transfer_encoding";
    rejects(
        &post_with("Content-Length: 13\r\nTransfer-Encoding: chunked\r\n"),
        code,
        400,
    );
    rejects(
        &post_with("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"),
        code,
        400,
    );
    rejects(
        &post_with("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"),
        code,
        400,
    );
}

#[test]
fn te_obfuscations_are_refused() {
    rejects(
        &post_with("Transfer-Encoding : chunked\r\n"),
        "space_before_colon",
        400,
    );
    rejects(
        &post_with("Transfer-Encoding: xchunked\r\n"),
        "unsupported_transfer_coding",
        501,
    );
    rejects(
        &post_with("Transfer-Encoding:\x0bchunked\r\n"),
        "invalid_header_value",
        400,
    );
    rejects(
        &post_with("Transfer-Encoding: chunked\r\n Content-Length: 4\r\n"),
        "obs_fold",
        400,
    );
    rejects(
        &post_with("Transfer-Encoding\r\n: chunked\r\n"),
        "missing_colon",
        400,
    );
    rejects(
        &post_with("Transfer-Encoding: \"chunked\"\r\n"),
        "invalid_transfer_encoding",
        400,
    );
}

/// Only the exact name is Transfer-Encoding to us; a look-alike is an
/// ordinary field and CL framing stands (an upstream that folds '_' into
/// '-' would disagree, which is the gateway's call to strip).
#[test]
fn look_alike_te_names_are_ordinary_fields() {
    for name in [
        "Transfer_Encoding",
        "Transfer-Encodings",
        "XTransfer-Encoding",
    ] {
        let raw = post_with(&format!("{name}: chunked\r\nContent-Length: 4\r\n"));
        assert_eq!(accepts(&raw).framing, Framing::ContentLength(4), "{name}");
    }
}

#[test]
fn two_transfer_encoding_lines_are_refused() {
    let code = "duplicate_transfer_encoding";
    rejects(
        &post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        code,
        400,
    );
    rejects(
        &post_with("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
        code,
        400,
    );
}

#[test]
fn unsupported_codings_are_501() {
    for v in [
        "gzip",
        "identity",
        "deflate",
        "compress",
        "gzip, chunked",
        "chunked;foo=bar",
    ] {
        let raw = post_with(&format!("Transfer-Encoding: {v}\r\n"));
        rejects(&raw, "unsupported_transfer_coding", 501);
    }
}

#[test]
fn chunked_not_last_is_400() {
    for v in ["chunked, gzip", "chunked, chunked", "chunked,identity"] {
        let raw = post_with(&format!("Transfer-Encoding: {v}\r\n"));
        rejects(&raw, "chunked_not_last", 400);
    }
}

#[test]
fn malformed_coding_lists_are_400() {
    for v in [
        "",
        "chunked;foo",
        ",chunked",
        "chunked,",
        "chunked, ,",
        "chunked gzip",
        "chunked;a=\"b",
    ] {
        let raw = post_with(&format!("Transfer-Encoding: {v}\r\n"));
        rejects(&raw, "invalid_transfer_encoding", 400);
    }
}

#[test]
fn transfer_encoding_on_http10_is_refused() {
    let raw = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    rejects(raw, "transfer_encoding_http10", 400);
    let raw = b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(accepts(raw).framing, Framing::ContentLength(3));
}
