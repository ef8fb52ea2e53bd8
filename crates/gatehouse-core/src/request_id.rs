/// Header carrying the request id in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A fresh request id: 128 random bits as 32 lowercase hex digits, written
/// into a fixed buffer (this runs on every request; `format!` costs more
/// than the rest of it).
pub fn generate_request_id() -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n: u128 = rand::random();
    let mut text = [0u8; 32];
    for (i, digit) in text.iter_mut().enumerate() {
        *digit = HEX[(n >> (124 - 4 * i)) as usize & 0xf];
    }
    text
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
        assert!(a.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert!(is_acceptable_request_id(&a));
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
