//! `@validateByteRange`, `@validateUrlEncoding`, `@validateUtf8Encoding`:
//! each matches when the value is NOT valid.

use super::CompileError;
use std::fmt;

/// The allowed bytes of a `@validateByteRange`.
#[derive(Clone)]
pub struct ByteRange {
    allowed: Box<[bool; 256]>,
    source: String,
}

impl fmt::Debug for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ByteRange").field(&self.source).finish()
    }
}

impl ByteRange {
    /// `1-255`, `9,10,13,32-126`: comma-separated values and ranges.
    /// ModSecurity logs bad items and goes on; refusing them is clearer.
    pub(crate) fn compile(argument: &str) -> Result<ByteRange, CompileError> {
        let err = |msg: String| CompileError(format!("`@validateByteRange`: {msg}"));
        let mut allowed = Box::new([false; 256]);
        for item in argument.split(',') {
            let item = item.trim();
            let (lo, hi) = match item.split_once('-') {
                Some((lo, hi)) => (byte(lo).map_err(err)?, byte(hi).map_err(err)?),
                None => {
                    let b = byte(item).map_err(err)?;
                    (b, b)
                }
            };
            if lo > hi {
                return Err(err(format!("range `{item}` is out of order")));
            }
            allowed[usize::from(lo)..=usize::from(hi)].fill(true);
        }
        Ok(ByteRange {
            allowed,
            source: argument.to_string(),
        })
    }

    pub(crate) fn matches(&self, value: &[u8]) -> bool {
        value.iter().any(|&b| !self.allowed[usize::from(b)])
    }
}

fn byte(text: &str) -> Result<u8, String> {
    let text = text.trim();
    text.parse::<u8>().map_err(|_| {
        if text.is_empty() {
            "empty byte value".to_string()
        } else {
            format!("`{text}` is not a byte value (0-255)")
        }
    })
}

/// A `%` not followed by two hex digits. An empty value is valid.
pub(crate) fn invalid_url_encoding(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        if value[i] != b'%' {
            i += 1;
            continue;
        }
        match value.get(i + 1..i + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
            _ => return true,
        }
    }
    false
}

/// Not well-formed UTF-8: truncated or invalid sequences, overlong forms
/// (`C0 AF`), surrogates (`ED A0 80`). Stricter than ModSecurity only for
/// `F4 90..` (above U+10FFFF), which it lets through.
pub(crate) fn invalid_utf8(value: &[u8]) -> bool {
    std::str::from_utf8(value).is_err()
}
