//! Streaming decoders for attribute values: browsers decode character
//! references before reading a URL scheme or a style, so the checks must
//! too. Both work byte by byte without allocating; anything outside ASCII
//! becomes 0x80, which matches no pattern.

/// Stand-in for a decoded character outside ASCII.
pub const NON_ASCII: u8 = 0x80;

/// Named references worth knowing for scheme and CSS checks; every other
/// name stays literal. Matched ignoring case and with or without `;`.
const NAMED: &[(&[u8], u8)] = &[
    (b"tab", b'\t'),
    (b"newline", b'\n'),
    (b"colon", b':'),
    (b"lpar", b'('),
    (b"rpar", b')'),
    (b"sol", b'/'),
    (b"bsol", b'\\'),
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"quot", b'"'),
    (b"apos", b'\''),
    (b"amp", b'&'),
    (b"num", b'#'),
    (b"period", b'.'),
    (b"comma", b','),
    (b"semi", b';'),
    (b"excl", b'!'),
    (b"equals", b'='),
    (b"grave", b'`'),
    (b"nbsp", b' '),
];

/// Decodes the character reference at the start of `s` (which begins with
/// `&`): the byte it stands for and how many input bytes it took.
pub fn entity(s: &[u8]) -> Option<(u8, usize)> {
    let body = s.get(1..)?;
    if body.first() == Some(&b'#') {
        let (hex, digits_at) = match body.get(1) {
            Some(b'x' | b'X') => (true, 2),
            _ => (false, 1),
        };
        let radix = if hex { 16 } else { 10 };
        let digits = body
            .get(digits_at..)?
            .iter()
            .take_while(|&&b| (b as char).is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        let mut value: u32 = 0;
        for &b in &body[digits_at..digits_at + digits] {
            let d = (b as char).to_digit(radix).unwrap_or(0);
            value = value.saturating_mul(radix).saturating_add(d);
        }
        let mut len = 1 + digits_at + digits;
        if body.get(digits_at + digits) == Some(&b';') {
            len += 1;
        }
        let byte = match u8::try_from(value) {
            Ok(b) if b.is_ascii() && b != 0 => b,
            _ => NON_ASCII,
        };
        return Some((byte, len));
    }
    let letters = body
        .iter()
        .take(8)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let name = &body[..letters];
    let &(_, byte) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    let semi = usize::from(body.get(letters) == Some(&b';'));
    Some((byte, 1 + letters + semi))
}

/// An attribute value with character references decoded.
pub struct Entities<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Entities<'a> {
    pub fn new(s: &'a [u8]) -> Entities<'a> {
        Entities { s, i: 0 }
    }
}

impl Iterator for Entities<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let rest = self.s.get(self.i..)?;
        let &b = rest.first()?;
        if b == b'&' {
            if let Some((c, len)) = entity(rest) {
                self.i += len;
                return Some(c);
            }
        }
        self.i += 1;
        Some(b)
    }
}

/// A style value as the CSS parser would see its identifiers: references
/// and CSS escapes decoded, comments, whitespace, quotes and NULs dropped,
/// letters lowercased. `u r l ( ' j a v a s c r i p t :` reads
/// `url(javascript:`.
pub struct Css<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Css<'a> {
    pub fn new(s: &'a [u8]) -> Css<'a> {
        Css { s, i: 0 }
    }

    /// A CSS escape after `\` at `self.i`: up to six hex digits and one
    /// optional whitespace, or any other byte taken literally.
    fn escape(&mut self) -> Option<u8> {
        let rest = self.s.get(self.i + 1..)?;
        let digits = rest
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits == 0 {
            self.i += 2;
            return rest.first().copied();
        }
        let mut value: u32 = 0;
        for &b in &rest[..digits] {
            value = value * 16 + (b as char).to_digit(16).unwrap_or(0);
        }
        self.i += 1 + digits;
        if self.s.get(self.i).is_some_and(|&b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
        Some(match u8::try_from(value) {
            Ok(b) if b.is_ascii() && b != 0 => b,
            _ => NON_ASCII,
        })
    }
}

impl Iterator for Css<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        loop {
            let rest = self.s.get(self.i..)?;
            let &b = rest.first()?;
            let c = match b {
                b'&' => match entity(rest) {
                    Some((c, len)) => {
                        self.i += len;
                        c
                    }
                    None => {
                        self.i += 1;
                        b
                    }
                },
                b'\\' => self.escape()?,
                b'/' if rest.get(1) == Some(&b'*') => {
                    let end = super::tokenizer::find(&rest[2..], b"*/");
                    match end {
                        Some(e) => self.i += e + 4,
                        None => self.i = self.s.len(),
                    }
                    continue;
                }
                _ => {
                    self.i += 1;
                    b
                }
            };
            if c <= b' ' || matches!(c, b'"' | b'\'' | b'`') {
                continue;
            }
            return Some(c.to_ascii_lowercase());
        }
    }
}
