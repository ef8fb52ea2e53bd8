//! Byte classes and line scanning shared by request and response checks.
//!
//! Everything here works on borrowed slices and a 256-entry class table, so
//! the head is walked once without allocating.

const TCHAR: u8 = 1 << 0;
const FIELD: u8 = 1 << 1;
const PCHAR: u8 = 1 << 2;
const HOST: u8 = 1 << 3;

const fn build_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let unreserved = alnum || matches!(b, b'-' | b'.' | b'_' | b'~');
        let sub_delim = matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        );
        let mut class = 0;
        // RFC 9110 5.6.2 tchar.
        if alnum
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            class |= TCHAR;
        }
        // RFC 9110 5.5: VCHAR / obs-text / SP / HTAB.
        if b == b' ' || b == b'\t' || (b >= 0x21 && b != 0x7f) {
            class |= FIELD;
        }
        // RFC 3986 pchar minus pct-encoded (handled by the caller).
        if unreserved || sub_delim || b == b':' || b == b'@' {
            class |= PCHAR;
        }
        // reg-name minus pct-encoded and ',' (see `target::valid_authority`).
        if unreserved || (sub_delim && b != b',') {
            class |= HOST;
        }
        table[i] = class;
        i += 1;
    }
    table
}

static CLASSES: [u8; 256] = build_classes();

#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    CLASSES[usize::from(b)] & TCHAR != 0
}

#[inline]
pub(crate) fn is_field_byte(b: u8) -> bool {
    CLASSES[usize::from(b)] & FIELD != 0
}

#[inline]
pub(crate) fn is_pchar(b: u8) -> bool {
    CLASSES[usize::from(b)] & PCHAR != 0
}

#[inline]
pub(crate) fn is_host_byte(b: u8) -> bool {
    CLASSES[usize::from(b)] & HOST != 0
}

/// Position of the first byte that may not appear in a field value.
///
/// Field values (cookies, tokens, user agents) are most of a head, so they
/// are checked eight bytes at a time: a word with no byte below 0x20 and no
/// 0x7F is all VCHAR / SP / obs-text. A word that fails (HTAB, or the CR
/// ending the line) is re-checked byte by byte.
pub(crate) fn first_non_field_byte(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    loop {
        while let Some(word) = s.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let v = u64::from_le_bytes(word);
            // Classic "has byte less than n" and "has zero byte" tests;
            // exact as a yes/no answer for the whole word.
            let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
            let del = v ^ (ONES * 0x7f);
            let has_del = del.wrapping_sub(ONES) & !del & HIGH;
            if below_space | has_del != 0 {
                break;
            }
            i += 8;
        }
        let end = s.len().min(i + 8);
        while i < end {
            if !is_field_byte(*s.get(i)?) {
                return Some(i);
            }
            i += 1;
        }
        if i >= s.len() {
            return None;
        }
    }
}

/// Strips optional whitespace (SP / HTAB only, not CR or LF) on both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Why a line could not be read; callers map this to their own violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    /// The input ended before the line (or the head) did.
    Incomplete,
    /// LF without the CR before it.
    BareLf,
    /// CR not followed by LF.
    BareCr,
    /// More content bytes than the caller's limit.
    TooLong,
    /// Field line starting with SP or HTAB.
    ObsFold,
    /// Field line starting with ':'.
    EmptyName,
    /// Whitespace between field name and colon.
    SpaceBeforeColon,
    /// Non-token byte in the field name.
    InvalidName,
    /// Field line ended before any colon.
    MissingColon,
    /// Control byte (other than HTAB) in the field value.
    InvalidValue,
}

/// Splits off the start line of `rest`, which must end in CRLF and hold at
/// most `max` bytes before it. Returns the line and the bytes consumed.
pub(crate) fn start_line(rest: &[u8], max: usize) -> Result<(&[u8], usize), LineError> {
    let window = rest.get(..max.saturating_add(2)).unwrap_or(rest);
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => match lf.checked_sub(1).and_then(|cr| Some((cr, rest.get(cr)?))) {
            Some((cr, b'\r')) => Ok((rest.get(..cr).unwrap_or_default(), lf + 1)),
            _ => Err(LineError::BareLf),
        },
        None => {
            // A final CR may still be followed by its LF; it is not content.
            let content = window.strip_suffix(b"\r").unwrap_or(window);
            Err(if content.len() > max {
                LineError::TooLong
            } else {
                LineError::Incomplete
            })
        }
    }
}

/// One header field line; the value is already OWS-trimmed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) value: &'a [u8],
}

impl Field<'_> {
    /// Case-insensitive name comparison; `lower` must be lowercase.
    #[inline]
    pub(crate) fn is(&self, lower: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(lower)
    }
}

/// Reads field lines one by one until the empty line ending the head.
pub(crate) struct Fields<'a> {
    raw: &'a [u8],
    pos: usize,
    max_line: usize,
}

impl<'a> Fields<'a> {
    /// Starts reading at `pos`; a field line may hold `max_line` bytes
    /// before its CRLF.
    pub(crate) fn new(raw: &'a [u8], pos: usize, max_line: usize) -> Self {
        Fields { raw, pos, max_line }
    }

    /// Offset just past the last line read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Returns the next field, `None` after the final empty line, or the
    /// first grammar error. Each byte is looked at once.
    pub(crate) fn next_field(&mut self) -> Result<Option<Field<'a>>, LineError> {
        let rest = self.raw.get(self.pos..).unwrap_or_default();
        match rest {
            [] => return Err(LineError::Incomplete),
            [b'\r'] => return Err(LineError::Incomplete),
            [b'\r', b'\n', ..] => {
                self.pos += 2;
                return Ok(None);
            }
            [b'\r', ..] => return Err(LineError::BareCr),
            [b'\n', ..] => return Err(LineError::BareLf),
            [b' ' | b'\t', ..] => return Err(LineError::ObsFold),
            [b':', ..] => return Err(LineError::EmptyName),
            _ => {}
        }
        // The window holds the allowed content plus the byte that must be CR.
        let window = rest.get(..self.max_line.saturating_add(1)).unwrap_or(rest);
        // Only called when the window holds no CR or LF: all of it is content.
        let exhausted = || {
            if window.len() > self.max_line {
                LineError::TooLong
            } else {
                LineError::Incomplete
            }
        };

        let Some(colon) = window.iter().position(|&b| !is_tchar(b)) else {
            return Err(exhausted());
        };
        match window.get(colon) {
            Some(b':') => {}
            Some(b' ' | b'\t') => return Err(LineError::SpaceBeforeColon),
            Some(b'\r' | b'\n') => return Err(LineError::MissingColon),
            _ => return Err(LineError::InvalidName),
        }
        let value_start = colon + 1;
        let after_colon = window.get(value_start..).unwrap_or_default();
        let Some(value_len) = first_non_field_byte(after_colon) else {
            return Err(exhausted());
        };
        let end = value_start + value_len;
        match (window.get(end), rest.get(end + 1)) {
            (Some(b'\r'), Some(b'\n')) => {}
            (Some(b'\r'), None) => return Err(LineError::Incomplete),
            (Some(b'\r'), Some(_)) => return Err(LineError::BareCr),
            (Some(b'\n'), _) => return Err(LineError::BareLf),
            _ => return Err(LineError::InvalidValue),
        }
        let field = Field {
            name: window.get(..colon).unwrap_or_default(),
            value: trim_ows(window.get(value_start..end).unwrap_or_default()),
        };
        self.pos += end + 2;
        Ok(Some(field))
    }
}

/// Iterates the comma-separated elements of a list value, OWS-trimmed.
/// Empty elements are yielded too so callers can decide about them.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_rfc_sets() {
        assert!(is_tchar(b'!') && is_tchar(b'~') && is_tchar(b'Z'));
        assert!(!is_tchar(b':') && !is_tchar(b' ') && !is_tchar(b'"') && !is_tchar(0x80));
        assert!(is_field_byte(b'\t') && is_field_byte(0xff) && is_field_byte(b'~'));
        assert!(!is_field_byte(0) && !is_field_byte(b'\r') && !is_field_byte(0x7f));
        assert!(is_pchar(b'@') && is_pchar(b':') && !is_pchar(b'/') && !is_pchar(b'%'));
        assert!(is_host_byte(b'-') && !is_host_byte(b',') && !is_host_byte(b'@'));
    }

    #[test]
    fn word_scan_agrees_with_byte_scan() {
        let mut buf = *b"abcdefgh\tijklmno pqrstuvwxyz0123456789\x80\xff~!";
        let bytewise = |s: &[u8]| s.iter().position(|&b| !is_field_byte(b));
        assert_eq!(first_non_field_byte(&buf), None);
        for i in 0..buf.len() {
            for bad in [0u8, 0x08, 0x0a, 0x0d, 0x1f, 0x7f] {
                let keep = buf[i];
                buf[i] = bad;
                for start in 0..=i {
                    let s = &buf[start..];
                    assert_eq!(first_non_field_byte(s), bytewise(s), "{i} {bad} {start}");
                }
                buf[i] = keep;
            }
        }
    }

    #[test]
    fn trim_ows_keeps_inner_space_and_crlf() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"\ra\n"), b"\ra\n");
        assert_eq!(trim_ows(b"  "), b"");
    }

    #[test]
    fn start_line_limits() {
        assert_eq!(start_line(b"abc\r\nx", 3), Ok((&b"abc"[..], 5)));
        assert_eq!(start_line(b"abcd\r\nx", 3), Err(LineError::TooLong));
        assert_eq!(start_line(b"abcd", 3), Err(LineError::TooLong));
        assert_eq!(start_line(b"abc", 3), Err(LineError::Incomplete));
        assert_eq!(start_line(b"abc\r", 3), Err(LineError::Incomplete));
        assert_eq!(start_line(b"abc\n", 3), Err(LineError::BareLf));
        assert_eq!(start_line(b"\n", 3), Err(LineError::BareLf));
    }

    #[test]
    fn field_scanner_reads_until_empty_line() {
        let raw = b"A: 1 \r\nb-c:\t x y\r\n\r\nbody";
        let mut f = Fields::new(raw, 0, 100);
        let a = f.next_field().unwrap().unwrap();
        assert_eq!((a.name, a.value), (&b"A"[..], &b"1"[..]));
        let b = f.next_field().unwrap().unwrap();
        assert_eq!((b.name, b.value), (&b"b-c"[..], &b"x y"[..]));
        assert!(f.next_field().unwrap().is_none());
        assert_eq!(f.pos(), raw.len() - 4);
    }

    #[test]
    fn field_line_limit_counts_bytes_before_crlf() {
        assert!(Fields::new(b"ab:cd\r\n", 0, 5).next_field().is_ok());
        let err = Fields::new(b"ab:cde\r\n", 0, 5).next_field();
        assert_eq!(err.unwrap_err(), LineError::TooLong);
        let err = Fields::new(b"abcdef", 0, 5).next_field();
        assert_eq!(err.unwrap_err(), LineError::TooLong);
        let err = Fields::new(b"ab:c", 0, 5).next_field();
        assert_eq!(err.unwrap_err(), LineError::Incomplete);
    }
}
