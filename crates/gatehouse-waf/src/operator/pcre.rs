//! Translation of PCRE patterns, as ModSecurity v3 compiles them, into the
//! `regex` crate's syntax.
//!
//! ModSecurity passes `PCRE_DOTALL | PCRE_MULTILINE` and no UTF flag, so a
//! pattern works on bytes: `.` is any byte, `\w`/`\s`/`\d` are ASCII and
//! `(?i)` folds ASCII only. The translation keeps those semantics by
//! prefixing `(?ms-u)` and writing every literal as a byte. PCRE-only syntax
//! with an equivalent is rewritten; constructs a linear-time engine cannot
//! run (lookaround, backreferences, recursion, ...) are refused by name.
//!
//! Known differences, all on the side of matching more: possessive
//! quantifiers and atomic groups run as greedy ones; `\Z` consumes the
//! final newline it may stand before (captures only); a multi-line `^`
//! also holds after a newline that ends the value (`^$` matches `"a\n"`).

use std::fmt::Write as _;

/// DOTALL and MULTILINE as ModSecurity sets them; `-u` for byte semantics.
pub(crate) const PREFIX: &str = "(?ms-u)";

/// Translates a PCRE pattern (raw bytes) into a self-contained pattern for
/// `regex::bytes::Regex` (flags included), or says which construct is not
/// supported and where.
pub(crate) fn translate(pattern: &[u8]) -> Result<String, String> {
    let mut t = Translator {
        p: pattern,
        i: 0,
        out: String::with_capacity(pattern.len() + 16),
        extended: false,
        groups: Vec::new(),
    };
    t.out.push_str(PREFIX);
    t.run()?;
    Ok(t.out)
}

/// What one item inside a character class stands for.
enum ClassItem {
    Byte(u8),
    /// Already-translated class content (`\d`, `[:alpha:]`, ...).
    Set(&'static str),
    Posix(String),
    /// `\E`, or the start of a `\Q` quote: contributes nothing itself.
    Nothing,
}

struct Translator<'a> {
    p: &'a [u8],
    i: usize,
    out: String,
    /// PCRE's `x` flag: handled here (whitespace and `#` comments dropped)
    /// because the `regex` crate's `x` also ignores whitespace in classes.
    extended: bool,
    /// `extended` as it was when each open group started.
    groups: Vec<bool>,
}

impl Translator<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.p.get(self.i + ahead).copied()
    }

    fn unsupported(&self, what: &str, at: usize) -> String {
        format!("unsupported PCRE construct: {what} at byte {at}")
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek(0) {
            if self.extended {
                if is_pcre_space(c) {
                    self.i += 1;
                    continue;
                }
                if c == b'#' {
                    while let Some(c) = self.peek(0) {
                        self.i += 1;
                        if c == b'\n' {
                            break;
                        }
                    }
                    continue;
                }
            }
            match c {
                b'\\' => self.escape()?,
                b'[' => self.class()?,
                b'(' => self.group()?,
                b')' => {
                    self.extended = self
                        .groups
                        .pop()
                        .ok_or_else(|| format!("unmatched `)` at byte {}", self.i))?;
                    self.out.push(')');
                    self.i += 1;
                }
                b'*' | b'+' | b'?' => {
                    self.out.push(c as char);
                    self.i += 1;
                    self.quantifier_suffix();
                }
                b'{' => match quantifier_len(&self.p[self.i..]) {
                    Some(len) => {
                        for &b in &self.p[self.i..self.i + len] {
                            self.out.push(b as char);
                        }
                        self.i += len;
                        self.quantifier_suffix();
                    }
                    // PCRE reads a `{` that does not start `{n}`, `{n,}`
                    // or `{n,m}` as a literal; `regex` would reject it.
                    None => {
                        self.out.push_str("\\{");
                        self.i += 1;
                    }
                },
                b'.' | b'^' | b'$' | b'|' => {
                    self.out.push(c as char);
                    self.i += 1;
                }
                _ => {
                    push_literal(&mut self.out, c);
                    self.i += 1;
                }
            }
        }
        if !self.groups.is_empty() {
            return Err("missing `)`".to_string());
        }
        Ok(())
    }

    /// After a quantifier: lazy `?` is kept; possessive `+` becomes greedy.
    /// Without backtracking, greedy matches a superset of what possessive
    /// matches, so a rule can only fire more often, never less.
    fn quantifier_suffix(&mut self) {
        match self.peek(0) {
            Some(b'?') => {
                self.out.push('?');
                self.i += 1;
            }
            Some(b'+') => self.i += 1,
            _ => {}
        }
    }

    /// An escape outside a class; `self.i` is at the backslash.
    fn escape(&mut self) -> Result<(), String> {
        let at = self.i;
        let e = self.peek(1).ok_or("trailing backslash")?;
        self.i += 2;
        let text = match e {
            b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'b' | b'B' | b'A' | b'z' => {
                self.out.push('\\');
                self.out.push(e as char);
                return Ok(());
            }
            // End of subject or before a final newline; the newline becomes
            // part of the match, which only matters for captures.
            b'Z' => r"(?:\n?\z)",
            b'h' => r"[\t\x20\xA0]",
            b'H' => r"[^\t\x20\xA0]",
            b'v' => r"[\n\x0B\x0C\r\x85]",
            b'V' => r"[^\n\x0B\x0C\r\x85]",
            b'R' => r"(?:\r\n|[\n\x0B\x0C\r\x85])",
            b'N' if self.peek(0) != Some(b'{') => r"[^\n]",
            b'C' => r"(?s:.)",
            b'E' => "",
            b'Q' => {
                while let Some(c) = self.peek(0) {
                    if c == b'\\' && self.peek(1) == Some(b'E') {
                        self.i += 2;
                        break;
                    }
                    push_literal(&mut self.out, c);
                    self.i += 1;
                }
                return Ok(());
            }
            _ => {
                if let Some(what) = unsupported_escape(e) {
                    return Err(self.unsupported(what, at));
                }
                let b = self.escaped_byte(e, at)?;
                push_literal(&mut self.out, b);
                return Ok(());
            }
        };
        self.out.push_str(text);
        Ok(())
    }

    /// The byte an escape stands for (`\x41`, `\n`, `\.`, `\012`, ...);
    /// `self.i` is just after the escape letter.
    fn escaped_byte(&mut self, e: u8, at: usize) -> Result<u8, String> {
        let value: u32 = match e {
            b'a' => 0x07,
            b'e' => 0x1B,
            b'f' => 0x0C,
            b'n' => b'\n'.into(),
            b'r' => b'\r'.into(),
            b't' => b'\t'.into(),
            b'0' => self.digits(8, 2),
            b'o' => self.braced(8, at)?,
            b'x' if self.peek(0) == Some(b'{') => self.braced(16, at)?,
            b'x' => self.digits(16, 2),
            b'c' => {
                let c = self
                    .peek(0)
                    .filter(|c| c.is_ascii() && !c.is_ascii_control())
                    .ok_or_else(|| {
                        format!("`\\c` needs a printable ASCII character at byte {at}")
                    })?;
                self.i += 1;
                u32::from(c.to_ascii_uppercase() ^ 0x40)
            }
            _ if e.is_ascii_alphanumeric() => {
                return Err(format!(
                    "unrecognized escape `\\{}` at byte {at}",
                    e as char
                ))
            }
            _ => e.into(),
        };
        u8::try_from(value).map_err(|_| {
            format!("character code {value:#x} above 0xff in a byte pattern at byte {at}")
        })
    }

    /// Up to `max` digits in `radix`, as PCRE reads `\x4` or `\012`.
    fn digits(&mut self, radix: u32, max: usize) -> u32 {
        let mut value = 0u32;
        for _ in 0..max {
            match self.peek(0).and_then(|c| (c as char).to_digit(radix)) {
                Some(d) => {
                    value = value * radix + d;
                    self.i += 1;
                }
                None => break,
            }
        }
        value
    }

    /// `{...}` digits after `\x` or `\o`.
    fn braced(&mut self, radix: u32, at: usize) -> Result<u32, String> {
        let bad = || format!("malformed `{{...}}` escape at byte {at}");
        self.i += 1; // `{`
        let start = self.i;
        let value = self.digits(radix, 8);
        if self.i == start || self.peek(0) != Some(b'}') {
            return Err(bad());
        }
        self.i += 1;
        Ok(value)
    }

    /// A group opening; `self.i` is at `(`.
    fn group(&mut self) -> Result<(), String> {
        let at = self.i;
        if self.peek(1) == Some(b'*') {
            return Err(self.unsupported("backtracking control verb `(*...)`", at));
        }
        self.groups.push(self.extended);
        if self.peek(1) != Some(b'?') {
            self.out.push('(');
            self.i += 1;
            return Ok(());
        }
        let (a, b) = (self.peek(2), self.peek(3));
        let what = match (a, b) {
            (Some(b':'), _) | (Some(b'>'), _) => {
                // An atomic group runs as a plain group; like possessive
                // quantifiers, that can only widen what matches.
                self.out.push_str("(?:");
                self.i += 3;
                return Ok(());
            }
            (Some(b'#'), _) => {
                self.groups.pop();
                let close = self.p[self.i..].iter().position(|&c| c == b')');
                let close = close.ok_or("unterminated `(?#` comment")?;
                self.i += close + 1;
                return Ok(());
            }
            (Some(b'<'), Some(b'=' | b'!')) => "lookbehind `(?<=`/`(?<!`",
            (Some(b'=' | b'!'), _) => "lookahead `(?=`/`(?!`",
            (Some(b'<'), _) => return self.named_group(3, b'>'),
            (Some(b'\''), _) => return self.named_group(3, b'\''),
            (Some(b'P'), Some(b'<')) => return self.named_group(4, b'>'),
            (Some(b'P'), Some(b'=')) => "named backreference `(?P=`",
            (Some(b'P'), Some(b'>')) | (Some(b'&'), _) => "subroutine call",
            (Some(b'R'), _) => "recursion `(?R)`",
            (Some(c), _) if c.is_ascii_digit() || c == b'+' => "subroutine call",
            (Some(b'-'), Some(c)) if c.is_ascii_digit() => "subroutine call",
            (Some(b'('), _) => "conditional group `(?(`",
            (Some(b'|'), _) => "branch reset group `(?|`",
            (Some(b'C'), _) => "callout `(?C`",
            _ => return self.flags(at),
        };
        Err(self.unsupported(what, at))
    }

    /// `(?<name>`, `(?'name'` or `(?P<name>`: all become `(?P<name>`.
    fn named_group(&mut self, skip: usize, close: u8) -> Result<(), String> {
        let at = self.i;
        let start = self.i + skip;
        let rest = self.p.get(start..).unwrap_or_default();
        let len = rest.iter().position(|&c| c == close);
        let name = len.map(|n| &rest[..n]).unwrap_or_default();
        let valid = name
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
        if len.is_none() || !valid {
            return Err(format!("malformed group name at byte {at}"));
        }
        self.out.push_str("(?P<");
        name.iter().for_each(|&c| self.out.push(c as char));
        self.out.push('>');
        self.i = start + name.len() + 1;
        Ok(())
    }

    /// `(?flags)` or `(?flags:`; `self.i` is at `(`, the group already
    /// pushed.
    fn flags(&mut self, at: usize) -> Result<(), String> {
        let mut j = self.i + 2;
        let (mut on, mut off) = (String::new(), String::new());
        let mut negate = false;
        let mut extended = self.extended;
        let end = loop {
            let c = *self
                .p
                .get(j)
                .ok_or_else(|| format!("unterminated group at byte {at}"))?;
            j += 1;
            match c {
                b')' | b':' => break c,
                b'-' if !negate => negate = true,
                b'i' | b'm' | b's' | b'U' => {
                    let target = if negate { &mut off } else { &mut on };
                    target.push(c as char);
                }
                b'x' => extended = !negate,
                // Duplicate names: `regex` refuses them when they occur.
                b'J' => {}
                _ => {
                    return Err(self.unsupported(
                        &format!("inline flag `{}`", String::from_utf8_lossy(&[c])),
                        at,
                    ))
                }
            }
        };
        self.i = j;
        let mut flags = on;
        if !off.is_empty() {
            flags.push('-');
            flags.push_str(&off);
        }
        if end == b')' {
            // Not a group: the setting lasts to the end of the enclosing one.
            self.groups.pop();
            if !flags.is_empty() {
                let _ = write!(self.out, "(?{flags})");
            }
        } else {
            let _ = write!(self.out, "(?{flags}:");
        }
        self.extended = extended;
        Ok(())
    }

    /// A character class; `self.i` is at `[`. Every literal is written as
    /// an escaped byte so that `regex`'s class syntax (`&&`, `--`, `~~`,
    /// nested `[`) never applies to PCRE text.
    fn class(&mut self) -> Result<(), String> {
        let at = self.i;
        self.i += 1;
        let mut out = String::from("[");
        if self.peek(0) == Some(b'^') {
            out.push('^');
            self.i += 1;
        }
        let mut first = true;
        let mut quoted = false;
        loop {
            let c = self
                .peek(0)
                .ok_or_else(|| format!("missing terminating `]` for the class at byte {at}"))?;
            if c == b']' && !first && !quoted {
                self.i += 1;
                break;
            }
            first = false;
            match self.class_item(&mut quoted)? {
                ClassItem::Byte(lo) => {
                    let range = self.peek(0) == Some(b'-')
                        && !quoted
                        && self.peek(1).is_some_and(|c| c != b']');
                    if !range {
                        push_literal(&mut out, lo);
                        continue;
                    }
                    let dash = self.i;
                    self.i += 1;
                    match self.class_item(&mut quoted)? {
                        ClassItem::Byte(hi) if hi < lo => {
                            return Err(format!("range out of order in class at byte {dash}"))
                        }
                        ClassItem::Byte(hi) => {
                            push_literal(&mut out, lo);
                            out.push('-');
                            push_literal(&mut out, hi);
                        }
                        // `[a-\d]`: the dash is literal.
                        other => {
                            push_literal(&mut out, lo);
                            push_literal(&mut out, b'-');
                            push_class_item(&mut out, other);
                        }
                    }
                }
                other => push_class_item(&mut out, other),
            }
        }
        out.push(']');
        self.out.push_str(&out);
        Ok(())
    }

    fn class_item(&mut self, quoted: &mut bool) -> Result<ClassItem, String> {
        let at = self.i;
        let c = self
            .peek(0)
            .ok_or_else(|| format!("missing terminating `]` for the class at byte {at}"))?;
        if *quoted {
            if c == b'\\' && self.peek(1) == Some(b'E') {
                *quoted = false;
                self.i += 2;
                return Ok(ClassItem::Nothing);
            }
            self.i += 1;
            return Ok(ClassItem::Byte(c));
        }
        if c == b'[' {
            if let Some((len, name)) = posix_class(&self.p[self.i..]) {
                self.i += len;
                return Ok(ClassItem::Posix(name?));
            }
            if let Some(d @ (b'.' | b'=')) = self.peek(1) {
                // `[.x.]` / `[=x=]`: the delimiter right before the next `]`.
                let rest = &self.p[self.i + 2..];
                let close = rest.iter().position(|&c| c == b']');
                if close.is_some_and(|k| k > 0 && rest[k - 1] == d) {
                    return Err(self.unsupported("POSIX collating element", at));
                }
            }
        }
        if c != b'\\' {
            self.i += 1;
            return Ok(ClassItem::Byte(c));
        }
        let e = self.peek(1).ok_or("trailing backslash")?;
        self.i += 2;
        let set = match e {
            b'd' => r"\d",
            b'D' => r"\D",
            b'w' => r"\w",
            b'W' => r"\W",
            b's' => r"\s",
            b'S' => r"\S",
            b'h' => r"\t\x20\xA0",
            b'v' => r"\n\x0B\x0C\r\x85",
            b'H' => r"[^\t\x20\xA0]",
            b'V' => r"[^\n\x0B\x0C\r\x85]",
            b'b' => return Ok(ClassItem::Byte(0x08)),
            b'E' => return Ok(ClassItem::Nothing),
            b'Q' => {
                *quoted = true;
                return Ok(ClassItem::Nothing);
            }
            b'B' | b'R' | b'X' | b'N' => {
                return Err(self.unsupported(
                    &format!("escape `\\{}` in a character class", e as char),
                    at,
                ))
            }
            _ => {
                if let Some(what) = unsupported_escape(e) {
                    return Err(self.unsupported(what, at));
                }
                return Ok(ClassItem::Byte(self.escaped_byte(e, at)?));
            }
        };
        Ok(ClassItem::Set(set))
    }
}

/// Escapes that have no equivalent here, named for the error message.
fn unsupported_escape(e: u8) -> Option<&'static str> {
    Some(match e {
        b'1'..=b'9' | b'g' | b'k' => "backreference",
        b'G' => "`\\G` anchor",
        b'K' => "`\\K` match reset",
        b'X' => "`\\X` extended grapheme",
        b'p' | b'P' => "Unicode property `\\p`/`\\P`",
        b'N' => "`\\N{...}` named character",
        b'L' | b'l' | b'U' | b'u' => "case-changing escape",
        _ => return None,
    })
}

fn push_class_item(out: &mut String, item: ClassItem) {
    match item {
        ClassItem::Byte(b) => push_literal(out, b),
        ClassItem::Set(s) => out.push_str(s),
        ClassItem::Posix(s) => out.push_str(&s),
        ClassItem::Nothing => {}
    }
}

/// `[:name:]` or `[:^name:]` at the start of `p`: its length and the
/// translated text (an error for an unknown name).
fn posix_class(p: &[u8]) -> Option<(usize, Result<String, String>)> {
    let rest = p.strip_prefix(b"[:")?;
    let end = rest.windows(2).position(|w| w == b":]")?;
    let body = &rest[..end];
    let name = body.strip_prefix(b"^").unwrap_or(body);
    if !name.iter().all(u8::is_ascii_lowercase) {
        return None;
    }
    const NAMES: [&str; 14] = [
        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
        "space", "upper", "word", "xdigit",
    ];
    let text = String::from_utf8_lossy(body).into_owned();
    let result = if NAMES.iter().any(|n| n.as_bytes() == name) {
        Ok(format!("[:{text}:]"))
    } else {
        Err(format!("unknown POSIX class `[:{text}:]`"))
    };
    Some((end + 4, result))
}

/// Length of a PCRE quantifier `{n}`, `{n,}` or `{n,m}` at the start of `p`.
fn quantifier_len(p: &[u8]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while p.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if p.get(i) == Some(&b',') {
        i += 1;
        digits(&mut i);
    }
    (p.get(i) == Some(&b'}')).then_some(i + 1)
}

/// PCRE's whitespace for the `x` flag.
fn is_pcre_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Writes byte `b` as a literal valid both inside and outside a class.
fn push_literal(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() || b == b'_' {
        out.push(b as char);
    } else if b"\\.+*?()|[]{}^$#&-~".contains(&b) {
        out.push('\\');
        out.push(b as char);
    } else if b.is_ascii_graphic() || b == b' ' {
        out.push(b as char);
    } else {
        let _ = write!(out, "\\x{b:02X}");
    }
}
