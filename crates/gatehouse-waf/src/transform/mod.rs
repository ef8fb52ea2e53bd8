//! ModSecurity v3 transformation functions (the `t:` action).
//!
//! Each transformation reproduces what libmodsecurity 3.0.x produces byte for
//! byte, quirks included, because the OWASP Core Rule Set's regexes were
//! tuned against that output. Everything works on raw bytes: request data is
//! not necessarily UTF-8.
//!
//! Results are `Cow::Borrowed` whenever the output is the input (or a prefix
//! or suffix of it), so the common case of a value passing through a chain
//! unchanged costs no allocation.

mod decode;
mod encode;
mod text;

use std::borrow::Cow;

/// One ModSecurity transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    /// `t:none`: the identity here; clearing inherited transformations is the
    /// chain builder's job.
    None,
    Lowercase,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    CmdLine,
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    ReplaceNulls,
    RemoveComments,
    RemoveCommentsChar,
    ReplaceComments,
    NormalizePath,
    NormalizePathWin,
    Base64Decode,
    Base64DecodeExt,
    Base64Encode,
    HexDecode,
    HexEncode,
    Length,
    Sha1,
    Md5,
    Trim,
    TrimLeft,
    TrimRight,
    Utf8ToUnicode,
    EscapeSeqDecode,
    SqlHexDecode,
    UrlEncode,
    ParityEven7bit,
    ParityOdd7bit,
    ParityZero7bit,
}

/// Canonical names, in the spelling `name()` returns.
const NAMES: &[(Transform, &str)] = &[
    (Transform::None, "none"),
    (Transform::Lowercase, "lowercase"),
    (Transform::Uppercase, "uppercase"),
    (Transform::UrlDecode, "urlDecode"),
    (Transform::UrlDecodeUni, "urlDecodeUni"),
    (Transform::HtmlEntityDecode, "htmlEntityDecode"),
    (Transform::JsDecode, "jsDecode"),
    (Transform::CssDecode, "cssDecode"),
    (Transform::CmdLine, "cmdLine"),
    (Transform::CompressWhitespace, "compressWhitespace"),
    (Transform::RemoveWhitespace, "removeWhitespace"),
    (Transform::RemoveNulls, "removeNulls"),
    (Transform::ReplaceNulls, "replaceNulls"),
    (Transform::RemoveComments, "removeComments"),
    (Transform::RemoveCommentsChar, "removeCommentsChar"),
    (Transform::ReplaceComments, "replaceComments"),
    (Transform::NormalizePath, "normalizePath"),
    (Transform::NormalizePathWin, "normalizePathWin"),
    (Transform::Base64Decode, "base64Decode"),
    (Transform::Base64DecodeExt, "base64DecodeExt"),
    (Transform::Base64Encode, "base64Encode"),
    (Transform::HexDecode, "hexDecode"),
    (Transform::HexEncode, "hexEncode"),
    (Transform::Length, "length"),
    (Transform::Sha1, "sha1"),
    (Transform::Md5, "md5"),
    (Transform::Trim, "trim"),
    (Transform::TrimLeft, "trimLeft"),
    (Transform::TrimRight, "trimRight"),
    (Transform::Utf8ToUnicode, "utf8toUnicode"),
    (Transform::EscapeSeqDecode, "escapeSeqDecode"),
    (Transform::SqlHexDecode, "sqlHexDecode"),
    (Transform::UrlEncode, "urlEncode"),
    (Transform::ParityEven7bit, "parityEven7bit"),
    (Transform::ParityOdd7bit, "parityOdd7bit"),
    (Transform::ParityZero7bit, "parityZero7bit"),
];

/// Other spellings libmodsecurity accepts: British path names (the SecLang
/// scanner's), and the two snake_case names its factory also knows.
const ALIASES: &[(Transform, &str)] = &[
    (Transform::NormalizePath, "normalisePath"),
    (Transform::NormalizePathWin, "normalisePathWin"),
    (Transform::CmdLine, "cmd_line"),
    (Transform::CompressWhitespace, "compress_whitespace"),
];

impl Transform {
    /// Every transformation, in declaration order.
    pub const ALL: [Transform; 36] = [
        Transform::None,
        Transform::Lowercase,
        Transform::Uppercase,
        Transform::UrlDecode,
        Transform::UrlDecodeUni,
        Transform::HtmlEntityDecode,
        Transform::JsDecode,
        Transform::CssDecode,
        Transform::CmdLine,
        Transform::CompressWhitespace,
        Transform::RemoveWhitespace,
        Transform::RemoveNulls,
        Transform::ReplaceNulls,
        Transform::RemoveComments,
        Transform::RemoveCommentsChar,
        Transform::ReplaceComments,
        Transform::NormalizePath,
        Transform::NormalizePathWin,
        Transform::Base64Decode,
        Transform::Base64DecodeExt,
        Transform::Base64Encode,
        Transform::HexDecode,
        Transform::HexEncode,
        Transform::Length,
        Transform::Sha1,
        Transform::Md5,
        Transform::Trim,
        Transform::TrimLeft,
        Transform::TrimRight,
        Transform::Utf8ToUnicode,
        Transform::EscapeSeqDecode,
        Transform::SqlHexDecode,
        Transform::UrlEncode,
        Transform::ParityEven7bit,
        Transform::ParityOdd7bit,
        Transform::ParityZero7bit,
    ];

    /// Looks a transformation up by its ModSecurity name, ignoring case as
    /// the SecLang scanner does (see `ALIASES` for the other spellings).
    pub fn from_name(name: &str) -> Option<Transform> {
        NAMES
            .iter()
            .chain(ALIASES)
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|&(t, _)| t)
    }

    /// The ModSecurity name (US spelling for the path normalisations).
    pub fn name(&self) -> &'static str {
        NAMES
            .iter()
            .find(|(t, _)| t == self)
            .map_or("none", |&(_, n)| n)
    }

    /// Applies the transformation. Borrows the input when it comes out
    /// unchanged (or as a plain prefix/suffix of itself).
    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            Transform::None => Cow::Borrowed(input),
            Transform::Lowercase => text::lowercase(input),
            Transform::Uppercase => text::uppercase(input),
            Transform::UrlDecode => decode::url_decode(input, false),
            Transform::UrlDecodeUni => decode::url_decode(input, true),
            Transform::HtmlEntityDecode => decode::html_entity_decode(input),
            Transform::JsDecode => decode::js_decode(input),
            Transform::CssDecode => decode::css_decode(input),
            Transform::CmdLine => text::cmd_line(input),
            Transform::CompressWhitespace => text::compress_whitespace(input),
            Transform::RemoveWhitespace => text::remove_whitespace(input),
            Transform::RemoveNulls => text::remove_nulls(input),
            Transform::ReplaceNulls => text::replace_nulls(input),
            Transform::RemoveComments => text::remove_comments(input),
            Transform::RemoveCommentsChar => text::remove_comments_char(input),
            Transform::ReplaceComments => text::replace_comments(input),
            Transform::NormalizePath => text::normalize_path(input, false),
            Transform::NormalizePathWin => text::normalize_path(input, true),
            Transform::Base64Decode => decode::base64_decode(input),
            Transform::Base64DecodeExt => decode::base64_decode_ext(input),
            Transform::Base64Encode => encode::base64_encode(input),
            Transform::HexDecode => decode::hex_decode(input),
            Transform::HexEncode => encode::hex_encode(input),
            Transform::Length => encode::length(input),
            Transform::Sha1 => encode::sha1(input),
            Transform::Md5 => encode::md5(input),
            Transform::Trim => text::trim(input, true, true),
            Transform::TrimLeft => text::trim(input, true, false),
            Transform::TrimRight => text::trim(input, false, true),
            Transform::Utf8ToUnicode => encode::utf8_to_unicode(input),
            Transform::EscapeSeqDecode => decode::escape_seq_decode(input),
            Transform::SqlHexDecode => decode::sql_hex_decode(input),
            Transform::UrlEncode => encode::url_encode(input),
            Transform::ParityEven7bit => text::parity(input, text::Parity::Even),
            Transform::ParityOdd7bit => text::parity(input, text::Parity::Odd),
            Transform::ParityZero7bit => text::parity(input, text::Parity::Zero),
        }
    }
}

/// Applies `chain` in order. `Transform::None` is the identity here: the
/// reset it means in SecLang happens when the chain is built.
pub fn apply_chain<'a>(chain: &[Transform], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut value = Cow::Borrowed(input);
    for t in chain {
        value = match value {
            Cow::Borrowed(s) => t.apply(s),
            Cow::Owned(v) => {
                // A borrow of `v` is a window of it: the same length means
                // unchanged, shorter (trim, a cut comment) needs a copy.
                let next = match t.apply(&v) {
                    Cow::Owned(next) => Some(next),
                    Cow::Borrowed(s) if s.len() == v.len() => None,
                    Cow::Borrowed(s) => Some(s.to_vec()),
                };
                Cow::Owned(next.unwrap_or(v))
            }
        };
    }
    value
}

/// An output buffer that stays a borrow of the input for as long as what was
/// written equals the input's prefix, and copies only at the first
/// difference. This gives the in-place C algorithms a zero-copy fast path.
struct Out<'a> {
    src: &'a [u8],
    buf: Option<Vec<u8>>,
    /// Output length while `buf` is `None` (the output is `src[..len]`).
    len: usize,
}

impl<'a> Out<'a> {
    fn new(src: &'a [u8]) -> Self {
        Out {
            src,
            buf: None,
            len: 0,
        }
    }

    fn diverge(&mut self) -> &mut Vec<u8> {
        let (src, len) = (self.src, self.len);
        self.buf.get_or_insert_with(|| {
            let mut v = Vec::with_capacity(src.len().max(len + 8));
            v.extend_from_slice(&src[..len]);
            v
        })
    }

    fn push(&mut self, b: u8) {
        match &mut self.buf {
            Some(v) => v.push(b),
            None if self.src.get(self.len) == Some(&b) => self.len += 1,
            None => self.diverge().push(b),
        }
    }

    fn extend(&mut self, s: &[u8]) {
        match &mut self.buf {
            Some(v) => v.extend_from_slice(s),
            None if self.src[self.len..].starts_with(s) => self.len += s.len(),
            None => self.diverge().extend_from_slice(s),
        }
    }

    fn len(&self) -> usize {
        self.buf.as_ref().map_or(self.len, Vec::len)
    }

    fn get(&self, i: usize) -> u8 {
        self.buf.as_ref().map_or(self.src[i], |v| v[i])
    }

    fn last(&self) -> Option<u8> {
        self.len().checked_sub(1).map(|i| self.get(i))
    }

    fn truncate(&mut self, n: usize) {
        match &mut self.buf {
            Some(v) => v.truncate(n),
            None => self.len = self.len.min(n),
        }
    }

    fn pop(&mut self) {
        let n = self.len().saturating_sub(1);
        self.truncate(n);
    }

    fn finish(self) -> Cow<'a, [u8]> {
        match self.buf {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(&self.src[..self.len]),
        }
    }
}

/// `VALID_HEX` / `isxdigit` in the C locale.
fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn is_odigit(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

/// `isspace` in the C locale: unlike `u8::is_ascii_whitespace` it includes
/// the vertical tab.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// ModSecurity's `xsingle2c`: unchecked, so non-hex input yields the same
/// garbage the C code computes (hexDecode relies on that).
fn xsingle(b: u8) -> u8 {
    if b >= b'A' {
        (b & 0xdf).wrapping_sub(b'A').wrapping_add(10)
    } else {
        b.wrapping_sub(b'0')
    }
}

/// ModSecurity's `x2c`: two (unchecked) hex digits to a byte.
fn x2c(hi: u8, lo: u8) -> u8 {
    xsingle(hi).wrapping_mul(16).wrapping_add(xsingle(lo))
}

/// Low byte of a `%uHHHH`-style code point; full-width ASCII (U+FF01 to
/// U+FF5E) maps to its ASCII twin, as ModSecurity does without a unicode
/// map. `d` holds the four hex digits.
fn unicode_low_byte(d: &[u8]) -> u8 {
    let c = x2c(d[2], d[3]);
    let full_width = (d[0] | 0x20) == b'f' && (d[1] | 0x20) == b'f';
    if full_width && c > 0 && c < 0x5f {
        c + 0x20
    } else {
        c
    }
}

/// Byte classes a value contains, for [`Transform::leaves`]: most values
/// hold none of the bytes most transformations act on, and a chain that
/// cannot change a value need not run.
pub mod class {
    pub const UPPER: u32 = 1;
    pub const LOWER: u32 = 1 << 1;
    pub const PERCENT_PLUS: u32 = 1 << 2;
    pub const AMP: u32 = 1 << 3;
    pub const BACKSLASH: u32 = 1 << 4;
    pub const NUL: u32 = 1 << 5;
    pub const SPACE: u32 = 1 << 6;
    pub const HIGH: u32 = 1 << 7;
    pub const SLASH: u32 = 1 << 8;
    pub const DOT: u32 = 1 << 9;
    pub const QUOTE: u32 = 1 << 10;
    /// `^ , ;`: cmdLine's separators.
    pub const CMD: u32 = 1 << 11;
    /// `* - # <`: comment markers.
    pub const COMMENT: u32 = 1 << 12;
    pub const X: u32 = 1 << 13;
    pub const ALL: u32 = u32::MAX;
}

const fn class_of(b: u8) -> u32 {
    use class::*;
    match b {
        b'A'..=b'Z' => UPPER | if b == b'X' { X } else { 0 },
        b'a'..=b'z' => LOWER | if b == b'x' { X } else { 0 },
        b'%' | b'+' => PERCENT_PLUS,
        b'&' => AMP,
        b'\\' => BACKSLASH,
        0 => NUL,
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' => SPACE,
        0x80..=0xff => HIGH,
        b'/' => SLASH,
        b'.' => DOT,
        b'"' | b'\'' => QUOTE,
        b'^' | b',' | b';' => CMD,
        b'*' | b'-' | b'#' | b'<' => COMMENT,
        _ => 0,
    }
}

const CLASSES: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

/// The classes of every byte of `value`.
pub fn byte_classes(value: &[u8]) -> u32 {
    value.iter().fold(0, |m, &b| m | CLASSES[usize::from(b)])
}

impl Transform {
    /// Byte classes this transformation may act on; a value with none of
    /// them comes out unchanged. Conservative: `ALL` when unsure.
    fn triggers(&self) -> u32 {
        use class::*;
        match self {
            Transform::None => 0,
            Transform::Lowercase => UPPER,
            Transform::Uppercase => LOWER,
            Transform::UrlDecode | Transform::UrlDecodeUni => PERCENT_PLUS,
            Transform::HtmlEntityDecode => AMP,
            Transform::JsDecode | Transform::CssDecode | Transform::EscapeSeqDecode => BACKSLASH,
            Transform::CmdLine => UPPER | QUOTE | BACKSLASH | SPACE | CMD,
            Transform::CompressWhitespace | Transform::Trim => SPACE,
            Transform::TrimLeft | Transform::TrimRight => SPACE,
            Transform::RemoveWhitespace => SPACE | HIGH,
            Transform::RemoveNulls | Transform::ReplaceNulls => NUL,
            Transform::RemoveComments
            | Transform::RemoveCommentsChar
            | Transform::ReplaceComments => SLASH | COMMENT,
            Transform::NormalizePath => SLASH | DOT,
            Transform::NormalizePathWin => SLASH | DOT | BACKSLASH,
            Transform::Utf8ToUnicode => HIGH | NUL,
            Transform::SqlHexDecode => X,
            _ => ALL,
        }
    }

    /// Like [`Transform::triggers`], for what a case-insensitive search
    /// can see: changing case alone does not count.
    fn search_triggers(&self) -> u32 {
        use class::*;
        match self {
            Transform::Lowercase | Transform::Uppercase => 0,
            Transform::CmdLine => QUOTE | BACKSLASH | SPACE | CMD,
            t => t.triggers(),
        }
    }

    /// Whether the transformation surely leaves a value of these byte
    /// `classes` as it is.
    pub fn leaves(&self, classes: u32) -> bool {
        let t = self.triggers();
        t != class::ALL && t & classes == 0
    }
}

/// [`chain_triggers`] ignoring case changes: what a chain may change that
/// a case-insensitive literal search would notice.
pub fn chain_search_triggers(chain: &[Transform]) -> u32 {
    fold_triggers(chain, Transform::search_triggers)
}

/// The byte classes any transformation of `chain` acts on (`class::ALL`
/// when one of them changes every value): with [`byte_classes`], one AND
/// tells whether the chain leaves a value as it is.
pub fn chain_triggers(chain: &[Transform]) -> u32 {
    fold_triggers(chain, Transform::triggers)
}

/// The union of `triggers` over the chain; `class::ALL` absorbs.
fn fold_triggers(chain: &[Transform], triggers: fn(&Transform) -> u32) -> u32 {
    chain.iter().fold(0, |m, t| {
        let tr = triggers(t);
        if tr == class::ALL || m == class::ALL {
            class::ALL
        } else {
            m | tr
        }
    })
}
