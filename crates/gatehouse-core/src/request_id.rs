use std::fmt::Write;

/// Header carrying the request id in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A fresh request id: 128 random bits as 32 lowercase hex characters.
pub fn generate_request_id() -> String {
    let n: u128 = rand::random();
    let mut s = String::with_capacity(32);
    // Writing to a String cannot fail.
    let _ = write!(s, "{n:032x}");
    s
}

/// Whether an incoming id (from a trusted proxy) may be reused as is.
///
/// Ids end up in logs, headers and JSON bodies, so only short, visible,
/// unambiguous ASCII is accepted; anything else is replaced.
pub fn is_acceptable_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'+' | b'/' | b'=')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_hex_and_distinct() {
        let a = generate_request_id();
        let b = generate_request_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn acceptable_ids() {
        assert!(is_acceptable_request_id(b"3f2a-11ee_b.c"));
        assert!(is_acceptable_request_id(b"abc/def=+:"));
        assert!(!is_acceptable_request_id(b""));
        assert!(!is_acceptable_request_id(b"has space"));
        assert!(!is_acceptable_request_id(b"quote\""));
        assert!(!is_acceptable_request_id(b"new\nline"));
        assert!(!is_acceptable_request_id(&[b'a'; 129]));
        assert!(is_acceptable_request_id(&[b'a'; 128]));
    }
}
