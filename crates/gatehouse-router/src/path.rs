//! Request path normalisation (RFC 3986 section 6.2.2).
//!
//! Routing and upstream path building both work on the normalised form, so
//! `/api/%2e%2e/admin` cannot sneak past a `/admin` route by spelling the same
//! resource differently.

use std::borrow::Cow;
use std::fmt;

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/` (origin-form targets always do).
    MissingLeadingSlash,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A raw control byte, or `%00`, which no backend handles consistently.
    ControlCharacter,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::MissingLeadingSlash => "path must start with '/'",
            PathError::BadPercentEncoding => "'%' must be followed by two hex digits",
            PathError::ControlCharacter => "path contains a control character",
        })
    }
}

impl std::error::Error for PathError {}

/// Normalises the path part of a request target (no query string).
///
/// Decodes percent-escapes of unreserved characters only, uppercases the hex
/// digits of the others, collapses runs of `/` and then removes `.` and `..`
/// segments. Returns `Cow::Borrowed` when the input is already normal, which is
/// decided by a single scan without allocating.
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if needs_rewrite(raw.as_bytes())? {
        Ok(Cow::Owned(rewrite(raw)?))
    } else {
        Ok(Cow::Borrowed(raw))
    }
}

/// RFC 3986 unreserved characters: the only ones safe to decode.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the escape starting at `bytes[i] == b'%'`.
fn decode_escape(bytes: &[u8], i: usize) -> Result<u8, PathError> {
    let hi = bytes.get(i + 1).copied().and_then(hex_value);
    let lo = bytes.get(i + 2).copied().and_then(hex_value);
    match (hi, lo) {
        (Some(hi), Some(lo)) => match hi * 16 + lo {
            0 => Err(PathError::ControlCharacter),
            v => Ok(v),
        },
        _ => Err(PathError::BadPercentEncoding),
    }
}

/// A segment that remove_dot_segments or slash collapsing would change.
fn is_removable_segment(seg: &[u8]) -> bool {
    matches!(seg, b"" | b"." | b"..")
}

/// The fast path: validates and reports whether [`rewrite`] is needed.
fn needs_rewrite(bytes: &[u8]) -> Result<bool, PathError> {
    if bytes.first() != Some(&b'/') {
        return Err(PathError::MissingLeadingSlash);
    }
    let mut rewrite = false;
    let mut seg_start = 1;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'/' => {
                rewrite |= is_removable_segment(&bytes[seg_start..i]);
                seg_start = i + 1;
            }
            b'%' => {
                let v = decode_escape(bytes, i)?;
                rewrite |= is_unreserved(v)
                    || bytes[i + 1].is_ascii_lowercase()
                    || bytes[i + 2].is_ascii_lowercase();
                i += 3;
                continue;
            }
            b if is_control(b) => return Err(PathError::ControlCharacter),
            _ => {}
        }
        i += 1;
    }
    // An empty last segment is a trailing slash, which is kept as is.
    let last = &bytes[seg_start.min(bytes.len())..];
    Ok(rewrite || matches!(last, b"." | b".."))
}

/// The slow path: decode, then collapse slashes and resolve dot segments.
fn rewrite(raw: &str) -> Result<String, PathError> {
    let decoded = decode_unreserved(raw)?;
    let mut out = String::with_capacity(decoded.len());
    let mut segments = decoded.split('/').skip(1).peekable();
    let mut trailing_slash = false;
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        match seg {
            "" | "." => trailing_slash = last,
            ".." => {
                if let Some(pos) = out.rfind('/') {
                    out.truncate(pos);
                }
                trailing_slash = last;
            }
            _ => {
                out.push('/');
                out.push_str(seg);
                trailing_slash = false;
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

fn decode_unreserved(src: &str) -> Result<String, PathError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    // Copy runs of plain bytes as &str slices so multi-byte UTF-8 stays intact;
    // every cut is next to an ASCII '%' escape, hence on a char boundary.
    let mut run_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            out.push_str(&src[run_start..i]);
            let v = decode_escape(bytes, i)?;
            if is_unreserved(v) {
                out.push(char::from(v));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(v >> 4)]));
                out.push(char::from(HEX[usize::from(v & 0xf)]));
            }
            i += 3;
            run_start = i;
        } else if is_control(b) {
            return Err(PathError::ControlCharacter);
        } else {
            i += 1;
        }
    }
    out.push_str(&src[run_start..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> String {
        normalize_path(p).unwrap().into_owned()
    }

    fn is_borrowed(p: &str) -> bool {
        matches!(normalize_path(p), Ok(Cow::Borrowed(_)))
    }

    #[test]
    fn already_normal_paths_are_borrowed() {
        for p in [
            "/",
            "/a",
            "/a/b/",
            "/api/v1/users/42",
            "/%2F",
            "/a%20b",
            "/...",
            "/a..b/.c/..d",
            "/caf\u{e9}",
        ] {
            assert!(is_borrowed(p), "{p} should be borrowed");
            assert_eq!(norm(p), p);
        }
    }

    #[test]
    fn must_start_with_slash() {
        assert_eq!(normalize_path(""), Err(PathError::MissingLeadingSlash));
        assert_eq!(normalize_path("a/b"), Err(PathError::MissingLeadingSlash));
        assert_eq!(normalize_path("*"), Err(PathError::MissingLeadingSlash));
    }

    #[test]
    fn decodes_only_unreserved() {
        assert_eq!(norm("/%41%62%39"), "/Ab9");
        assert_eq!(norm("/%2e%2D%5f%7E"), "/.-_~");
        assert_eq!(norm("/%7euser"), "/~user");
        // Reserved and other bytes stay encoded, hex uppercased.
        assert_eq!(norm("/a%2fb"), "/a%2Fb");
        assert_eq!(norm("/%3f%23%25%c3%a9"), "/%3F%23%25%C3%A9");
        assert_eq!(norm("/%0a"), "/%0A");
    }

    #[test]
    fn decoded_escapes_are_not_decoded_twice() {
        // %25 is '%', which is reserved: "%2541" must not become "A".
        assert_eq!(norm("/%2541"), "/%2541");
        assert!(is_borrowed("/%2541"));
    }

    #[test]
    fn bad_percent_encoding() {
        for p in ["/%", "/%4", "/%zz", "/a%4g", "/%%41", "/x%"] {
            assert_eq!(normalize_path(p), Err(PathError::BadPercentEncoding), "{p}");
        }
    }

    #[test]
    fn control_characters() {
        for p in ["/%00", "/a%00b", "/a\nb", "/a\rb", "/\t", "/a\x7f", "/\0"] {
            assert_eq!(normalize_path(p), Err(PathError::ControlCharacter), "{p:?}");
        }
        // Also caught on the slow path, after a rewrite was already needed.
        assert_eq!(normalize_path("//a\n"), Err(PathError::ControlCharacter));
    }

    #[test]
    fn dot_segments() {
        assert_eq!(norm("/a/b/../c"), "/a/c");
        assert_eq!(norm("/.."), "/");
        assert_eq!(norm("/../../x"), "/x");
        assert_eq!(norm("/a/./b/."), "/a/b/");
        assert_eq!(norm("/a/b/.."), "/a/");
        assert_eq!(norm("/a/.."), "/");
        assert_eq!(norm("/."), "/");
        assert_eq!(norm("/a/b/c/./../../g"), "/a/g");
        assert_eq!(norm("/a/../../b/"), "/b/");
    }

    #[test]
    fn dot_segments_resolved_after_decoding() {
        assert_eq!(norm("/api/%2e%2e/admin"), "/admin");
        assert_eq!(norm("/api/.%2E/admin"), "/admin");
        assert_eq!(norm("/api/%2e/admin"), "/api/admin");
        // An encoded slash is data, not a separator.
        assert_eq!(norm("/api/..%2fadmin"), "/api/..%2Fadmin");
    }

    #[test]
    fn slashes_collapsed() {
        assert_eq!(norm("//a///b"), "/a/b");
        assert_eq!(norm("//"), "/");
        assert_eq!(norm("/a//"), "/a/");
        assert_eq!(norm("/a//../b"), "/b");
    }

    #[test]
    fn keeps_non_ascii_when_rewriting() {
        assert_eq!(norm("//caf\u{e9}/%41"), "/caf\u{e9}/A");
    }
}
