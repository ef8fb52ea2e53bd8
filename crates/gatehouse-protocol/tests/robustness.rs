//! Property-style tests: truncated, mutated and random heads never panic,
//! only produce listed codes, and anything accepted is really well-formed.

use gatehouse_protocol::{check_request_head, check_response_head, Limits, Violation, CODES};

const REQUESTS: &[&[u8]] = &[
    b"GET /a?b=c HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n",
    b"\r\nPOST /u HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    b"POST / HTTP/1.1\r\nhost: a\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\n\r\n",
    b"GET http://a.example:80/x%20y HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
    b"OPTIONS * HTTP/1.0\r\n\r\n",
    b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
];

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n",
    b"HTTP/1.0 304\r\n\r\n",
];

/// Bytes that sit on grammar boundaries.
const ALPHABET: &[u8] = b"\r\n \t:,;=\"\\/?#%@[]*0a9Z\x00\x7f\x80\xff";

fn limit_sets() -> [Limits; 3] {
    let tiny = Limits {
        max_request_line: 12,
        max_header_line: 6,
        max_header_section: 20,
        max_headers: 2,
        allow_connect: false,
    };
    let zero = Limits {
        max_request_line: 0,
        max_header_line: 0,
        max_header_section: 0,
        max_headers: 0,
        allow_connect: true,
    };
    let allow = Limits {
        allow_connect: true,
        ..Limits::default()
    };
    [allow, tiny, zero]
}

/// Checks one input against every limit set and the response checker.
fn exercise(raw: &[u8]) {
    for limits in limit_sets() {
        match check_request_head(raw, &limits) {
            Ok(_) => assert_well_formed(raw),
            Err(v) => assert_listed(v, raw),
        }
    }
    for method in [&b"GET"[..], b"HEAD", b"CONNECT"] {
        match check_response_head(raw, method) {
            Ok(_) => assert_well_formed(raw),
            Err(v) => {
                assert_listed(v, raw);
                assert_eq!(v.status, 502);
            }
        }
    }
}

fn assert_listed(v: Violation, raw: &[u8]) {
    assert!(
        CODES.contains(&v.code),
        "{} not in CODES for {}",
        v.code,
        raw.escape_ascii()
    );
}

/// An accepted head ends in CRLF CRLF, and before that has no bare LF, no
/// bare CR and no NUL.
fn assert_well_formed(raw: &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("accepted without end: {}", raw.escape_ascii()))
        + 4;
    let head = &raw[..end];
    for (i, &b) in head.iter().enumerate() {
        let ok = match b {
            b'\n' => i > 0 && head[i - 1] == b'\r',
            b'\r' => head.get(i + 1) == Some(&b'\n'),
            0 => false,
            _ => true,
        };
        assert!(
            ok,
            "accepted bad byte {b:#x} at {i}: {}",
            raw.escape_ascii()
        );
    }
}

#[test]
fn seeds_are_accepted() {
    let allow = &limit_sets()[0];
    for seed in REQUESTS {
        assert!(
            check_request_head(seed, allow).is_ok(),
            "{}",
            seed.escape_ascii()
        );
    }
    for seed in RESPONSES {
        assert!(
            check_response_head(seed, b"GET").is_ok(),
            "{}",
            seed.escape_ascii()
        );
    }
}

#[test]
fn every_prefix_of_a_valid_head_is_incomplete() {
    let allow = &limit_sets()[0];
    for seed in REQUESTS {
        for len in 0..seed.len() {
            let v = check_request_head(&seed[..len], allow).unwrap_err();
            assert_eq!(v.code, "incomplete_head", "{}", seed[..len].escape_ascii());
            exercise(&seed[..len]);
        }
    }
    for seed in RESPONSES {
        for len in 0..seed.len() {
            let v = check_response_head(&seed[..len], b"GET").unwrap_err();
            assert_eq!(
                v.code,
                "upstream_incomplete_head",
                "{}",
                seed[..len].escape_ascii()
            );
        }
    }
}

#[test]
fn single_byte_mutations_never_panic() {
    for seed in REQUESTS.iter().chain(RESPONSES) {
        for i in 0..seed.len() {
            for &b in ALPHABET {
                let mut replaced = seed.to_vec();
                replaced[i] = b;
                exercise(&replaced);
                let mut inserted = seed.to_vec();
                inserted.insert(i, b);
                exercise(&inserted);
            }
            let mut removed = seed.to_vec();
            removed.remove(i);
            exercise(&removed);
        }
    }
}

#[test]
fn random_token_soup_never_panics() {
    const PIECES: &[&[u8]] = &[
        b"GET",
        b"POST",
        b"CONNECT",
        b"OPTIONS",
        b"HEAD",
        b" ",
        b"  ",
        b"/",
        b"*",
        b"http://",
        b"a.example",
        b"[::1]",
        b":",
        b"443",
        b"99999",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/2.0",
        b"200",
        b"204",
        b"OK",
        b"\r\n",
        b"\r\n\r\n",
        b"\n",
        b"\r",
        b"\t",
        b"Host",
        b"Content-Length",
        b"Transfer-Encoding",
        b"Upgrade",
        b"Expect",
        b"chunked",
        b"gzip",
        b",",
        b";",
        b"=",
        b"\"",
        b"\\",
        b"%",
        b"%4",
        b"#",
        b"?",
        b"@",
        b"\x00",
        b"\xc3\xa9",
        b"0",
        b"12",
        b"h2c",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut raw = Vec::with_capacity(256);
    for _ in 0..20_000 {
        raw.clear();
        if next() % 2 == 0 {
            raw.extend_from_slice(b"GET / HTTP/1.1\r\n");
        }
        for _ in 0..(next() % 24) {
            raw.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        if next() % 2 == 0 {
            raw.extend_from_slice(b"\r\n\r\n");
        }
        exercise(&raw);
    }
}
