//! Content-Length and Transfer-Encoding value checks (RFC 9112 6).
//!
//! The checks answer with small enums so requests (400/501) and upstream
//! responses (502) can map them to their own violations.

use crate::lex::{is_field_byte, is_tchar};

/// Why a Content-Length value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LengthError {
    /// A comma list such as `1, 1`: several lengths in one line.
    List,
    /// Empty, non-digit, or larger than `u64::MAX`.
    Invalid,
}

/// Parses an OWS-trimmed Content-Length value as `1*DIGIT`.
pub(crate) fn content_length(value: &[u8]) -> Result<u64, LengthError> {
    if value.contains(&b',') {
        return Err(LengthError::List);
    }
    if value.is_empty() {
        return Err(LengthError::Invalid);
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(LengthError::Invalid);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(LengthError::Invalid)
    })
}

/// Why a Transfer-Encoding value is not exactly `chunked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodingError {
    /// Not a valid `transfer-coding` list: empty element, non-token,
    /// broken parameter.
    Malformed,
    /// `chunked` followed by another coding (or by itself again): the
    /// body length cannot be determined (RFC 9112 6.3, MUST 400).
    ChunkedNotLast,
    /// Well-formed but uses a coding or parameter we do not relay
    /// (gzip, identity, unknown tokens, `chunked;x=y`).
    Unsupported,
}

/// Accepts exactly one coding, `chunked` (case-insensitive, no parameters).
///
/// Order matters and is deliberate: a malformed list is a client error
/// whatever it contains; `chunked` anywhere but last is the RFC's mandatory
/// 400; only a well-formed list we merely do not implement becomes 501.
pub(crate) fn transfer_coding(value: &[u8]) -> Result<(), CodingError> {
    let mut cursor = Cursor { s: value, i: 0 };
    let mut elements = 0usize;
    let mut chunked_at = None;
    let mut params = false;
    loop {
        cursor.skip_ows();
        let name = cursor.token();
        if name.is_empty() {
            return Err(CodingError::Malformed);
        }
        if chunked_at.is_some() {
            return Err(CodingError::ChunkedNotLast);
        }
        if name.eq_ignore_ascii_case(b"chunked") {
            chunked_at = Some(elements);
        }
        elements += 1;
        // *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) )
        loop {
            cursor.skip_ows();
            if !cursor.eat(b';') {
                break;
            }
            cursor.skip_ows();
            if cursor.token().is_empty() {
                return Err(CodingError::Malformed);
            }
            cursor.skip_ows();
            if !cursor.eat(b'=') {
                return Err(CodingError::Malformed);
            }
            cursor.skip_ows();
            if cursor.token().is_empty() && !cursor.quoted_string() {
                return Err(CodingError::Malformed);
            }
            params = true;
        }
        match cursor.peek() {
            None => break,
            Some(b',') => cursor.i += 1,
            Some(_) => return Err(CodingError::Malformed),
        }
    }
    if elements == 1 && chunked_at == Some(0) && !params {
        Ok(())
    } else {
        Err(CodingError::Unsupported)
    }
}

/// A forward-only reader over a header value.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, want: u8) -> bool {
        let hit = self.peek() == Some(want);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or_default()
    }

    /// Consumes a `quoted-string` (RFC 9110 5.6.4); false if there is none
    /// or it is unterminated.
    fn quoted_string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return true;
                }
                Some(b'\\') => {
                    self.i += 1;
                    if !self.peek().is_some_and(is_field_byte) {
                        return false;
                    }
                    self.i += 1;
                }
                Some(b) if is_field_byte(b) => self.i += 1,
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_plain_digits() {
        assert_eq!(content_length(b"0"), Ok(0));
        assert_eq!(content_length(b"007"), Ok(7));
        assert_eq!(content_length(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            content_length(b"18446744073709551616"),
            Err(LengthError::Invalid)
        );
        for bad in [&b""[..], b"+5", b"-1", b"0x10", b"1 2", b"1.0", b"five"] {
            assert_eq!(content_length(bad), Err(LengthError::Invalid), "{bad:?}");
        }
        assert_eq!(content_length(b"1, 1"), Err(LengthError::List));
        assert_eq!(content_length(b"1,"), Err(LengthError::List));
    }

    #[test]
    fn only_bare_chunked_is_accepted() {
        assert_eq!(transfer_coding(b"chunked"), Ok(()));
        assert_eq!(transfer_coding(b"ChUnKeD"), Ok(()));
    }

    #[test]
    fn coding_classification() {
        use CodingError::*;
        let cases: &[(&[u8], CodingError)] = &[
            (b"", Malformed),
            (b",chunked", Malformed),
            (b"chunked,", Malformed),
            (b"chunked,,", Malformed),
            (b"chunked;foo", Malformed),
            (b"chunked;=1", Malformed),
            (b"chunked;a=\"x", Malformed),
            (b"chunked x", Malformed),
            (b"\"chunked\"", Malformed),
            (b"chunked, gzip", ChunkedNotLast),
            (b"chunked, chunked", ChunkedNotLast),
            (b"chunked;a=b, gzip", ChunkedNotLast),
            (b"gzip", Unsupported),
            (b"identity", Unsupported),
            (b"xchunked", Unsupported),
            (b"gzip, chunked", Unsupported),
            (b"gzip ;q=\"a,\\\"b\" , chunked", Unsupported),
            (b"chunked;foo=bar", Unsupported),
            (b"chunked ; foo = \"bar\"", Unsupported),
        ];
        for (value, want) in cases {
            assert_eq!(
                transfer_coding(value),
                Err(*want),
                "{}",
                value.escape_ascii()
            );
        }
    }
}
