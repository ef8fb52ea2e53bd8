//! Text transformations: case, whitespace, NULs, comments, cmdLine, trim,
//! parity and path normalisation.

use std::borrow::Cow;

use super::{is_c_space, Out};

/// lowercase: ASCII only (`tolower` in the C locale).
pub(super) fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    match input.iter().position(u8::is_ascii_uppercase) {
        None => Cow::Borrowed(input),
        Some(p) => {
            let mut v = input.to_vec();
            v[p..].make_ascii_lowercase();
            Cow::Owned(v)
        }
    }
}

/// uppercase: ASCII only.
pub(super) fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    match input.iter().position(u8::is_ascii_lowercase) {
        None => Cow::Borrowed(input),
        Some(p) => {
            let mut v = input.to_vec();
            v[p..].make_ascii_uppercase();
            Cow::Owned(v)
        }
    }
}

/// cmdLine: drops `\ " ' ^`, turns runs of space, tab, CR, LF, `,` and `;`
/// into one space, drops that space before `/` and `(`, lowercases the rest.
/// Vertical tab and form feed are ordinary characters here, as in v3.
pub(super) fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Out::new(input);
    let mut space = false;
    for &b in input {
        match b {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(b);
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                space = false;
            }
        }
    }
    out.finish()
}

/// compressWhitespace: each run of C-locale whitespace becomes one space.
/// libmodsecurity v3 uses plain `isspace`, so NBSP (0xA0) is not whitespace.
pub(super) fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Out::new(input);
    let mut in_space = false;
    for &b in input {
        if is_c_space(b) {
            if !in_space {
                out.push(b' ');
                in_space = true;
            }
        } else {
            out.push(b);
            in_space = false;
        }
    }
    out.finish()
}

/// removeWhitespace: drops C-locale whitespace, 0xA0, and also every 0xC2
/// byte (v3 does, aiming at UTF-8 NBSP's lead byte).
pub(super) fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    remove_if(input, |b| is_c_space(b) || b == 0xa0 || b == 0xc2)
}

/// removeNulls: drops NUL bytes.
pub(super) fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    remove_if(input, |b| b == 0)
}

fn remove_if(input: &[u8], drop: impl Fn(u8) -> bool) -> Cow<'_, [u8]> {
    let mut out = Out::new(input);
    for &b in input.iter().filter(|&&b| !drop(b)) {
        out.push(b);
    }
    out.finish()
}

/// replaceNulls: NUL → space.
pub(super) fn replace_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        input
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect(),
    )
}

/// removeComments, with libmodsecurity v3's exact behaviour: `/* */` and
/// `<!-- -->` are removed, `--` or `#` outside a comment cut the value
/// there, the byte right after a closing `*/` or `-->` is copied
/// unconditionally (a NUL when the input ends there), and an unterminated
/// comment becomes one space.
pub(super) fn remove_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let n = input.len();
    let mut out = Out::new(input);
    let at = |i: usize| input[i..].first().copied().unwrap_or(0);
    let mut in_comment = false;
    let mut i = 0;
    while i < n {
        let rest = &input[i..];
        if !in_comment {
            if rest.starts_with(b"/*") {
                in_comment = true;
                i += 2;
            } else if rest.starts_with(b"<!--") {
                in_comment = true;
                i += 4;
            } else if rest.starts_with(b"--") || rest[0] == b'#' {
                break;
            } else {
                out.push(rest[0]);
                i += 1;
            }
        } else if rest.starts_with(b"*/") || rest.starts_with(b"-->") {
            in_comment = false;
            i += if rest[0] == b'*' { 2 } else { 3 };
            out.push(at(i));
            i += 1;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    out.finish()
}

/// replaceComments: each `/* ... */` becomes one space, as does an
/// unterminated `/*` and everything after it.
pub(super) fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let n = input.len();
    let mut out = Out::new(input);
    let mut in_comment = false;
    let mut i = 0;
    while i < n {
        let rest = &input[i..];
        if !in_comment && rest.starts_with(b"/*") {
            in_comment = true;
            i += 2;
        } else if !in_comment {
            out.push(rest[0]);
            i += 1;
        } else if rest.starts_with(b"*/") {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    out.finish()
}

/// removeCommentsChar: drops the comment markers `/*`, `*/`, `<!--`, `-->`,
/// `--` and `#`, keeping what is between them.
pub(super) fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    const MARKERS: [&[u8]; 6] = [b"/*", b"*/", b"<!--", b"-->", b"--", b"#"];
    let mut out = Out::new(input);
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        match MARKERS.iter().find(|m| rest.starts_with(m)) {
            Some(m) => i += m.len(),
            None => {
                out.push(rest[0]);
                i += 1;
            }
        }
    }
    out.finish()
}

/// trim / trimLeft / trimRight on C-locale whitespace; always a borrow.
pub(super) fn trim(input: &[u8], left: bool, right: bool) -> Cow<'_, [u8]> {
    let mut s = input;
    if right {
        let end = s.iter().rposition(|&b| !is_c_space(b)).map_or(0, |p| p + 1);
        s = &s[..end];
    }
    if left {
        let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
        s = &s[start..];
    }
    Cow::Borrowed(s)
}

/// Which parity*7bit transformation.
#[derive(Clone, Copy)]
pub(super) enum Parity {
    Even,
    Odd,
    Zero,
}

/// parityEven7bit / parityOdd7bit set the high bit so the byte has even/odd
/// parity over its low seven bits; parityZero7bit clears it.
pub(super) fn parity(input: &[u8], kind: Parity) -> Cow<'_, [u8]> {
    let mut out = Out::new(input);
    for &b in input {
        // ModSecurity folds all eight bits, so an input high bit counts.
        let odd = b.count_ones() % 2 == 1;
        let high = match kind {
            Parity::Even => odd,
            Parity::Odd => !odd,
            Parity::Zero => false,
        };
        out.push(if high { b | 0x80 } else { b & 0x7f });
    }
    out.finish()
}

/// normalizePath / normalizePathWin: a transcription of libmodsecurity's
/// `normalize_path_inplace`. Removes `.` segments, resolves `..` (kept when
/// a relative path climbs above its start), collapses `//`, and keeps a
/// trailing `/` only when the input had one. The Windows flavour treats
/// `\` as `/` (but see the lazy-conversion quirk below).
pub(super) fn normalize_path(input: &[u8], win: bool) -> Cow<'_, [u8]> {
    let slash = |b: u8| b == b'/' || (win && b == b'\\');
    // Without a separator the value is one segment, which changes only
    // when it ends in `.` (`.`, `x..`): dotted values (`19.99`, mail
    // addresses) pass untouched without the walk below.
    if !input.iter().any(|&b| slash(b)) && input.last() != Some(&b'.') {
        return Cow::Borrowed(input);
    }
    let at = |i: usize| match input[i] {
        b'\\' if win => b'/',
        b => b,
    };
    let end = input.len() - 1;
    let relative = at(0) != b'/';
    let trailing = at(end) == b'/';
    let mut out = Out::new(input);
    let mut src = 0;
    let mut hit_root = false;
    let mut done = false;
    while !done && src <= end {
        let top = src;
        // Segments are only examined at their last byte.
        let at_segment_end = if src == end {
            done = true;
            true
        } else {
            at(src + 1) == b'/'
        };
        if at_segment_end && !(src != end && at(src) == b'/') {
            let dst = out.len();
            if at(src) == b'.' {
                if dst > 0 && out.get(dst - 1) == b'.' {
                    // `..`: drop it with the previous segment, unless a
                    // relative path has nothing left to climb.
                    if !(relative && (hit_root || dst <= 2)) {
                        let mut d = dst as isize - 3;
                        while d > 0 && out.get(d as usize) != b'/' {
                            d -= 1;
                        }
                        if d <= 0 {
                            hit_root = true;
                            d = if !relative && src == end { 1 } else { 0 };
                        }
                        out.truncate(d as usize);
                        if done {
                            continue;
                        }
                        src += 1;
                    } else {
                        hit_root = true;
                    }
                } else if dst == 0 {
                    // `.` at the start of a relative path.
                    if done {
                        continue;
                    }
                    src += 1;
                } else if out.get(dst - 1) == b'/' {
                    // `/.`: drop the self reference.
                    if done {
                        continue;
                    }
                    out.truncate(dst - 1);
                    src += 1;
                }
            } else if dst > 0 {
                hit_root = false;
            }
        }
        if at(src) == b'/' {
            while src < end && at(src + 1) == b'/' {
                src += 1;
            }
            if relative && out.len() == 0 {
                src += 1;
                continue;
            }
        }
        // C converts `\` lazily, at the current and the next byte only: the
        // last separator of a run of three or more keeps a raw `\`.
        out.push(if src > top + 1 { input[src] } else { at(src) });
        src += 1;
    }
    if !trailing && out.last() == Some(b'/') {
        out.pop();
    }
    out.finish()
}
