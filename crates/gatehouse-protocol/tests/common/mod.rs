//! Helpers shared by the integration tests.
#![allow(dead_code)]

use gatehouse_protocol::{check_request_head, Limits, RequestHead, Violation, CODES};

/// Checks `head` with the default limits.
pub fn check(head: &[u8]) -> Result<RequestHead<'_>, Violation> {
    check_request_head(head, &Limits::default())
}

/// Asserts `head` passes and returns the parsed head.
#[track_caller]
pub fn accepts(head: &[u8]) -> RequestHead<'_> {
    match check(head) {
        Ok(parsed) => parsed,
        Err(v) => panic!("rejected {}: {v}", head.escape_ascii()),
    }
}

/// Asserts `head` is refused with exactly this code and status.
#[track_caller]
pub fn rejects(head: &[u8], code: &str, status: u16) {
    assert_violation(check(head), code, status, head);
}

#[track_caller]
pub fn assert_violation<T: std::fmt::Debug>(
    result: Result<T, Violation>,
    code: &str,
    status: u16,
    input: &[u8],
) {
    match result {
        Ok(ok) => panic!("accepted {}: {ok:?}", input.escape_ascii()),
        Err(v) => {
            assert_eq!(
                (v.code, v.status),
                (code, status),
                "for {}",
                input.escape_ascii()
            );
            assert!(CODES.contains(&v.code), "{} missing from CODES", v.code);
        }
    }
}

/// A GET head with `Host: a.example` and the given extra field lines.
pub fn get_with(fields: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: a.example\r\n{fields}\r\n").into_bytes()
}
