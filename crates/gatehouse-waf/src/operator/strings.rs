//! String and numeric comparisons (`@streq`, `@contains`, `@within`,
//! `@eq`, ...), with their argument fixed or expanded by the caller.

use aho_corasick::AhoCorasick;

/// Which string comparison; all are case-sensitive byte comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    StrEq,
    Contains,
    /// `@strmatch`: substring search, as `@contains`.
    StrMatch,
    ContainsWord,
    BeginsWith,
    EndsWith,
    /// The value occurs in the argument.
    Within,
}

/// Which numeric comparison (value OP argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumKind {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

impl NumKind {
    pub(crate) fn compare(self, value: i64, argument: i64) -> bool {
        match self {
            NumKind::Eq => value == argument,
            NumKind::Ge => value >= argument,
            NumKind::Gt => value > argument,
            NumKind::Le => value <= argument,
            NumKind::Lt => value < argument,
        }
    }
}

/// `finder` is a prebuilt searcher for `argument` (fixed arguments of
/// `@contains`/`@strmatch`); the results follow libmodsecurity v3,
/// including its empty-string cases.
pub(crate) fn compare(
    kind: StrKind,
    value: &[u8],
    argument: &[u8],
    finder: Option<&AhoCorasick>,
) -> bool {
    match kind {
        StrKind::StrEq => value == argument,
        StrKind::Contains | StrKind::StrMatch => match finder {
            Some(ac) => ac.is_match(value),
            None => find(value, argument, 0).is_some(),
        },
        StrKind::BeginsWith => value.starts_with(argument),
        StrKind::EndsWith => value.ends_with(argument),
        StrKind::Within => value.is_empty() || find(argument, value, 0).is_some(),
        StrKind::ContainsWord => contains_word(value, argument),
    }
}

/// The argument bounded on each side by the value's ends or by a byte that
/// is not an ASCII letter (libmodsecurity v3 counts digits as boundaries).
fn contains_word(value: &[u8], word: &[u8]) -> bool {
    if word.is_empty() {
        return true;
    }
    let boundary = |i: Option<usize>| match i {
        None => true,
        Some(i) => value.get(i).is_none_or(|c| !c.is_ascii_alphabetic()),
    };
    let mut from = 0;
    while let Some(pos) = find(value, word, from) {
        if boundary(pos.checked_sub(1)) && boundary(Some(pos + word.len())) {
            return true;
        }
        from = pos + 1;
    }
    false
}

/// First occurrence of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let hay = hay.get(from..)?;
    memchr::memmem::find(hay, needle).map(|i| from + i)
}

/// A number as `strtoll` reads it: leading whitespace, optional sign,
/// digits up to the first non-digit; no digits gives 0, overflow saturates.
pub fn parse_int(text: &[u8]) -> i64 {
    let start = text
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r'))
        .unwrap_or(text.len());
    let mut rest = &text[start..];
    let negative = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'-' | b'+')) {
        rest = &rest[1..];
    }
    let mut n: i64 = 0;
    for &c in rest.iter().take_while(|c| c.is_ascii_digit()) {
        let d = i64::from(c - b'0');
        n = if negative {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    n
}
