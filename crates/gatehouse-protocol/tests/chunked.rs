//! Chunked body boundaries: where the body ends, and which forms are refused.

use gatehouse_protocol::ChunkedBody;

/// Scans `wire` whole and one byte at a time; both must agree.
fn scan(wire: &[u8]) -> Result<(usize, bool), &'static str> {
    let mut whole = ChunkedBody::new(64);
    let whole_result = whole.scan(wire).map_err(|v| v.code);
    let mut bytewise = ChunkedBody::new(64);
    let mut used = 0;
    let mut bytewise_result = Ok(0);
    for b in wire {
        match bytewise.scan(std::slice::from_ref(b)) {
            Ok(n) => used += n,
            Err(v) => {
                bytewise_result = Err(v.code);
                break;
            }
        }
        bytewise_result = Ok(used);
    }
    assert_eq!(
        whole_result, bytewise_result,
        "whole vs bytewise for {wire:?}"
    );
    assert_eq!(whole.is_done(), bytewise.is_done());
    whole_result.map(|n| (n, whole.is_done()))
}

#[test]
fn body_ends_after_last_chunk_and_trailers() {
    let body = b"5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(scan(body), Ok((body.len(), true)));
    let mut next = body.to_vec();
    next.extend_from_slice(b"GET /hidden HTTP/1.1\r\n\r\n");
    assert_eq!(scan(&next), Ok((body.len(), true)));

    let trailers = b"3;a=b;c=\"d e\"\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nY:\r\n\r\n";
    assert_eq!(scan(trailers), Ok((trailers.len(), true)));
    assert_eq!(scan(b"0\r\n\r\n"), Ok((5, true)));
    assert_eq!(scan(b"000\r\n\r\n"), Ok((7, true)));
}

#[test]
fn incomplete_bodies_consume_everything_and_wait() {
    assert_eq!(scan(b"5\r\nhel"), Ok((6, false)));
    assert_eq!(scan(b"5\r\nhello\r\n0\r\n"), Ok((13, false)));
    assert_eq!(scan(b"FFFFFFFFFFFFFFFF\r\nabc"), Ok((21, false)));
}

#[test]
fn chunk_sizes_must_be_plain_hex() {
    for bad in [
        &b"0x5\r\nhello\r\n0\r\n\r\n"[..],
        b"-1\r\n",
        b" 5\r\nhello\r\n",
        b"+5\r\nhello\r\n",
        b"\r\n",
        b"5 \r\nhello\r\n",
        b"5 x\r\n",
        b"10000000000000000\r\n",
        b"5\r\nhello\r\nq\r\n",
    ] {
        assert_eq!(scan(bad), Err("invalid_chunk_size"), "{bad:?}");
    }
    // Whitespace before an extension is BWS and allowed.
    assert_eq!(scan(b"1 ;x\r\na\r\n0\r\n\r\n"), Ok((14, true)));
}

#[test]
fn chunk_lines_and_data_end_in_crlf() {
    for bad in [
        &b"5\nhello\r\n0\r\n\r\n"[..],
        b"5\rhello",
        b"5\r\nhelloX\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\r\r",
        b"0\r\n\rX",
        b"0\r\n\r\r",
    ] {
        assert_eq!(scan(bad), Err("invalid_chunk_delimiter"), "{bad:?}");
    }
}

#[test]
fn extensions_hold_no_control_bytes_and_are_bounded() {
    assert_eq!(scan(b"1;a\0b\r\n"), Err("invalid_chunk_extension"));
    assert_eq!(scan(b"1;a\nb\r\n"), Err("invalid_chunk_delimiter"));
    let mut long = b"1;".to_vec();
    long.extend(std::iter::repeat_n(b'a', 4096));
    long.extend_from_slice(b"\r\n");
    assert_eq!(scan(&long), Err("invalid_chunk_extension"));
}

#[test]
fn trailers_are_field_lines_and_bounded() {
    for bad in [
        &b"0\r\n X: 1\r\n\r\n"[..],
        b"0\r\nX : 1\r\n\r\n",
        b"0\r\nX\r\n\r\n",
        b"0\r\nX: a\0b\r\n\r\n",
        b"0\r\nX: 1\nY: 2\r\n\r\n",
        b"0\r\n:v\r\n\r\n",
    ] {
        assert_eq!(scan(bad), Err("invalid_trailer"), "{bad:?}");
    }
    let mut big = b"0\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'v', 64));
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(scan(&big), Err("trailer_too_large"));
}
