//! `@detectSQLi`.

/// The token fingerprint of `input` when it reads as SQL injection.
pub fn detect(_input: &[u8]) -> Option<String> {
    None
}
